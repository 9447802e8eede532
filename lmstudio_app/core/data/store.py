"""The HDF5 token store (tokens.h5): a streaming writer and a reader.

Layout, readable with h5py or h5dump:
  /train/tokens, /val/tokens          token ids (uint16 below 65,536 pieces, else uint32), chunked
  /train/doc_offsets, /val/doc_offsets int64, n_documents + 1 entries: document i is
                                      tokens[offsets[i]:offsets[i + 1]]
and attributes on the root: format_version, vocab_size, tokenizer_sha256, tokenizer_kind,
sources (JSON), special_ids (JSON), val_fraction, corpus_options (JSON), and per split the counts
of tokens, characters and documents (train_tokens, val_chars, ...).

The writer keeps at most one buffer of tokens per split in memory, so memory does not grow with
the corpus, and writes to a temporary name that replaces the target only when complete. HDF5
writes through a guard (`_GuardedFile`): a full disk is noticed and reported as one line, and
HDF5 itself never sees the failed write (after one, the library cannot close the file and the
process dies at exit). h5py files are opened and closed inside each reader call: a file must be
used in the thread that opened it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import UserError
from ..util.atomic import atomic_path
from ..util.disk import ensure_space, no_space, storage_error

FORMAT_VERSION = 1
SPLITS = ("train", "val")
_CHUNK = 1 << 18  # tokens per HDF5 chunk (512 KB of uint16)
_FLUSH_TOKENS = 1 << 20  # tokens buffered per split before they are appended to the file
_JSON_ATTRS = (
    "sources", "special_ids", "corpus_options", "tokenizer_spec", "prepare_fingerprint",
    "val_sources", "split",
)
_SPACE_MARGIN = 256 << 10  # bytes kept free beyond a flush, for HDF5's metadata
_READ_BLOCK = 1 << 22  # tokens read at a time when documents are read back


class _GuardedFile(io.RawIOBase):
    """The file HDF5 writes through (h5py's file-object driver). The first failed write is kept
    and every later write is accepted and dropped, so HDF5 stays able to close the file; the
    writer checks `failed` after each flush and reports it."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "w+b", buffering=0)  # noqa: SIM115 - closed by close()
        self.failed: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._fh.seek(pos, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, buffer: Any) -> int:
        return self._fh.readinto(buffer) or 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.failed is None:
            try:
                done = 0
                while done < len(view):  # a short write: the next one says why
                    n = self._fh.write(view[done:])
                    if not n:
                        raise OSError(errno.ENOSPC, "No space left on device")
                    done += n
            except OSError as exc:
                self.failed = exc
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        try:
            return self._fh.truncate(size)
        except OSError as exc:
            self.failed = self.failed or exc
            return size or 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            try:
                if self.failed is None:
                    os.fsync(self._fh.fileno())
            except OSError as exc:
                self.failed = exc
            self._fh.close()
        super().close()



def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size < 65536 else np.uint32)


class _SplitWriter:
    """Appends documents to one split: a token buffer flushed to a resizable dataset."""

    def __init__(self, group: h5py.Group, dtype: np.dtype) -> None:
        self.tokens = group.create_dataset(
            "tokens", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_CHUNK,)
        )
        self.offsets = group.create_dataset(
            "doc_offsets", shape=(1,), maxshape=(None,), dtype=np.int64, chunks=(1 << 14,)
        )
        self.dtype = dtype
        self._parts: list[np.ndarray] = []
        self._ends: list[int] = []
        self._buffered = 0
        self.n_tokens = 0  # written and buffered
        self.n_chars = 0
        self.n_documents = 0
        self.doc_chars: list[int] = []  # characters of each document, for a re-split

    def add(self, ids: Sequence[int] | np.ndarray, n_chars: int) -> None:
        arr = np.asarray(ids, dtype=self.dtype)
        self._parts.append(arr)
        self._buffered += arr.size
        self.n_tokens += arr.size
        self.n_chars += n_chars
        self.n_documents += 1
        self.doc_chars.append(int(n_chars))
        self._ends.append(self.n_tokens)

    @property
    def pending_bytes(self) -> int:
        return self._buffered * self.dtype.itemsize + len(self._ends) * 8

    def flush(self) -> None:
        if self._parts:
            data = np.concatenate(self._parts)
            start = self.tokens.shape[0]
            self.tokens.resize((start + data.size,))
            self.tokens[start:] = data
        if self._ends:
            start = self.offsets.shape[0]
            self.offsets.resize((start + len(self._ends),))
            self.offsets[start:] = np.asarray(self._ends, dtype=np.int64)
        self._parts, self._ends, self._buffered = [], [], 0


