"""Ingest benchmark: prepare() over a large corpus; prints throughput and peak memory.

The corpus is the bundled sample corpus repeated into a temporary folder until it reaches the
size asked for. Each size runs in a fresh process, so its peak resident memory (the RSS
high-water mark, from getrusage) is its own. Targets: at least 5 MB/s on 2 cores, a peak under
1 GB that stays within 20% of the 50 MB run's peak. This script prints; it never asserts.

    python bench/ingest.py                 # 50 MB and 200 MB
    python bench/ingest.py --mb 500 --kind bpe --vocab-size 16000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_corpus(folder: Path, mb: float) -> int:
    """Copies of the sample novels, one file per copy, until `mb` megabytes; returns bytes."""
    from lmstudio_app.core.data.samples import sample_corpus_files

    text = "".join(p.read_text("utf-8") for p in sample_corpus_files())
    block = text.encode("utf-8")
    target = int(mb * 1e6)
    written = i = 0
    while written < target:
        part = block[: target - written] if target - written < len(block) else block
        (folder / f"part{i:05d}.txt").write_bytes(part)
        written += len(part)
        i += 1
    return written


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace) -> None:
    from lmstudio_app.core.data.prepare import PrepareConfig, PrepareProgress, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec

    with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        size = build_corpus(corpus, args.mb)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stage_start: dict[str, float] = {}

        def on_progress(p: PrepareProgress) -> None:
            stage_start.setdefault(p.stage, p.elapsed_s)

        cfg = PrepareConfig(sources=[str(corpus)], out_dir=str(Path(tmp) / "out"),
                            tokenizer=TokenizerSpec(args.kind, args.vocab_size))
        t0 = time.perf_counter()
        cpu0 = _cpu_seconds()
        result = prepare(cfg, progress=on_progress)
        seconds = time.perf_counter() - t0
        cpu_s = _cpu_seconds() - cpu0
        t1 = time.perf_counter()
        again = prepare(cfg)
        reuse_s = time.perf_counter() - t1
        print(json.dumps({
            "mb": size / 1e6,
            "seconds": seconds,
            "cpu_s": cpu_s,
            "tokenizer_s": stage_start.get("encode", 0) - stage_start.get("tokenizer", 0),
            "encode_s": stage_start.get("done", 0) - stage_start.get("encode", 0),
            "tokens": result.train_tokens + result.val_tokens,
            "documents": result.train_documents + result.val_documents,
            "reused": again.reused,
            "reuse_s": reuse_s,
            "rss_before_mb": rss_before / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[50, 200],
                        help="corpus sizes in MB (default: 50 200)")
    parser.add_argument("--kind", default="unigram")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mb = args.mb[0]
        child(args)
        return

    print(f"ingest benchmark: {args.kind}, vocab {args.vocab_size}, {os.cpu_count()} cores")
    print(f"{'MB':>7} {'total s':>8} {'MB/s':>6} {'tok s':>6} {'enc s':>6} {'enc MB/s':>8} "
          f"{'CPU s':>6} {'tokens':>11} {'peak RSS MB':>11} {'reuse s':>7}")
    rows = []
    for mb in args.mb:
        cmd = [sys.executable, __file__, "--child", "--mb", str(mb), "--kind", args.kind,
               "--vocab-size", str(args.vocab_size)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        enc_rate = row["mb"] / row["encode_s"] if row["encode_s"] else float("nan")
        print(f"{row['mb']:7.1f} {row['seconds']:8.1f} {row['mb'] / row['seconds']:6.2f} "
              f"{row['tokenizer_s']:6.1f} {row['encode_s']:6.1f} {enc_rate:8.2f} "
              f"{row['cpu_s']:6.1f} {row['tokens']:11,d} {row['peak_rss_mb']:11.0f} "
              f"{row['reuse_s']:7.2f}",
              flush=True)
    if len(rows) > 1:
        small = min(rows, key=lambda r: r["mb"])
        big = max(rows, key=lambda r: r["mb"])
        growth = big["peak_rss_mb"] / small["peak_rss_mb"] - 1
        print(f"peak RSS at {big['mb']:.0f} MB is {growth:+.1%} against {small['mb']:.0f} MB "
              "(target: within 20%, under 1024 MB)")
    print("targets: >= 5 MB/s on 2 cores; load average now "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")


if __name__ == "__main__":
    main()
