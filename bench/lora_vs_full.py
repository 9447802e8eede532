"""LoRA against full fine-tuning: a sentiment classifier on the bundled set, both ways.

A GPT is pretrained on the bundled Austen corpus (or --base RUN, an existing pretrained run),
then fine-tuned on resources/labeled/sentiment.csv twice per seed with the same split, budget
and seed: every weight (full), and LoRA adapters with the task head (r, alpha from the flags).
Printed per seed and as mean ± sd: test accuracy, trainable parameters, the checkpoint's size
and the training time. The issue's check: LoRA within a few points of full fine-tuning. This
script prints the figures; it never asserts.

    python bench/lora_vs_full.py                 # ~10 minutes on 2 CPU cores
    python bench/lora_vs_full.py --base runs/<a pretrained GPT run> --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data.labeled import sample_sentiment_path
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.lora_config import LoraSettings
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import MetricsSink
from lmstudio_app.core.training.trainer import Trainer

CORPUS = Path(__file__).resolve().parents[1] / "resources" / "corpus"


def pretrain(root: Path, steps: int) -> Path:
    """A small GPT pretrained on the bundled corpus."""
    data = prepare(PrepareConfig(sources=[str(CORPUS)], out_dir=str(root / "data"),
                                 tokenizer=TokenizerSpec(kind="unigram", vocab_size=2000))).out_dir
    cfg = build_run_config("clm", "tiny", 2000, {
        "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128, "batch_size": 16,
        "max_steps": steps, "eval_interval": steps, "sample_prompt": ""},
        data_dir=str(data))
    print(f"pretraining {steps} steps on {CORPUS} ...", flush=True)
    result = Trainer(cfg, root / "base", MetricsSink()).run()
    if result.reason != "completed":
        raise SystemExit(f"pretraining failed: {result.error}")
    return root / "base"


def finetune(base: Path, out: Path, seed: int, lora: LoraSettings | None, lr: float,
             epochs: float) -> dict[str, float]:
    ft = FinetuneConfig(task="classify", train_file=str(sample_sentiment_path()),
                        base_run=str(base))
    cfg = make_finetune_config(ft, overrides={"seed": seed, "learning_rate": lr,
                                              "num_train_epochs": epochs, "max_steps": None,
                                              "eval_interval": None})
    cfg.lora = lora
    cfg.validate()
    start = time.monotonic()
    result = Trainer(cfg, out, MetricsSink()).run()
    if result.reason != "completed":
        raise SystemExit(f"fine-tuning failed: {result.error}")
    report = runs.read_file(out, runs.RESULTS)
    return {"accuracy": float(report["accuracy"]), "seconds": time.monotonic() - start,
            "checkpoint_mb": (out / runs.WEIGHTS).stat().st_size / 1e6}


def _summary(name: str, rows: list[dict[str, float]]) -> None:
    acc = [r["accuracy"] for r in rows]
    sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
    seconds = statistics.mean(r["seconds"] for r in rows)
    print(f"{name:<6} accuracy {statistics.mean(acc):.4f} ± {sd:.4f}   checkpoint "
          f"{rows[0]['checkpoint_mb']:.2f} MB   time {seconds:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, help="a pretrained GPT run (default: pretrain one)")
    p.add_argument("--pretrain-steps", type=int, default=1500)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--r", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--full-lr", type=float, default=5e-4)
    p.add_argument("--lora-lr", type=float, default=3e-3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = args.base or pretrain(root, args.pretrain_steps)
        table: dict[str, list[dict[str, float]]] = {"full": [], "lora": []}
        for seed in range(1, args.seeds + 1):
            for name in ("full", "lora"):
                lora = LoraSettings(r=args.r, lora_alpha=args.alpha) if name == "lora" else None
                lr = args.lora_lr if lora else args.full_lr
                row = finetune(base, root / f"{name}-{seed}", seed, lora, lr, args.epochs)
                table[name].append(row)
                print(f"seed {seed} {name:<5} accuracy {row['accuracy']:.4f}  "
                      f"checkpoint {row['checkpoint_mb']:.2f} MB  {row['seconds']:.0f} s",
                      flush=True)
        print(f"\nsentiment.csv, {args.seeds} seeds, {args.epochs:g} epochs (at least 300 steps: "
              f"the fine-tuning budget's floor); LoRA r={args.r} "
              f"alpha={args.alpha:g} lr {args.lora_lr:g}, full lr {args.full_lr:g}")
        for name, rows in table.items():
            _summary(name, rows)
        gap = statistics.mean(r["accuracy"] for r in table["full"]) - \
            statistics.mean(r["accuracy"] for r in table["lora"])
        print(f"full - LoRA: {gap:+.4f} accuracy")


if __name__ == "__main__":
    main()