class TokenStoreWriter:
    """Streams documents into a new tokens.h5; use as a context manager.

        with TokenStoreWriter(path, vocab_size=tok.vocab_size, attrs={...}) as w:
            w.add("train", ids, n_chars=len(text))

    On leaving the block the file replaces `path`, unless the block raised or called
    `discard()`. A full disk raises a StorageError ("no space left on ...: N needed"), with
    `expected_bytes()` (when given) as the size needed; the old `path` is left as it was.
    """

    def __init__(self, path: Path, vocab_size: int, attrs: dict[str, Any] | None = None,
                 expected_bytes: Callable[[], int] | None = None) -> None:
        self.path = Path(path)
        self.vocab_size = int(vocab_size)
        self.dtype = token_dtype(self.vocab_size)
        self._attrs = dict(attrs or {})
        self._expected = expected_bytes
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._guard: _GuardedFile | None = None
        self._file: h5py.File | None = None
        self._splits: dict[str, _SplitWriter] = {}
        self._order = bytearray()  # the split of each document, in the order they came
        self._discard = False

    def __enter__(self) -> TokenStoreWriter:
        self._atomic = atomic_path(self.path, parents=False)
        tmp = self._atomic.__enter__()
        self._tmp = tmp
        self._guard = _GuardedFile(tmp)
        self._file = h5py.File(self._guard, "w")
        for split in SPLITS:
            self._splits[split] = _SplitWriter(self._file.create_group(split), self.dtype)
        return self

    def add(self, split: str, ids: Sequence[int] | np.ndarray, n_chars: int) -> None:
        """Append one document's token ids (and the count of characters they encode)."""
        if split not in self._splits:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        writer = self._splits[split]
        writer.add(ids, n_chars)
        self._order.append(SPLITS.index(split))
        if writer._buffered >= _FLUSH_TOKENS:
            self._flush(writer)

    def _flush(self, writer: _SplitWriter) -> None:
        # Refuse before HDF5 writes what cannot fit; the guard catches what this misses.
        needed = writer.pending_bytes + _SPACE_MARGIN
        try:
            ensure_space(self._tmp, needed)
        except UserError:
            raise self._full() from None
        writer.flush()
        self._check()

    def _written(self) -> int:
        try:
            return self._tmp.stat().st_blocks * 512
        except OSError:
            return 0

    def _full(self, exc: BaseException | None = None) -> UserError:
        needed = max(self._expected() if self._expected else 0,
                     self._written() + sum(w.pending_bytes for w in self._splits.values()))
        err = storage_error(exc, self.path, needed) if exc is not None else None
        return err or no_space(self.path, needed)

    def _check(self) -> None:
        if self._guard is not None and self._guard.failed is not None:
            raise self._full(self._guard.failed)

    def counts(self) -> dict[str, int]:
        """Documents so far per split."""
        return {s: self._splits[s].n_documents for s in SPLITS}

    def token_counts(self) -> dict[str, int]:
        """Tokens so far per split."""
        return {s: self._splits[s].n_tokens for s in SPLITS}

    def documents(self, split: str) -> Iterator[tuple[np.ndarray, int]]:
        """(ids, characters) of each document written to `split` so far, read back."""
        writer = self._splits[split]
        self._flush(writer)
        offsets = writer.offsets[()]
        tokens = writer.tokens
        block_start, block = 0, np.zeros(0, dtype=self.dtype)
        for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
            if b > block_start + len(block):
                block_start = int(a)
                block = tokens[block_start:max(int(b), block_start + _READ_BLOCK)]
            yield block[a - block_start:b - block_start], writer.doc_chars[i]

    def documents_in_order(self) -> Iterator[tuple[np.ndarray, int]]:
        """(ids, characters) of every document written so far, in the order they came."""
        readers = [self.documents(split) for split in SPLITS]
        for which in self._order:
            yield next(readers[which])

    def set_attrs(self, **attrs: Any) -> None:
        """Attributes to write with the file (JSON for dicts and lists)."""
        self._attrs.update(attrs)

    def discard(self) -> None:
        """Leave `path` as it is: the file being written is removed on exit."""
        self._discard = True

    def _finish(self) -> None:
        assert self._file is not None
        for split in self._splits.values():
            self._flush(split)
        attrs = self._file.attrs
        attrs["format_version"] = FORMAT_VERSION
        attrs["vocab_size"] = self.vocab_size
        for name, value in self._attrs.items():
            is_json = name in _JSON_ATTRS or isinstance(value, (dict, list, tuple))
            attrs[name] = json.dumps(value) if is_json else value
        for name, split in self._splits.items():
            attrs[f"{name}_tokens"] = split.n_tokens
            attrs[f"{name}_chars"] = split.n_chars
            attrs[f"{name}_documents"] = split.n_documents

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._file is not None and self._atomic is not None and self._guard is not None
        keep = exc is None and not self._discard
        error: BaseException | None = None
        if keep:
            try:
                self._finish()
            except BaseException as caught:  # noqa: BLE001 - raised below, after clean-up
                error = caught
        try:
            self._file.close()
            self._guard.close()
        except Exception as caught:  # noqa: BLE001
            error = error or caught
        self._file = None
        if keep and error is None and self._guard.failed is not None:
            error = self._full(self._guard.failed)
        if keep and error is None:
            self._atomic.__exit__(None, None, None)  # the file replaces `path`
            return
        # The temporary file goes; `path` stays as it was.
        dropped = exc if exc is not None else error if error is not None else _Discarded()
        self._atomic.__exit__(type(dropped), dropped, dropped.__traceback__)
        if error is not None:
            raise error


