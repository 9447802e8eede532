"""Training throughput on nanoGPT's CPU example shape, eager and compiled.

The "baby" shape: character vocabulary, 4 layers, 4 heads, width 128, block 64, batch 12, no
dropout. It runs the real Trainer (the same path as `lmstudio-app pretrain`) and prints tokens
per second and milliseconds per step, measured after a warm-up. It prints; it never asserts.

    python bench/train_throughput.py [--steps 300] [--device auto] [--corpus FILE] [--no-compile]

For orientation: nanoGPT's train.py ran this shape at about 48 ms per iteration (about 15,800
tokens/s, eager) on a 2-core machine; compare in one sitting, machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer


def measure(data: Path, steps: int, device: str, compile_: bool, work: Path) -> dict:
    overrides = {"max_steps": steps, "log_interval": 10, "eval_interval": steps,
                 "eval_batches": 1, "sample_prompt": "", "device": device,
                 "compile": compile_}
    vocab = prepare_vocab(data)
    cfg = build_run_config("clm", "baby", vocab, overrides, data_dir=str(data))
    sink = RecordingSink()
    run_dir = work / f"run-{'compiled' if compile_ else 'eager'}"
    result = Trainer(cfg, run_dir, sink).run()
    if result.reason != "completed":
        raise SystemExit(f"training failed: {sink.failure}")
    # Skip the first windows: allocation, compilation and cache warm-up.
    windows = [m.tokens_per_s for m in sink.steps][3:]
    tps = statistics.median(windows)
    tokens_per_step = cfg.train.batch_size * cfg.model.block_size
    return {"tokens_per_s": tps, "ms_per_step": 1000 * tokens_per_step / tps,
            "device": sink.info.get("device"), "parameters": sink.info.get("parameters"),
            "final_loss": sink.steps[-1].loss}


def prepare_vocab(data: Path) -> int:
    from lmstudio_app.core.data.tokenizer import Tokenizer

    return Tokenizer.load(data / "tokenizer.model").vocab_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--corpus", help="text file(s) to train on (default: the sample corpus)")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = args.corpus or str(sample_corpus())
        result = prepare(PrepareConfig(sources=[corpus], out_dir=str(work / "data"),
                                       tokenizer=TokenizerSpec(kind="char", vocab_size=400)))
        print(f"corpus {corpus}: {result.train_tokens:,} train characters, "
              f"vocabulary {result.vocab_size}")
        modes = [False] if args.no_compile else [False, True]
        for compile_ in modes:
            r = measure(result.out_dir, args.steps, args.device, compile_, work)
            label = "compiled" if compile_ else "eager"
            print(f"{label:>8}: {r['tokens_per_s']:>9,.0f} tokens/s  {r['ms_per_step']:6.1f} "
                  f"ms/step  ({r['parameters'] / 1e6:.2f}M parameters, {r['device']}, "
                  f"loss {r['final_loss']:.3f} after {args.steps} steps)")


if __name__ == "__main__":
    main()
