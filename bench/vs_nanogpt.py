"""Ours against nanoGPT's own train.py on the CPU: separate processes, same text, same shape.

nanoGPT is run unmodified from a checkout the user points at (`--nanogpt DIR`, a clone of
https://github.com/karpathy/nanoGPT): its train.py with config/train_shakespeare_char.py and,
on the command line, the CPU overrides of its README (4 layers x 128, 4 heads, block 64,
batch 12, dropout 0, device=cpu, compile=False) plus dtype=float32, eval_iters=20, no
evaluation past step 0, log_interval=1 and wandb off. Its data is written in its own format
(train.bin/val.bin of uint16 ids and meta.pkl, as data/shakespeare_char/prepare.py writes
them) from our character-level store of the same corpus: the same ids, the same vocabulary.
Ours is `lmstudio-app pretrain --preset baby` with the same shape on that store.

Each round runs ours then nanoGPT (A B A B), each alone on the machine as far as this bench
is concerned, each with the thread settings it picks by itself (nanoGPT: OpenMP's defaults),
or both with the settings `--policy` names (bench/cpu_runs.py POLICIES).
tokens/s is tokens over the time of the steps after the first 20. It prints each round, the
medians and their ratio (goal: ours >= 1.25x). Without a checkout it says so and exits 2.

    python bench/vs_nanogpt.py --nanogpt DIR [--steps 200] [--rounds 3] [--compile]
        [--policy ours|1-thread|...] [--corpus FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from cpu_runs import (
    DEFAULT_CORPUS,
    POLICIES,
    SHAPE,
    load,
    nanogpt_commit,
    nanogpt_workdir,
    prepare_store,
    start_nanogpt,
    start_ours,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout (holds train.py)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile on both sides (compile=True for nanoGPT)")
    ap.add_argument("--policy", default="ours", choices=list(POLICIES),
                    help="thread settings for both sides (default: each picks its own; "
                         "1-thread compares the steps themselves on a busy machine)")
    ap.add_argument("--corpus", nargs="+", default=DEFAULT_CORPUS,
                    help="text files (default: the bundled sample corpus)")
    a = ap.parse_args()
    if a.nanogpt is None or not (a.nanogpt / "train.py").is_file():
        where = f"{a.nanogpt}: no train.py there" if a.nanogpt else "no --nanogpt DIR given"
        print(f"vs_nanogpt: {where}. Clone https://github.com/karpathy/nanoGPT and pass its "
              "folder with --nanogpt DIR; nothing was measured.", file=sys.stderr)
        return 2
    nano = a.nanogpt.resolve()
    ours_runs: list[float] = []
    theirs_runs: list[float] = []
    print(f"nanoGPT {nanogpt_commit(nano)}; shape {SHAPE}; {a.steps} steps; "
          f"compile={a.compile}; threads: {a.policy}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = prepare_store(a.corpus, work / "data")
        cwd = nanogpt_workdir(nano, data, work)
        for r in range(a.rounds):
            ours_runs.append(start_ours(data, a.steps, a.policy, work, a.compile).tokens_per_s())
            theirs_runs.append(start_nanogpt(nano, cwd, a.steps, a.policy,
                                             a.compile).tokens_per_s())
            print(f"round {r + 1}: ours {ours_runs[-1]:>8,.0f} tokens/s   nanoGPT "
                  f"{theirs_runs[-1]:>8,.0f} tokens/s   [{load()}]", flush=True)
    ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
    print(f"median of {a.rounds}: ours {ours:,.0f} tokens/s, nanoGPT {theirs:,.0f} tokens/s: "
          f"{ours / theirs:.2f}x (goal >= 1.25x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
