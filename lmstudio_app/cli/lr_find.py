"""`lr-find`: the learning-rate range test (core/training/lr_find.py) from the terminal.

Three forms, one per source of settings:
  lmstudio-app lr-find pretrain --data DATA_DIR [the options of `pretrain`]
  lmstudio-app lr-find finetune --task classify --train FILE --from RUN [those of `finetune`]
  lmstudio-app lr-find --run RUN_DIR [--checkpoint latest|best|STEP]
The first two take exactly the options of the command they name (its own argument adder), so a
run that `pretrain ...` would start is tested by `lr-find pretrain ...`; the third uses an
existing run's settings and weights. Nothing is written: the options that name where a run goes
(--out, --name, --runs-root) are accepted and ignored. The suggested rate goes to stdout;
`--json` gives the sweep too ({"suggestion", "lr", "loss", "raw_loss", ...}).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .args import Parser, add_device, checkpoint_choice, positive, positive_int
from .train import (
    add_finetune_arguments,
    add_pretrain_arguments,
    finetune_run_config,
    pretrain_run_config,
)

SWEEP_OPTIONS = ("find_min_lr", "find_max_lr", "num_training", "early_stop_threshold")


def _add_sweep(s: argparse.ArgumentParser, top: bool) -> None:
    """The sweep's options (Lightning's names); on a form's parser they leave the values given
    before the form's name in place."""
    from ..core import lr_find_settings as lf

    def d(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    s.add_argument("--min-lr", dest="find_min_lr", type=positive, default=d(lf.MIN_LR),
                   metavar="LR", help=f"the sweep's first rate (default {lf.MIN_LR:g})")
    s.add_argument("--max-lr", dest="find_max_lr", type=positive, default=d(lf.MAX_LR),
                   metavar="LR", help=f"its last rate (default {lf.MAX_LR:g})")
    s.add_argument("--num-training", dest="num_training", type=positive_int,
                   default=d(lf.NUM_TRAINING), metavar="N",
                   help=f"optimizer steps of the sweep (default {lf.NUM_TRAINING})")
    s.add_argument("--early-stop-threshold", dest="early_stop_threshold", type=positive,
                   default=d(lf.EARLY_STOP_THRESHOLD), metavar="X",
                   help="stop when the smoothed loss passes X times the best (default "
                        f"{lf.EARLY_STOP_THRESHOLD:g})")


def add_lr_find_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--run", metavar="RUN_DIR", help="an existing run: its settings and weights")
    s.add_argument("--checkpoint", type=checkpoint_choice, default="latest",
                   metavar="best|latest|STEP", help="with --run: which weights (default latest)")
    add_device(s)
    s.add_argument("--json", action="store_true", help="the sweep as one JSON object")
    _add_sweep(s, top=True)
    forms = s.add_subparsers(dest="form", metavar="FORM", parser_class=Parser)
    for name, adder, what in (("pretrain", add_pretrain_arguments, "a new pretraining run"),
                              ("finetune", add_finetune_arguments, "a new fine-tuning run")):
        f = forms.add_parser(name, help=f"test {what}: the options of `{name}`")
        adder(f)
        _add_sweep(f, top=False)


def _config(args: argparse.Namespace) -> tuple[Any, Path | None]:
    from ..core import runs
    from ..core.errors import UserError

    if getattr(args, "nproc", 1) > 1:
        raise UserError("lr-find runs in one process; leave --nproc out.", field="nproc")
    run = getattr(args, "run", None) or getattr(args, "resume", None)
    if args.form is None and run is None:
        raise UserError("name what to test: --run RUN_DIR, or `lr-find pretrain ...` / "
                        "`lr-find finetune ...` with that command's options.", field="run")
    if run is not None:
        cfg = runs.read_config(Path(run))
        if args.device is not None:
            cfg.train.device = args.device
        return cfg, Path(run)
    return (pretrain_run_config(args) if args.form == "pretrain"
            else finetune_run_config(args)), None


def run_lr_find(args: argparse.Namespace) -> int:
    from ..core.errors import UserError
    from ..core.training.lr_find import lr_find

    cfg, run_dir = _config(args)
    every = max(1, args.num_training // 10)

    def progress(i: int, lr: float, loss: float) -> None:
        if not args.json and (i + 1) % every == 0:
            print(f"step {i + 1}/{args.num_training}: lr {lr:.2e}, smoothed loss {loss:.4f}",
                  file=sys.stderr, flush=True)

    result = lr_find(cfg, run_dir, checkpoint=args.checkpoint, min_lr=args.find_min_lr,
                     max_lr=args.find_max_lr, num_training=args.num_training,
                     early_stop_threshold=args.early_stop_threshold, on_step=progress)
    if result.suggestion is None:
        raise UserError(f"the sweep stopped after {len(result.lr)} steps, too few for a "
                        "suggestion; raise --num-training or lower --max-lr.",
                        field="num_training")
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    note = " (stopped early: the loss diverged)" if result.stopped_early else ""
    print(f"{len(result.lr)} steps from {result.lr[0]:.1e} to {result.lr[-1]:.1e}{note}",
          file=sys.stderr)
    print(f"suggested learning rate: {result.suggestion:.3g}")
    return 0
