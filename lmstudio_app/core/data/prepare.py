"""Corpus -> tokenizer.model + tokens.h5 (+ prepare.json), streamed, reusable, cancellable.

Two passes over the corpus: the first trains the tokenizer on a bounded, deterministic sample of
documents; the second encodes every document (in one process per core, a batch at a time, while
the next batches are read, `encode_pool`) into the token store, the same one whatever the number
of processes. The split into training and validation tokens follows
`token_split`: whole documents by a hash of their text and the seed when that comes near the
share asked for, else a token range of every document; or the user's own validation files.

A second prepare over unchanged sources (path, size, mtime) with the same settings reuses both
files. A cancelled or failed prepare (a full disk included) leaves the previous files as they
were and no partial ones. One prepare at a time writes a folder (a lock in it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..presets import PRESETS
from ..util.atomic import atomic_write_json, new_temporary, remove_temporaries
from ..util.disk import storage
from ..util.lock import FolderLock
from .columnar import check_shards
from .corpus import CorpusOptions, corpus_size, discover, read_documents, text_size
from .encode_pool import EncodePool, default_workers
from .layout import LOCK, STORE, SUMMARY, TOKENIZER
from .store import FORMAT_VERSION, TokenStore, TokenStoreWriter, token_dtype
from .text import TextNotes
from .token_split import near, resplit, too_small, unit_hash, window_problems
from .token_split import split_of as split_of  # the whole-document rule, for callers and tests
from .tokenizer import EmptyCorpusError, Tokenizer, TokenizerSpec, train_tokenizer

STAGES = ("scan", "tokenizer", "encode", "done")

_BATCH_CHARS = 2_000_000  # text per encode batch: two batches are in memory at a time
_BATCH_DOCS = 4096
_PROGRESS_INTERVAL_S = 0.1
# The window a split is checked against: the default preset's (prepare knows no model yet).
DEFAULT_BLOCK_SIZE = PRESETS["tiny"]["model"]["block_size"]


class PrepareCancelled(Exception):
    """Raised by prepare() when its cancel event is set; nothing partial is left behind."""


@dataclass
class PrepareConfig:
    sources: list[str]
    out_dir: str
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)
    corpus: CorpusOptions = field(default_factory=CorpusOptions)
    val_fraction: float = 0.05  # unused when val_sources are given
    seed: int = 1337
    val_sources: list[str] = field(default_factory=list)  # the user's own validation corpus
    # Encoding processes (0: one per core); the store is the same whatever the number.
    workers: int = 0

    def validate(self) -> None:
        if not self.sources:
            raise UserError("no corpus given: name at least one text file or folder.",
                            field="sources")
        if not self.out_dir:
            raise UserError("no output folder given: name where the prepared data goes.",
                            field="out_dir")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise UserError(f"seed {self.seed}: choose a whole number from 0 to 2**63 - 1.",
                            field="seed")
        if not 0.0 < self.val_fraction <= 0.5:
            raise UserError(
                f"val fraction {self.val_fraction}: choose a value above 0 and at most 0.5 "
                "(for example 0.05).", field="val_fraction", option="0.05"
            )
        if not (isinstance(self.workers, int) and self.workers >= 0):
            raise UserError(f"workers {self.workers}: choose a whole number of processes, 1 or "
                            "more (0: one per core).", field="workers", option="0")
        self.tokenizer.validate()
        self.corpus.validate()


@dataclass
class PrepareProgress:
    stage: str  # "scan" | "tokenizer" | "encode" | "done"
    files_done: int
    files_total: int
    bytes_done: int  # bytes of the files read from disk in this stage
    bytes_total: int
    elapsed_s: float  # since prepare() started
    stage_elapsed_s: float = 0.0  # since this stage started

    @property
    def bytes_per_s(self) -> float | None:
        """Read rate of this stage, in bytes per second; None before any byte is read."""
        if self.stage_elapsed_s <= 0 or self.bytes_done <= 0:
            return None
        return self.bytes_done / self.stage_elapsed_s

    @property
    def eta_s(self) -> float | None:
        """Seconds left in this stage at the current rate (the tokenizer's own training, after
        its sample has been read, has no estimate)."""
        rate = self.bytes_per_s
        if rate is None or self.bytes_total <= 0 or self.stage not in ("tokenizer", "encode"):
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / rate)

    @property
    def fraction(self) -> float:
        return min(1.0, self.bytes_done / self.bytes_total) if self.bytes_total else 0.0


@dataclass
class PrepareResult:
    out_dir: Path
    tokenizer_path: Path
    store_path: Path
    reused: bool
    train_tokens: int
    val_tokens: int
    train_documents: int
    val_documents: int
    vocab_size: int
    split_method: str = "documents"  # token_split.METHODS
    split_reason: str = ""
    warnings: list[str] = field(default_factory=list)  # what a person should know


class _Reporter:
    """Counts files and bytes, and calls the callback at most ~10 times a second."""

    def __init__(self, callback: Callable[[PrepareProgress], None] | None, total: int,
                 n_files: int) -> None:
        self.callback = callback
        self.start = self.stage_start = time.monotonic()
        self.last = 0.0
        self.stage = "scan"
        self.bytes_total = total
        self.files_total = n_files
        self.bytes_done = 0
        self.files_done = 0
        self.tokens_written = 0

    def begin(self, stage: str) -> None:
        if self.stage in ("tokenizer", "encode"):
            self.emit(force=True)  # the last figures of the stage that ends
        self.stage = stage
        self.stage_start = time.monotonic()
        if stage == "done":
            self.bytes_done, self.files_done = self.bytes_total, self.files_total
        else:
            self.bytes_done = self.files_done = 0
        self.emit(force=True)

    def add_bytes(self, n: int) -> None:
        self.bytes_done += n
        self.emit()

    def file_done(self) -> None:
        self.files_done += 1
        self.emit()

    def emit(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last < _PROGRESS_INTERVAL_S:
            return
        self.last = now
        self.callback(PrepareProgress(
            stage=self.stage, files_done=self.files_done, files_total=self.files_total,
            bytes_done=self.bytes_done, bytes_total=self.bytes_total,
            elapsed_s=now - self.start, stage_elapsed_s=now - self.stage_start,
        ))


def _source_key(path: Path) -> str:
    return str(path.resolve())


def _describe_sources(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        st = path.stat()
        out.append({"path": _source_key(path), "size": st.st_size, "mtime": st.st_mtime})
    return out


def _fingerprint(cfg: PrepareConfig, sources: list[dict[str, Any]],
                 val_sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the prepared files depend on; equal fingerprints mean the files can be reused."""
    data = {
        "format_version": FORMAT_VERSION,
        "sources": sources,
        "val_sources": val_sources,
        "tokenizer_spec": cfg.tokenizer.to_dict(),
        "corpus_options": cfg.corpus.to_dict(),
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
    }
    round_trip: dict[str, Any] = json.loads(json.dumps(data))  # as read back from the file
    return round_trip


