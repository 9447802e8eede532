"""Corpus -> tokenizer.model + tokens.h5 (+ prepare.json), streamed, reusable, cancellable.

Two passes over the corpus: the first trains the tokenizer on a bounded, deterministic sample of
documents; the second encodes every document (on every core, a batch at a time, while the next
batch is read) into the token store. Which split a document goes to depends only on its source
path, its ordinal in that file and the seed, so the split is the same on every run.

A second prepare over unchanged sources (path, size, mtime) with the same settings reuses both
files. A cancelled or failed prepare leaves the previous files as they were and no partial ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..util.atomic import atomic_write_json
from .corpus import CorpusOptions, corpus_size, discover, read_documents
from .layout import STORE, SUMMARY, TOKENIZER
from .store import FORMAT_VERSION, TokenStore, TokenStoreWriter, token_dtype
from .tokenizer import EmptyCorpusError, Tokenizer, TokenizerSpec, train_tokenizer

STAGES = ("scan", "tokenizer", "encode", "done")

_BATCH_CHARS = 2_000_000  # text per encode batch: two batches are in memory at a time
_BATCH_DOCS = 4096
_PROGRESS_INTERVAL_S = 0.1


class PrepareCancelled(Exception):
    """Raised by prepare() when its cancel event is set; nothing partial is left behind."""


@dataclass
class PrepareConfig:
    sources: list[str]
    out_dir: str
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)
    corpus: CorpusOptions = field(default_factory=CorpusOptions)
    val_fraction: float = 0.05
    seed: int = 1337

    def validate(self) -> None:
        if not self.sources:
            raise UserError("no corpus given: name at least one text file or folder.",
                            field="sources")
        if not self.out_dir:
            raise UserError("no output folder given: name where the prepared data goes.",
                            field="out_dir")
        if not 0.0 < self.val_fraction <= 0.5:
            raise UserError(
                f"val fraction {self.val_fraction}: choose a value above 0 and at most 0.5 "
                "(for example 0.05).", field="val_fraction", option="0.05"
            )
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


def _unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    key = "\x00".join(str(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def split_of(document: str, seed: int, val_fraction: float) -> str:
    """"val" or "train" for a document, from its text and the seed alone.

    Not from where the file lies: the same corpus copied or moved splits the same way, and
    copies of one document (a repeated post, a file listed twice) never straddle the splits.
    """
    return "val" if _unit_hash("split", seed, document) < val_fraction else "train"


def _source_key(path: Path) -> str:
    return str(path.resolve())


def _describe_sources(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        st = path.stat()
        out.append({"path": _source_key(path), "size": st.st_size, "mtime": st.st_mtime})
    return out


def _text_bytes(files: list[Path]) -> int:
    """Bytes of text in the files: for .gz, the uncompressed size from the gzip trailer (modulo
    4 GiB, as gzip records it), so the tokenizer's sample spreads over the whole corpus."""
    total = 0
    for path in files:
        size = path.stat().st_size
        if path.name.lower().endswith(".gz") and size >= 18:
            with open(path, "rb") as fh:
                fh.seek(-4, os.SEEK_END)
                size = max(size, int.from_bytes(fh.read(4), "little"))
        total += size
    return total