class _Discarded(Exception):
    """Thrown into the atomic write to drop the file (never escapes)."""


def _native(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class TokenStore:
    """A finished tokens.h5. Attributes are read once; token arrays on each call."""

    def __init__(self, path: Path, attrs: dict[str, Any]) -> None:
        self.path = path
        self._attrs = attrs

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TokenStore:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: no token store here; prepare the data first.")
        try:
            with h5py.File(path, "r") as f:
                attrs = {k: _native(v) for k, v in f.attrs.items()}
                names = [f"{s}/{d}" for s in SPLITS for d in ("tokens", "doc_offsets")]
                missing = [f"/{n}" for n in names if n not in f]
        except OSError as exc:
            raise UserError(
                f"{path}: not a readable HDF5 file ({exc}); prepare the data again."
            ) from None
        if "format_version" not in attrs or missing:
            raise UserError(
                f"{path}: an HDF5 file but not a token store"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + "; prepare the data again."
            )
        if attrs["format_version"] > FORMAT_VERSION:
            raise UserError(
                f"{path}: token store format {attrs['format_version']} is newer than this "
                f"program reads ({FORMAT_VERSION}); update the program or prepare again."
            )
        for name in _JSON_ATTRS:
            if isinstance(attrs.get(name), str):
                attrs[name] = json.loads(attrs[name])
        return cls(path, attrs)

    @staticmethod
    def _check_split(split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")

    def tokens(self, split: str) -> np.ndarray:
        """The whole split in memory, in the stored dtype."""
        self._check_split(split)
        with h5py.File(self.path, "r") as f:
            tokens: np.ndarray = f[split]["tokens"][()]
            return tokens

    def doc_offsets(self, split: str) -> np.ndarray:
        """int64 offsets: document i is tokens[offsets[i]:offsets[i + 1]]."""
        self._check_split(split)
        with h5py.File(self.path, "r") as f:
            offsets: np.ndarray = f[split]["doc_offsets"][()]
            return offsets

    def documents(self, split: str) -> list[np.ndarray]:
        """Token ids of each document of a split (views into one array)."""
        tokens = self.tokens(split)
        offsets = self.doc_offsets(split)
        return [tokens[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    def n_tokens(self, split: str) -> int:
        self._check_split(split)
        return int(self._attrs[f"{split}_tokens"])

    def n_chars(self, split: str) -> int:
        self._check_split(split)
        return int(self._attrs[f"{split}_chars"])

    def n_documents(self, split: str) -> int:
        self._check_split(split)
        return int(self._attrs[f"{split}_documents"])

    def digest(self) -> str:
        """sha256 (hex) of what training reads: the vocabulary size, the tokenizer's digest and
        each split's document offsets and token ids, read _READ_BLOCK tokens at a time. Equal
        for two stores with the same tokens, wherever and whenever they were prepared (the
        sources' paths and times are not in it)."""
        h = hashlib.sha256(f"{self.vocab_size}:{self.tokenizer_sha256}".encode())
        with h5py.File(self.path, "r") as f:
            for split in SPLITS:
                for name in ("doc_offsets", "tokens"):
                    data = f[split][name]
                    h.update(f"{split}/{name}:{data.dtype.str}:{data.shape[0]}".encode())
                    for lo in range(0, data.shape[0], _READ_BLOCK):
                        h.update(np.ascontiguousarray(data[lo:lo + _READ_BLOCK]).tobytes())
        return h.hexdigest()

    @property
    def vocab_size(self) -> int:
        return int(self._attrs["vocab_size"])

    @property
    def tokenizer_sha256(self) -> str:
        return str(self._attrs.get("tokenizer_sha256", ""))

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self._attrs.get("sources", []))

    @property
    def special_ids(self) -> dict[str, int]:
        return dict(self._attrs.get("special_ids", {}))

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._attrs)

    def __repr__(self) -> str:
        return (
            f"TokenStore({str(self.path)!r}, train_tokens={self.n_tokens('train')}, "
            f"val_tokens={self.n_tokens('val')})"
        )
