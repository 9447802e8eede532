"""`prepare`: corpora -> SentencePiece tokenizer -> HDF5 token store, with a progress line; and
`demo`, the sample pipeline on the bundled corpus."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from ..core.util.units import format_duration, human_bytes, human_rate
from .args import add_encoding, count, seed, val_share, vocab_size
from .console import ProgressLine

_STAGES = {"scan": "scanning", "tokenizer": "training tokenizer", "encode": "encoding"}


def add_prepare_arguments(s: argparse.ArgumentParser) -> None:
    from ..core.data.tokenizer import KINDS

    s.add_argument("sources", nargs="+", metavar="corpus",
                   help="files or folders (.txt .md .jsonl .csv .tsv, .gz or .zst; .parquet "
                        "files and folders of shards; datasets saved with save_to_disk)")
    s.add_argument("--out", dest="out_dir", required=True, metavar="DATA_DIR",
                   help="folder for the store")
    s.add_argument("--tokenizer", dest="kind", choices=KINDS, default="unigram")
    s.add_argument("--vocab-size", type=vocab_size, default=8000, metavar="N")
    s.add_argument("--val-fraction", type=val_share, default=0.05, metavar="F",
                   help="share of the tokens held out for validation (default 0.05)")
    s.add_argument("--val-files", dest="val_sources", nargs="+", default=[], metavar="FILE",
                   help="your own validation corpus (files or folders) instead of a share")
    s.add_argument("--seed", type=seed, default=1337, metavar="S",
                   help="which documents (or ranges) go to validation")
    s.add_argument("--text-field", default="text", metavar="NAME",
                   help="JSONL field or CSV/TSV/Parquet column holding the text (default: text)")
    s.add_argument("--workers", type=count, default=0, metavar="N",
                   help="encoding processes (default 0: one per core); the store is the same "
                        "whatever the number")
    add_encoding(s)
    s.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="in folders, only files matching this pattern (repeatable)")
    s.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="in folders, skip files matching this pattern (repeatable)")


def _progress() -> Callable[[Any], None]:
    bar = ProgressLine()

    def show(p: Any) -> None:
        if p.stage == "done":
            bar.clear()
            return
        bar.update(
            p.fraction,
            f"{_STAGES.get(p.stage, p.stage)}: files {p.files_done}/{p.files_total} "
            f"{human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)} "
            f"{human_rate(p.bytes_per_s)} ETA {format_duration(p.eta_s)}",
        )

    return show


def run_prepare(args: argparse.Namespace) -> int:
    from ..core.data.corpus import CorpusOptions
    from ..core.data.prepare import PrepareConfig, prepare
    from ..core.data.tokenizer import TokenizerSpec

    cfg = PrepareConfig(
        sources=list(args.sources),
        out_dir=args.out_dir,
        tokenizer=TokenizerSpec(kind=args.kind, vocab_size=args.vocab_size),
        corpus=CorpusOptions(text_field=args.text_field, encoding=args.encoding,
                             include=tuple(args.include), exclude=tuple(args.exclude),
                             delimiter=args.delimiter, quoting=args.quoting),
        val_fraction=args.val_fraction,
        val_sources=list(args.val_sources),
        seed=args.seed,
        workers=args.workers,
    )
    start = time.perf_counter()
    result = prepare(cfg, progress=_progress())
    took = time.perf_counter() - start
    verb = "reused" if result.reused else f"wrote in {took:.1f} s"
    print(
        f"{result.out_dir}: {verb}; vocabulary {result.vocab_size}, "
        f"train {result.train_tokens:,} tokens ({result.train_documents} documents), "
        f"val {result.val_tokens:,} tokens ({result.val_documents} documents)"
    )
    total = result.train_tokens + result.val_tokens
    share = result.val_tokens / total if total else 0.0
    print(f"split: {_METHODS.get(result.split_method, result.split_method)}, validation "
          f"{share:.1%} of the tokens ({result.split_reason})")
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0


_METHODS = {"documents": "whole documents", "token-range": "a token range of each document",
            "files": "the validation files given"}