def _split_warnings(tokens: dict[str, int], val_fraction: float | None) -> list[str]:
    return [f"{advice} (checked against the default preset's block_size)"
            for _split, advice in window_problems(tokens, DEFAULT_BLOCK_SIZE + 1,
                                                  DEFAULT_BLOCK_SIZE, val_fraction)]


def _result(out: Path, store: TokenStore, reused: bool) -> PrepareResult:
    split = store.attrs.get("split") or {}
    tokens = {s: store.n_tokens(s) for s in ("train", "val")}
    summary_path = out / SUMMARY
    notes = []
    if summary_path.is_file():
        with contextlib.suppress(OSError, ValueError):
            notes = list(json.loads(summary_path.read_text("utf-8")).get("notes", []))
    val_fraction = None if split.get("method") == "files" else store.attrs.get("val_fraction")
    return PrepareResult(
        out_dir=out,
        tokenizer_path=out / TOKENIZER,
        store_path=out / STORE,
        reused=reused,
        train_tokens=tokens["train"],
        val_tokens=tokens["val"],
        train_documents=store.n_documents("train"),
        val_documents=store.n_documents("val"),
        vocab_size=store.vocab_size,
        split_method=str(split.get("method", "documents")),
        split_reason=str(split.get("reason", "")),
        warnings=notes + _split_warnings(tokens, val_fraction),
    )


