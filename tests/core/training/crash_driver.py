"""A tiny pretraining run in its own process, for the crash tests: it can die at a chosen file
operation of a chosen checkpoint save, as a kill -9 would (os._exit: no clean-up, no flush).

    python crash_driver.py DATA RUN [--resume] [--max-steps N] [--kill-save K --kill-op M]

The file operations counted inside save number K are the engine's: temporary files made
(mkstemp), weights and state written, fsyncs, and os.replace moves (the commit of the manifest
and the install of each file). With --kill-op -1 nothing is killed and the operations of save K
are printed, one per line ("replace model.safetensors", ...), so a test can aim at each.
The step losses end up in RUN/metrics.jsonl, as in any run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

# The same run, the same way, in every process of a test: two threads, every step logged.
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "eval_interval": 20, "checkpoint_interval": 10, "eval_batches": 2, "log_interval": 1,
        "sample_tokens": 4, "dropout": 0.1, "device": "cpu"}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("run")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--kill-save", type=int, default=0)
    p.add_argument("--kill-op", type=int, default=-2)
    args = p.parse_args()

    import torch

    torch.set_num_threads(2)
    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.runs import checkpoint
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer

    saves = {"n": 0, "ops": 0, "active": False}
    log: list[str] = []

    def counted(name: str, fn, target=None):  # noqa: ANN001, ANN202 - a test seam
        def inner(*a, **k):  # noqa: ANN002, ANN003, ANN202
            if saves["active"]:
                if saves["ops"] == args.kill_op:
                    os._exit(137)
                saves["ops"] += 1
                what = target(a, k) if target else ""
                log.append(f"{name} {what}".strip())
            return fn(*a, **k)
        return inner

    def base(a, k):  # noqa: ANN001, ANN202
        return Path(str(a[1] if len(a) > 1 else a[0])).name

    original_save = checkpoint.save_checkpoint

    def save(*a, **k):  # noqa: ANN002, ANN003, ANN202
        saves["n"] += 1
        saves["active"] = saves["n"] == args.kill_save
        saves["ops"] = 0
        try:
            return original_save(*a, **k)
        finally:
            saves["active"] = False

    checkpoint.save_checkpoint = save
    os.replace = counted("replace", os.replace, base)
    os.fsync = counted("fsync", os.fsync)
    tempfile.mkstemp = counted("mkstemp", tempfile.mkstemp,
                               lambda a, k: str(k.get("prefix", "")).strip("."))
    checkpoint.save_model = counted("write", checkpoint.save_model, base)
    checkpoint._write_state = counted("write", checkpoint._write_state, base)

    run = Path(args.run)
    if args.resume:
        cfg = runs.resume_config(run, {"max_steps": args.max_steps})
    else:
        vocab = Tokenizer.load(Path(args.data) / "tokenizer.model").vocab_size
        cfg = build_run_config("clm", "tiny", vocab, {**TINY, "max_steps": args.max_steps},
                               data_dir=args.data)
    result = Trainer(cfg, run, MetricsSink(), resume=args.resume).run()
    if args.kill_op == -1:
        print("\n".join(log))
    if result.reason == "failed":
        print(result.error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
