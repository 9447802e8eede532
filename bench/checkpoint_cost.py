"""What committing checkpoints as one unit costs: the time of a save (files fsynced, manifest
committed, files moved into place) and the memory of a long run that saves often.

A tiny GPT trains 3,000 steps on the bundled corpus, saving every 10 steps; the script prints
the resident memory every 1,000 steps and the median and slowest save. It prints, never asserts.

    .venv/bin/python bench/checkpoint_cost.py [--steps 3000] [--every 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmstudio_app.core.config import build_run_config  # noqa: E402
from lmstudio_app.core.data.prepare import PrepareConfig, prepare  # noqa: E402
from lmstudio_app.core.data.samples import sample_corpus  # noqa: E402
from lmstudio_app.core.data.tokenizer import TokenizerSpec  # noqa: E402
from lmstudio_app.core.runs import checkpoint  # noqa: E402
from lmstudio_app.core.training.sinks import MetricsSink, StepMetrics  # noqa: E402
from lmstudio_app.core.training.trainer import Trainer  # noqa: E402
from lmstudio_app.core.util.units import human_bytes  # noqa: E402


def rss() -> int:
    """Resident memory of this process, in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


class Watch(MetricsSink):
    def __init__(self) -> None:
        self.rows: list[tuple[int, int]] = []

    def step(self, m: StepMetrics) -> None:
        if m.step % 1000 == 0:
            self.rows.append((m.step, rss()))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--every", type=int, default=10)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="checkpoint-cost-"))
    data = prepare(PrepareConfig(sources=[str(sample_corpus())], out_dir=str(root / "data"),
                                 tokenizer=TokenizerSpec("unigram", 2000))).out_dir
    cfg = build_run_config("clm", "tiny", 2000, {
        "n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64, "batch_size": 8,
        "max_steps": args.steps, "eval_interval": 1000, "eval_batches": 2, "log_interval": 100,
        "checkpoint_interval": args.every, "device": "cpu"}, data_dir=str(data))
    saves: list[float] = []
    original = checkpoint.save_checkpoint

    def timed(*a, **k):  # noqa: ANN002, ANN003, ANN202
        start = time.perf_counter()
        original(*a, **k)
        saves.append(time.perf_counter() - start)

    checkpoint.save_checkpoint = timed
    watch = Watch()
    start = rss()
    result = Trainer(cfg, root / "run", watch).run()
    print(f"{result.reason} at step {result.step}; {len(saves)} checkpoints")
    size = sum(p.stat().st_size for p in (root / "run").glob("*.safetensors"))
    size += (root / "run" / "state.pt").stat().st_size
    print(f"checkpoint files: {human_bytes(size)} (weights, best, state)")
    print(f"save: median {statistics.median(saves) * 1000:.1f} ms, slowest "
          f"{max(saves) * 1000:.1f} ms")
    print(f"resident memory: start {human_bytes(start)}")
    for step, value in watch.rows:
        print(f"  step {step:>6}: {human_bytes(value)}")
    if len(watch.rows) >= 2:
        (s0, m0), (s1, m1) = watch.rows[0], watch.rows[-1]
        print(f"growth: {human_bytes((m1 - m0) / max(s1 - s0, 1) * 1000)} per 1,000 steps")


if __name__ == "__main__":
    main()