def _reusable(out: Path, fingerprint: dict[str, Any]) -> TokenStore | None:
    tok_path, store_path = out / TOKENIZER, out / STORE
    if not (tok_path.is_file() and store_path.is_file()):
        return None
    try:
        store = TokenStore.open(store_path)
        if store.attrs.get("prepare_fingerprint") != fingerprint:
            return None
        if hashlib.sha256(tok_path.read_bytes()).hexdigest() != store.tokenizer_sha256:
            return None
    except (UserError, OSError):
        return None
    return store


def prepare(
    cfg: PrepareConfig,
    progress: Callable[[PrepareProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> PrepareResult:
    """Build (or reuse) OUT/tokenizer.model, OUT/tokens.h5 and OUT/prepare.json.

    Raises UserError for a corpus that cannot be read (file and line), a folder that cannot be
    written, a full disk (what is needed, on which device), or a folder another prepare holds;
    PrepareCancelled when `cancel` is set. In every case the previous files stay as they were.
    """
    cfg.validate()
    cancel = cancel or threading.Event()
    out = Path(cfg.out_dir).expanduser()

    files = discover(cfg.sources, cfg.corpus)
    val_files = discover(cfg.val_sources, cfg.corpus) if cfg.val_sources else []
    check_shards(files + val_files, cfg.corpus.text_field)
    sources = _describe_sources(files)
    val_sources = _describe_sources(val_files)
    total = corpus_size(files + val_files)
    rep = _Reporter(progress, total, len(files) + len(val_files))
    rep.begin("scan")
    fingerprint = _fingerprint(cfg, sources, val_sources)
    store = _reusable(out, fingerprint)
    if store is not None:
        rep.begin("done")
        return _result(out, store, reused=True)

    created = not out.exists()
    with storage(out / STORE):
        out.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(out, LOCK, "data folder")
    try:
        lock.acquire()
        remove_temporaries(out)  # left by a prepare that was killed
        tok, notes = _build(cfg, out, files, val_files, sources, val_sources, fingerprint, rep,
                            cancel)
    except BaseException:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # a failed first prepare leaves no trace (only when empty)
        raise
    try:
        store = TokenStore.open(out / STORE)
        _write_summary(out, cfg, tok, store, rep, notes)
    finally:
        lock.release()
    result = _result(out, store, reused=False)
    rep.begin("done")
    return result


def _build(cfg: PrepareConfig, out: Path, files: list[Path], val_files: list[Path],
           sources: list[dict[str, Any]], val_sources: list[dict[str, Any]],
           fingerprint: dict[str, Any], rep: _Reporter,
           cancel: threading.Event) -> tuple[Tokenizer, list[str]]:
    """Both passes, under the folder's lock: the tokenizer, then the store (replacing the old
    one only when complete), then the tokenizer moved into place."""

    def check_cancel() -> None:
        _raise_if_cancelled(cancel)

    tok_tmp = new_temporary(out / TOKENIZER)
    try:
        tok = _tokenizer_pass(cfg, files, sources, rep, cancel, tok_tmp)
        check_cancel()

        # Pass 2: encode everything into the store, then settle the split.
        rep.begin("encode")
        notes = TextNotes()
        attrs = _store_attrs(cfg, tok, sources, val_sources, fingerprint)
        estimate = _size_estimate(rep, token_dtype(tok.vocab_size).itemsize)
        with TokenStoreWriter(out / STORE, tok.vocab_size, attrs, estimate) as w:
            _encode_all(files, "train" if val_files else None, cfg, tok, w, rep, check_cancel,
                        notes)
            if val_files:
                _encode_all(val_files, "val", cfg, tok, w, rep, check_cancel, notes)
                w.set_attrs(split={"method": "files", "reason": "validation files given"})
            else:
                _settle_split(w, out, tok, attrs, cfg, estimate)
        with storage(out / TOKENIZER):
            os.replace(tok_tmp, out / TOKENIZER)
    finally:
        tok_tmp.unlink(missing_ok=True)
    return tok, notes.lines()


def _raise_if_cancelled(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise PrepareCancelled("prepare cancelled")


def _tokenizer_pass(cfg: PrepareConfig, files: list[Path], sources: list[dict[str, Any]],
                    rep: _Reporter, cancel: threading.Event, tok_tmp: Path) -> Tokenizer:
    """Pass 1: the tokenizer, trained into `tok_tmp` from a deterministic sample spread over
    the training corpus. Raises PrepareCancelled when cancelled, UserError when every document
    is empty."""
    rep.begin("tokenizer")
    keep = min(1.0, cfg.tokenizer.sample_bytes / max(sum(map(text_size, files)), 1))
    n_sampled = 0

    def sample() -> Iterator[str]:
        nonlocal n_sampled
        for path, key in zip(files, (s["path"] for s in sources), strict=True):
            for ordinal, doc in enumerate(read_documents(path, cfg.corpus, rep.add_bytes)):
                if cancel.is_set():
                    return  # the trainer finishes on what it has; the caller then raises
                if keep >= 1.0 or unit_hash("sample", cfg.seed, key, ordinal) < keep:
                    n_sampled += 1
                    yield doc
            rep.file_done()

    try:
        return train_tokenizer(sample(), cfg.tokenizer, tok_tmp)
    except Exception as exc:
        _raise_if_cancelled(cancel)
        if isinstance(exc, EmptyCorpusError) and n_sampled == 0:
            raise UserError(
                f"{', '.join(map(str, cfg.sources))}: the corpus holds no text (every "
                "document is empty); add text files."
            ) from None
        raise


def _settle_split(w: TokenStoreWriter, out: Path, tok: Tokenizer, attrs: dict[str, Any],
                  cfg: PrepareConfig, estimate: Callable[[], int]) -> None:
    """Without validation files: keep the whole-document split when its share is near the
    asked one (or the corpus is too small to do better), else split again (`_resplit`)."""
    counts = w.token_counts()
    total = counts["train"] + counts["val"]
    if near(counts["train"], counts["val"], cfg.val_fraction) or \
            too_small(total, cfg.val_fraction):
        share = counts["val"] / total if total else 0.0
        w.set_attrs(split={"method": "documents", "reason": (
            f"whole documents by hash: validation {share:.1%} of the tokens")})
    else:
        _resplit(w, out, tok, attrs, cfg, estimate)


def _resplit(w: TokenStoreWriter, out: Path, tok: Tokenizer, attrs: dict[str, Any],
             cfg: PrepareConfig, estimate: Callable[[], int]) -> None:
    """Write the store again with a split near the share (`token_split.resplit`); the
    whole-document layout being written is dropped."""

    with TokenStoreWriter(out / STORE, tok.vocab_size, attrs, estimate) as again:
        method, reason = resplit(w.documents_in_order, again.add, tok.decode,
                                 cfg.val_fraction, cfg.seed)
        again.set_attrs(split={"method": method, "reason": reason})
    w.discard()


def _size_estimate(rep: _Reporter, itemsize: int) -> Callable[[], int]:
    """The store's expected size from what is written so far and the share of the corpus read
    (for the message of a full disk)."""
    def estimate() -> int:
        done = rep.bytes_done / rep.bytes_total if rep.bytes_total else 0.0
        return 0 if done <= 0 else int(rep.tokens_written * itemsize / min(done, 1.0))
    return estimate


def _store_attrs(cfg: PrepareConfig, tok: Tokenizer, sources: list[dict[str, Any]],
                 val_sources: list[dict[str, Any]],
                 fingerprint: dict[str, Any]) -> dict[str, Any]:
    names = ("pad", "unk", "bos", "eos", "mask", "cls", "sep")
    return {
        "tokenizer_sha256": tok.sha256,
        "tokenizer_kind": tok.kind,
        "tokenizer_spec": cfg.tokenizer.to_dict(),
        "sources": sources,
        "val_sources": val_sources,
        "special_ids": {n: i for i, n in enumerate(names)} | {"newline": tok.newline_id},
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
        "corpus_options": cfg.corpus.to_dict(),
        "prepare_fingerprint": fingerprint,
    }


def _encode_all(
    files: list[Path],
    split: str | None,
    cfg: PrepareConfig,
    tok: Tokenizer,
    writer: TokenStoreWriter,
    rep: _Reporter,
    check_cancel: Callable[[], None],
    notes: TextNotes,
) -> None:
    """Encode in `cfg.workers` processes (`encode_pool`) while this thread reads the next
    batches and writes the finished ones in order: the store is the same whatever the number
    of workers, and at most two batches per worker are in memory.

    Every document goes to `split`, or (None) to the split its text's hash picks."""
    pool: EncodePool[tuple[list[str], list[int]]] = EncodePool(
        tok, cfg.workers or default_workers(), token_dtype(tok.vocab_size))
    for (splits, n_chars), ids_list in pool.encode(
            _batches(files, split, cfg, rep, check_cancel, notes)):
        for ids, where, n in zip(ids_list, splits, n_chars, strict=True):
            writer.add(where, ids, n)
            rep.tokens_written += len(ids)
    check_cancel()


def _batches(files: list[Path], split: str | None, cfg: PrepareConfig, rep: _Reporter,
             check_cancel: Callable[[], None], notes: TextNotes
             ) -> Iterator[tuple[list[str], tuple[list[str], list[int]]]]:
    """(texts, (each one's split, each one's length)) of about _BATCH_CHARS characters."""
    texts: list[str] = []
    splits: list[str] = []
    chars = 0
    for path in files:
        for doc in read_documents(path, cfg.corpus, rep.add_bytes, notes):
            texts.append(doc)
            splits.append(split or split_of(doc, cfg.seed, cfg.val_fraction))
            chars += len(doc)
            if chars >= _BATCH_CHARS or len(texts) >= _BATCH_DOCS:
                check_cancel()
                yield texts, (splits, [len(t) for t in texts])
                texts, splits, chars = [], [], 0
        rep.file_done()
    if texts:
        check_cancel()
        yield texts, (splits, [len(t) for t in texts])


def _write_summary(out: Path, cfg: PrepareConfig, tok: Tokenizer, store: TokenStore,
                   rep: _Reporter, notes: list[str]) -> None:
    """prepare.json: what was prepared from what, for a person reading the folder."""
    split = dict(store.attrs.get("split") or {})
    total = store.n_tokens("train") + store.n_tokens("val")
    split["val_share"] = round(store.n_tokens("val") / total, 4) if total else 0.0
    summary = {
        "format_version": FORMAT_VERSION,
        "sources": store.sources,
        "val_sources": store.attrs.get("val_sources", []),
        "tokenizer": {
            "file": TOKENIZER,
            "kind": tok.kind,
            "vocab_size": tok.vocab_size,
            "sha256": tok.sha256,
            "spec": cfg.tokenizer.to_dict(),
        },
        "store": STORE,
        "corpus_options": cfg.corpus.to_dict(),
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
        "split": split,
        "splits": {
            s: {
                "documents": store.n_documents(s),
                "tokens": store.n_tokens(s),
                "chars": store.n_chars(s),
                "chars_per_token": round(store.n_chars(s) / max(store.n_tokens(s), 1), 3),
            }
            for s in ("train", "val")
        },
        "notes": notes,
        "warnings": _split_warnings({s: store.n_tokens(s) for s in ("train", "val")},
                                    None if split.get("method") == "files"
                                    else cfg.val_fraction),
        "seconds": round(time.monotonic() - rep.start, 2),
        "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_json(out / SUMMARY, summary, parents=False)


def load_summary(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The prepare.json of a prepared folder."""
    path = Path(out_dir) / SUMMARY
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; prepare the data first.") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable ({exc}); prepare the data again.") from None
    return summary
