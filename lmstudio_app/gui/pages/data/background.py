"""What the Data page runs in BackgroundJobs: plain Python over the engine, in worker threads.

Counting a source's documents and characters and reading the start of a file for the preview
are the engine's (core.data.inspect); here they are told as jobs. Preparing the token store
(core.data.prepare), then cutting a sample sentence into its pieces.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....core.data.corpus import CorpusOptions
from ....core.data.inspect import (
    CountCancelled,
    SourceCounts,
    count_source,
    sample_sentence,
)
from ...jobs import JobCancelled


def count_in_job(path: str, options: CorpusOptions, cancel: threading.Event) -> SourceCounts:
    """core.data.inspect.count_source, its cancellation told as a job's (JobCancelled)."""
    try:
        return count_source(path, options, cancel)
    except CountCancelled:
        raise JobCancelled from None


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
