"""prepare --workers benchmark: encode throughput and peak memory by number of worker processes.

The corpus is the bundled sample text repeated into a temporary folder until it reaches the size
asked for (1 GB by default; `ingest.build_corpus`). Each (size, workers) runs prepare() in a
fresh process into its own folder; the figures are the encode stage's rate (the stage workers
share out; the tokenizer is trained on the same bounded sample whatever their number), the
whole prepare's time, and the peak memory of the process tree: the largest sum of the RSS of
the process and its workers seen every 50 ms (psutil), over the whole prepare (the tokenizer's
training included) and over the encode stage alone, and getrusage's high-water mark of the main
process. The stores are compared byte for byte. Targets: >= 1.7x the
one-worker encode rate with 2 workers, and a peak that does not grow with the corpus. This
script prints; it never asserts.

    python bench/prepare_workers.py                          # 1 GB; 1 and 2 workers
    python bench/prepare_workers.py --size-mb 100 400 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ingest import build_corpus


def _tree_rss_mb() -> float:
    """RSS of this process and its children, in MB (0 without psutil)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # a worker that just ended
            pass
    return total / 2**20


def child(args: argparse.Namespace) -> None:
    from lmstudio_app.core.data.prepare import PrepareConfig, PrepareProgress, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec

    peak: dict[str, float] = {}  # per stage
    stage_start: dict[str, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            stage = next(reversed(stage_start), "scan")
            peak[stage] = max(peak.get(stage, 0.0), _tree_rss_mb())

    def on_progress(p: PrepareProgress) -> None:
        stage_start.setdefault(p.stage, p.elapsed_s)

    cfg = PrepareConfig(sources=[args.corpus], out_dir=args.out,
                        tokenizer=TokenizerSpec(args.kind, args.vocab_size),
                        workers=args.workers[0])
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    result = prepare(cfg, progress=on_progress)
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    digest = hashlib.sha256()
    with open(result.store_path, "rb") as fh:
        while block := fh.read(1 << 24):
            digest.update(block)
    print(json.dumps({
        "seconds": seconds,
        "encode_s": stage_start.get("done", 0) - stage_start.get("encode", 0),
        "tokens": result.train_tokens + result.val_tokens,
        "tree_peak_mb": max(peak.values(), default=0.0),
        "encode_peak_mb": peak.get("encode", 0.0),
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "store_sha256": digest.hexdigest(),
    }))


def _run(corpus: Path, out: Path, workers: int, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "--corpus", str(corpus), "--out", str(out),
           "--workers", str(workers), "--kind", args.kind, "--vocab-size", str(args.vocab_size)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    row: dict[str, float] = json.loads(done.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, nargs="+", default=[1024],
                        help="corpus sizes in MB (default: 1024)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kind", default="unigram")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"prepare --workers benchmark: {args.kind}, vocab {args.vocab_size}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'MB':>7} {'workers':>7} {'total s':>8} {'enc s':>7} {'enc MB/s':>8} {'speed-up':>8} "
          f"{'tree peak MB':>12} {'encode MB':>9} {'main MB':>8}  store")
    peaks: dict[int, list[tuple[float, float]]] = {}
    for mb in args.size_mb:
        with tempfile.TemporaryDirectory(prefix="prepare-workers-") as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            size = build_corpus(corpus, mb) / 1e6
            base_rate = first_sha = None
            for workers in args.workers:
                row = _run(corpus, Path(tmp) / f"out{workers}", workers, args)
                rate = size / row["encode_s"] if row["encode_s"] else float("nan")
                base_rate = base_rate or rate
                first_sha = first_sha or row["store_sha256"]
                peaks.setdefault(workers, []).append((size, row["encode_peak_mb"]))
                same = "same" if row["store_sha256"] == first_sha else "DIFFERENT"
                print(f"{size:7.0f} {workers:7d} {row['seconds']:8.1f} {row['encode_s']:7.1f} "
                      f"{rate:8.2f} {rate / base_rate:7.2f}x {row['tree_peak_mb']:12.0f} "
                      f"{row['encode_peak_mb']:9.0f} {row['self_peak_mb']:8.0f}  {same}",
                      flush=True)
    for workers, rows in peaks.items():
        if len(rows) > 1:
            (small, p0), (big, p1) = min(rows), max(rows)
            print(f"{workers} worker(s): encode-stage peak at {big:.0f} MB is {p1 / p0 - 1:+.1%} "
                  f"against {small:.0f} MB")
    print(f"targets: >= 1.7x with 2 workers, peak flat in the corpus size; load average now "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")


if __name__ == "__main__":
    main()
