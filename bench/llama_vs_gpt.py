"""Time to loss on the CPU: the `llama` architecture (AdamW, then Muon) against the `gpt` one.

One prepared store (Austen's novels, one unigram tokenizer), the `tiny` preset of each
architecture (GPT: 4 layers, width 96, learned positions, LayerNorm, GELU; Llama: the same
depth and width, RoPE, RMSNorm, SwiGLU, 2 key/value heads), the same batch, window, schedule and
evaluations, each trained by the real Trainer (the path of `lmstudio-app pretrain`), one after
the other in this process. The gpt run's validation loss at its last step is the target; for
each llama run the wall time at which its validation curve first reaches it (linear between
evaluations) over the gpt run's whole time is the ratio. The issue's bar: at most 0.6 (goal
0.5); the preset's default optimizer is the one with the lower ratio.

Wall times include the evaluations (the same number for each run). The machine's load average
is printed before and after each run: on a shared machine the ratios move with it.

It prints (a markdown table of both curves for the README); it never asserts.

    python bench/llama_vs_gpt.py [--steps 600] [--eval-interval 50] [--batch-size 16]
        [--block-size 128] [--vocab 2000] [--max-bytes 2000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AUSTEN = Path("/work/shared/data/austen")


@dataclass
class Curve:
    label: str
    points: list[tuple[int, float, float]] = field(default_factory=list)  # step, s, val loss
    seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def prepare_store(work: Path, vocab: int, max_bytes: int) -> Path:
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec

    sources = sorted(AUSTEN.glob("*.txt"))
    if not sources:
        from lmstudio_app.core.data.samples import sample_corpus_files

        sources = [f for f in sample_corpus_files() if f.suffix == ".txt"]
    text = "\n\n".join(f.read_text(encoding="utf-8", errors="replace") for f in sources)
    corpus = work / "corpus.txt"
    corpus.write_text(text[:max_bytes], encoding="utf-8")
    cfg = PrepareConfig(sources=[str(corpus)], out_dir=str(work / "data"),
                        tokenizer=TokenizerSpec(kind="unigram", vocab_size=vocab),
                        val_fraction=0.05)
    return prepare(cfg).out_dir


def train(data: Path, out: Path, arch: str, optimizer: str | None,
          a: argparse.Namespace) -> Curve:
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.training.sinks import RecordingSink
    from lmstudio_app.core.training.trainer import Trainer

    class Timed(RecordingSink):
        def __init__(self, curve: Curve) -> None:
            super().__init__()
            self.curve, self.start = curve, time.monotonic()

        def evaluation(self, m):  # noqa: ANN001, ANN202
            super().evaluation(m)
            self.curve.points.append((m.step, time.monotonic() - self.start, m.val_loss))

    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    overrides = {"max_steps": a.steps, "eval_interval": a.eval_interval, "eval_batches": 8,
                 "log_interval": 50, "sample_prompt": "", "keep_checkpoints": 0,
                 "batch_size": a.batch_size, "block_size": a.block_size}
    if optimizer:
        overrides["optimizer"] = optimizer
    cfg = build_run_config("clm", "tiny", vocab, overrides, data_dir=str(data), arch=arch)
    curve = Curve(f"{arch} ({cfg.train.optimizer})")
    before = os.getloadavg()[0]
    sink = Timed(curve)
    result = Trainer(cfg, out, sink).run()
    assert result.reason == "completed", sink.failure
    curve.seconds = time.monotonic() - sink.start
    curve.load = (before, os.getloadavg()[0])
    return curve


def time_to(curve: Curve, target: float) -> float | None:
    """Seconds at which the curve first reaches `target` (linear between evaluations)."""
    prev = (0, 0.0, float("inf"))
    for point in curve.points:
        if point[2] <= target:
            if prev[2] == float("inf"):
                return point[1]
            frac = (prev[2] - target) / (prev[2] - point[2])
            return prev[1] + frac * (point[1] - prev[1])
        prev = point
    return None


def report(curves: list[Curve]) -> None:
    gpt = curves[0]
    target = gpt.points[-1][2]
    print(f"\ntarget: the gpt run's validation loss at step {gpt.points[-1][0]}: {target:.4f} "
          f"(reached in {gpt.seconds:.1f} s)\n")
    print("| run | time to target (s) | ratio to gpt | final val loss | wall (s) | load avg |")
    print("|---|---|---|---|---|---|")
    for c in curves:
        t = time_to(c, target)
        ratio = f"{t / gpt.seconds:.2f}" if t is not None else "not reached"
        print(f"| {c.label} | {t:.1f} | {ratio} | {c.points[-1][2]:.4f} | {c.seconds:.1f} | "
              f"{c.load[0]:.1f} -> {c.load[1]:.1f} |" if t is not None else
              f"| {c.label} | - | {ratio} | {c.points[-1][2]:.4f} | {c.seconds:.1f} | "
              f"{c.load[0]:.1f} -> {c.load[1]:.1f} |")
    print("\nValidation loss (time in s) at each evaluation:\n")
    print("| step | " + " | ".join(c.label for c in curves) + " |")
    print("|---|" + "---|" * len(curves))
    for i, point in enumerate(gpt.points):
        cells = [f"{c.points[i][2]:.3f} ({c.points[i][1]:.0f})" if i < len(c.points) else "-"
                 for c in curves]
        print(f"| {point[0]} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-interval", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--vocab", type=int, default=2000)
    p.add_argument("--max-bytes", type=int, default=2_000_000)
    a = p.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = prepare_store(work, a.vocab, a.max_bytes)
        curves = []
        for i, (arch, opt) in enumerate((("gpt", None), ("llama", "adamw"), ("llama", "muon"))):
            curves.append(train(data, work / f"run{i}", arch, opt, a))
            print(f"{curves[-1].label}: {curves[-1].seconds:.1f} s, final val loss "
                  f"{curves[-1].points[-1][2]:.4f}", flush=True)
    report(curves)


if __name__ == "__main__":
    main()
