"""The HDF5 token store (tokens.h5): a streaming writer and a reader.

Layout, readable with h5py or h5dump:
  /train/tokens, /val/tokens          token ids (uint16 below 65,536 pieces, else uint32), chunked
  /train/doc_offsets, /val/doc_offsets int64, n_documents + 1 entries: document i is
                                      tokens[offsets[i]:offsets[i + 1]]
and attributes on the root: format_version, vocab_size, tokenizer_sha256, tokenizer_kind,
sources (JSON), special_ids (JSON), val_fraction, corpus_options (JSON), and per split the counts
of tokens, characters and documents (train_tokens, val_chars, ...).

The writer keeps at most one buffer of tokens per split in memory, so memory does not grow with
the corpus, and writes to a temporary name that replaces the target only when complete.
h5py files are opened and closed inside each reader call: a file must be used in the thread that
opened it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import UserError
from ..util.atomic import atomic_path

FORMAT_VERSION = 1
SPLITS = ("train", "val")
_CHUNK = 1 << 18  # tokens per HDF5 chunk (512 KB of uint16)
_FLUSH_TOKENS = 1 << 20  # tokens buffered per split before they are appended to the file
_JSON_ATTRS = (
    "sources", "special_ids", "corpus_options", "tokenizer_spec", "prepare_fingerprint"
)


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

    def add(self, ids: Sequence[int] | np.ndarray, n_chars: int) -> None:
        arr = np.asarray(ids, dtype=self.dtype)
        self._parts.append(arr)
        self._buffered += arr.size
        self.n_tokens += arr.size
        self.n_chars += n_chars
        self.n_documents += 1
        self._ends.append(self.n_tokens)
        if self._buffered >= _FLUSH_TOKENS:
            self.flush()

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

    Each split holds back its latest document until the next one arrives, so that at the end a
    split left empty can take one document from the other (when that one has at least two):
    with two or more documents, both splits are never empty.

        with TokenStoreWriter(path, vocab_size=tok.vocab_size, attrs={...}) as w:
            w.add("train", ids, n_chars=len(text))
    """

    def __init__(self, path: Path, vocab_size: int, attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.vocab_size = int(vocab_size)
        self.dtype = token_dtype(self.vocab_size)
        self._attrs = dict(attrs or {})
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._file: h5py.File | None = None
        self._splits: dict[str, _SplitWriter] = {}
        self._held: dict[str, tuple[np.ndarray, int] | None] = {s: None for s in SPLITS}

    def __enter__(self) -> TokenStoreWriter:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._file = h5py.File(tmp, "w")
        for split in SPLITS:
            self._splits[split] = _SplitWriter(self._file.create_group(split), self.dtype)
        return self

    def add(self, split: str, ids: Sequence[int] | np.ndarray, n_chars: int) -> None:
        """Append one document's token ids (and the count of characters they encode)."""
        if split not in self._splits:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        arr = np.asarray(ids, dtype=self.dtype)
        held = self._held[split]
        if held is not None:
            self._splits[split].add(*held)
        self._held[split] = (arr, int(n_chars))

    def counts(self) -> dict[str, int]:
        """Documents so far per split (held documents included)."""
        return {
            s: self._splits[s].n_documents + (self._held[s] is not None) for s in SPLITS
        }

    def _release_held(self) -> None:
        counts = self.counts()
        for split, other in (("val", "train"), ("train", "val")):
            if counts[split] == 0 and counts[other] >= 2:
                self._held[split], self._held[other] = self._held[other], None
                counts[split], counts[other] = 1, counts[other] - 1
        for split in SPLITS:
            held = self._held[split]
            if held is not None:
                self._splits[split].add(*held)
                self._held[split] = None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._file is not None and self._atomic is not None
        try:
            if exc_type is None:
                self._release_held()
                for split in self._splits.values():
                    split.flush()
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
        finally:
            self._file.close()
            self._file = None
            # On an error the temporary file is removed; on success it replaces the target.
            self._atomic.__exit__(exc_type, exc, tb)


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
            return f[split]["tokens"][()]

    def doc_offsets(self, split: str) -> np.ndarray:
        """int64 offsets: document i is tokens[offsets[i]:offsets[i + 1]]."""
        self._check_split(split)
        with h5py.File(self.path, "r") as f:
            return f[split]["doc_offsets"][()]

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