def _fingerprint(cfg: PrepareConfig, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the prepared files depend on; equal fingerprints mean the files can be reused."""
    data = {
        "format_version": FORMAT_VERSION,
        "sources": sources,
        "tokenizer_spec": cfg.tokenizer.to_dict(),
        "corpus_options": cfg.corpus.to_dict(),
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
    }
    return json.loads(json.dumps(data))  # the form it has after a round trip through the file


def _result(out: Path, store: TokenStore, reused: bool) -> PrepareResult:
    return PrepareResult(
        out_dir=out,
        tokenizer_path=out / TOKENIZER,
        store_path=out / STORE,
        reused=reused,
        train_tokens=store.n_tokens("train"),
        val_tokens=store.n_tokens("val"),
        train_documents=store.n_documents("train"),
        val_documents=store.n_documents("val"),
        vocab_size=store.vocab_size,
    )


def _reusable(out: Path, fingerprint: dict[str, Any]) -> TokenStore | None:
    tok_path, store_path = out / TOKENIZER, out / STORE
    if not (tok_path.is_file() and store_path.is_file()):
        return None
    try:
        store = TokenStore.open(store_path)
    except UserError:
        return None
    if store.attrs.get("prepare_fingerprint") != fingerprint:
        return None
    if hashlib.sha256(tok_path.read_bytes()).hexdigest() != store.tokenizer_sha256:
        return None
    return store


def prepare(
    cfg: PrepareConfig,
    progress: Callable[[PrepareProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> PrepareResult:
    """Build (or reuse) OUT/tokenizer.model, OUT/tokens.h5 and OUT/prepare.json."""
    cfg.validate()
    cancel = cancel or threading.Event()
    out = Path(cfg.out_dir).expanduser()

    files = discover(cfg.sources, cfg.corpus)
    sources = _describe_sources(files)
    total = corpus_size(files)
    rep = _Reporter(progress, total, len(files))
    rep.begin("scan")
    fingerprint = _fingerprint(cfg, sources)
    store = _reusable(out, fingerprint)
    if store is not None:
        rep.begin("done")
        return _result(out, store, reused=True)

    def check_cancel() -> None:
        if cancel.is_set():
            raise PrepareCancelled("prepare cancelled")

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{TOKENIZER}.", suffix=".tmp", dir=out)
    os.close(fd)
    tok_tmp = Path(tmp_name)
    try:
        # Pass 1: the tokenizer, from a deterministic sample spread over the whole corpus.
        rep.begin("tokenizer")
        keep = min(1.0, cfg.tokenizer.sample_bytes / max(_text_bytes(files), 1))
        n_sampled = 0

        def sample() -> Iterator[str]:
            nonlocal n_sampled
            for path, key in zip(files, (s["path"] for s in sources), strict=True):
                for ordinal, doc in enumerate(read_documents(path, cfg.corpus, rep.add_bytes)):
                    if cancel.is_set():
                        return  # the trainer finishes on what it has; the caller then raises
                    if keep >= 1.0 or _unit_hash("sample", cfg.seed, key, ordinal) < keep:
                        n_sampled += 1
                        yield doc
                rep.file_done()

        try:
            tok = train_tokenizer(sample(), cfg.tokenizer, tok_tmp)
        except Exception as exc:
            check_cancel()
            if isinstance(exc, EmptyCorpusError) and n_sampled == 0:
                raise UserError(
                    f"{', '.join(map(str, cfg.sources))}: the corpus holds no text (every "
                    "document is empty); add text files."
                ) from None
            raise
        check_cancel()

        # Pass 2: encode everything into the store.
        rep.begin("encode")
        with TokenStoreWriter(out / STORE, tok.vocab_size, _store_attrs(cfg, tok, sources,
                                                                            fingerprint)) as w:
            _encode_all(files, cfg, tok, w, rep, check_cancel)
        os.replace(tok_tmp, out / TOKENIZER)
    except BaseException:
        tok_tmp.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()  # a failed first prepare leaves no trace
        raise

    store = TokenStore.open(out / STORE)
    result = _result(out, store, reused=False)
    _write_summary(out, cfg, tok, store, rep)
    rep.begin("done")
    return result


def _store_attrs(cfg: PrepareConfig, tok: Tokenizer, sources: list[dict[str, Any]],
                 fingerprint: dict[str, Any]) -> dict[str, Any]:
    names = ("pad", "unk", "bos", "eos", "mask", "cls", "sep")
    return {
        "tokenizer_sha256": tok.sha256,
        "tokenizer_kind": tok.kind,
        "tokenizer_spec": cfg.tokenizer.to_dict(),
        "sources": sources,
        "special_ids": {n: i for i, n in enumerate(names)} | {"newline": tok.newline_id},
        "val_fraction": cfg.val_fraction,
        "seed": cfg.seed,
        "corpus_options": cfg.corpus.to_dict(),
        "prepare_fingerprint": fingerprint,
    }


def _encode_all(
    files: list[Path],
    cfg: PrepareConfig,
    tok: Tokenizer,
    writer: TokenStoreWriter,
    rep: _Reporter,
    check_cancel: Callable[[], None],
) -> None:
    """Encode on a helper thread (SentencePiece's batch encode uses every core) while this
    thread reads the next batch and writes the previous one: at most two batches in memory."""
    dtype = token_dtype(tok.vocab_size)

    def encode(texts: list[str]) -> list[np.ndarray]:
        return [np.asarray(ids, dtype=dtype) for ids in tok.encode_batch(texts)]

    texts: list[str] = []
    splits: list[str] = []
    chars = 0
    pending: tuple[Future[list[np.ndarray]], list[str], list[int]] | None = None

    def drain() -> None:
        nonlocal pending
        if pending is not None:
            future, p_splits, p_chars = pending
            pending = None
            for ids, split, n in zip(future.result(), p_splits, p_chars, strict=True):
                writer.add(split, ids, n)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode") as pool:
        try:
            for path in files:
                for doc in read_documents(path, cfg.corpus, rep.add_bytes):
                    texts.append(doc)
                    splits.append(split_of(doc, cfg.seed, cfg.val_fraction))
                    chars += len(doc)
                    if chars >= _BATCH_CHARS or len(texts) >= _BATCH_DOCS:
                        check_cancel()
                        drain()
                        pending = (pool.submit(encode, texts), splits, [len(t) for t in texts])
                        texts, splits, chars = [], [], 0
                rep.file_done()
            if texts:
                check_cancel()
                drain()
                pending = (pool.submit(encode, texts), splits, [len(t) for t in texts])
            drain()
            check_cancel()
        finally:
            if pending is not None:
                pending[0].cancel()


def _write_summary(out: Path, cfg: PrepareConfig, tok: Tokenizer, store: TokenStore,
                   rep: _Reporter) -> None:
    """prepare.json: what was prepared from what, for a person reading the folder."""
    summary = {
        "format_version": FORMAT_VERSION,
        "sources": store.sources,
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
        "splits": {
            s: {
                "documents": store.n_documents(s),
                "tokens": store.n_tokens(s),
                "chars": store.n_chars(s),
                "chars_per_token": round(store.n_chars(s) / max(store.n_tokens(s), 1), 3),
            }
            for s in ("train", "val")
        },
        "seconds": round(time.monotonic() - rep.start, 2),
        "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_json(out / SUMMARY, summary)


def load_summary(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The prepare.json of a prepared folder."""
    path = Path(out_dir) / SUMMARY
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; prepare the data first.") from None


