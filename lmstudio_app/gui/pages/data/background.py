"""What the Data page runs in BackgroundJobs: plain Python over the engine, in worker threads.

Counting a source's documents and characters, reading the start of a file for the preview, and
preparing the token store (core.data.prepare), then cutting a sample sentence into its pieces.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....core.data.corpus import (
    SUPPORTED_SUFFIXES,
    CorpusOptions,
    corpus_size,
    discover,
    file_format,
    read_documents,
)
from ....core.data.text import binary_kind
from ....core.errors import UserError
from ....core.util.units import human_bytes
from ...jobs import JobCancelled

PREVIEW_BYTES = 20 * 1024
SNIFF_BYTES = 8192


@dataclass
class SourceCounts:
    path: str
    files: int = 0
    size: int = 0
    documents: int = 0
    chars: int = 0
    error: str | None = None
    fields: tuple[str, ...] = ()  # the settings the error names (UserError.fields)
    refused: bool = False  # not a corpus source at all (an image, an unsupported type)


def not_text(path: Path) -> str | None:
    """Why the file `path` cannot be a corpus source: a type the corpus reader does not take,
    or bytes that are not text in its first SNIFF_BYTES (core.data.text.binary_kind: a PNG,
    a PDF, a program, NUL bytes outside UTF-16); None for a text file. The head is read
    decompressed for .gz. OSError when the file cannot be read."""
    kinds = " ".join(SUPPORTED_SUFFIXES)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    what = binary_kind(head)
    if what is not None:
        return (f"{path.name} is {what}, not text: a corpus is made of text files ({kinds}, "
                "optionally .gz).")
    if file_format(path) is None:
        return (f"{path.name}: a corpus takes {kinds} files (optionally .gz); rename a text "
                "file to one of these.")
    return None


def count_source(path: str, options: CorpusOptions, cancel: threading.Event) -> SourceCounts:
    """Files, bytes, documents and characters of one source; a user mistake becomes `error`,
    and a file that is no corpus source at all (not_text) is `refused`."""
    out = SourceCounts(path)
    try:
        if Path(path).is_file():
            reason = not_text(Path(path))
            if reason is not None:
                out.error, out.refused = reason, True
                return out
        files = discover([path], options)
        out.files, out.size = len(files), corpus_size(files)
        for f in files:
            for doc in read_documents(f, options):
                if cancel.is_set():
                    raise JobCancelled
                out.documents += 1
                out.chars += len(doc)
    except UserError as exc:
        out.error, out.fields = str(exc), exc.fields
    except OSError as exc:
        out.error = f"{path}: cannot read ({exc.strerror or exc}); check the file's permissions."
    return out


def read_preview(path: str, options: CorpusOptions) -> tuple[str, str]:
    """(the first PREVIEW_BYTES of the source as text, a one-line note about what is shown)."""
    p = Path(path)
    if p.is_dir():
        files = discover([p], options)
        p = files[0]
        note = f"{p.name}, the first of {len(files)} file(s) in this folder"
    else:
        note = p.name
    try:
        reason = not_text(p)
        if reason is not None:  # no screen of binary garbage
            raise UserError(reason)
        opener = gzip.open if p.name.lower().endswith(".gz") else open
        with opener(p, "rb") as fh:
            raw = fh.read(PREVIEW_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{p}: cannot read the file ({exc.strerror or exc}).") from None
    cut = len(raw) > PREVIEW_BYTES
    raw = raw[:PREVIEW_BYTES]
    from ....core.data.text import preview  # the engine's decoding: byte-order marks too

    text = preview(raw, options.encoding)
    if cut:
        note += f" (first {human_bytes(PREVIEW_BYTES)})"
    return text, note


def sample_sentence(sources: list[str], options: CorpusOptions, max_chars: int = 200) -> str:
    """A line of real text from the corpus, cut at a sentence end: what the piece view shows."""
    for f in discover(sources, options):
        for doc in read_documents(f, options):
            for line in doc.split("\n\n"):
                line = " ".join(line.split())
                if len(line) >= 40 and any(c.isalpha() for c in line):
                    m = re.search(r"[.!?](\s|$)", line[40:max_chars])
                    return line[: 40 + m.end()].strip() if m else line[:max_chars]
            break
    return "It is a truth universally acknowledged."


@dataclass
class PrepareSummary:
    out_dir: Path
    reused: bool
    vocab_size: int
    train_tokens: int
    val_tokens: int
    train_documents: int
    val_documents: int
    sample: str = ""
    pieces: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def run_prepare(cfg: Any, sources: list[str], report: Callable[[Any], None],
                cancel: threading.Event) -> PrepareSummary:
    """core.prepare.prepare (it reports ~10 times a second), then the store's figures.

    A cancelled or failed prepare leaves no partial files (the engine cleans up after itself).
    """
    from ....core.data.prepare import PrepareCancelled, prepare
    from ....core.data.tokenizer import Tokenizer

    try:
        result = prepare(cfg, progress=report, cancel=cancel)
    except PrepareCancelled:
        raise JobCancelled from None
    summary = PrepareSummary(
        out_dir=Path(result.out_dir), reused=bool(result.reused), vocab_size=result.vocab_size,
        train_tokens=result.train_tokens, val_tokens=result.val_tokens,
        train_documents=result.train_documents, val_documents=result.val_documents,
    )
    tokenizer = Tokenizer.load(result.tokenizer_path)
    summary.sample = sample_sentence(sources, cfg.corpus)
    summary.ids = tokenizer.encode(summary.sample)
    summary.pieces = tokenizer.pieces(summary.sample)
    return summary


def default_out_name(sources: list[str], kind: str, vocab: int) -> str:
    """A folder name from the first source and the tokenizer, e.g. `austen-unigram-8000`."""
    if not sources:
        return f"corpus-{kind}-{vocab}"
    stem = Path(sources[0]).name.split(".")[0] or "corpus"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "corpus"
    more = f"-and-{len(sources) - 1}" if len(sources) > 1 else ""
    return f"{stem}{more}-{kind}-{vocab}"
