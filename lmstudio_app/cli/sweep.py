"""`sweep`: several real runs over chosen fields (grid, random or Optuna's TPE, with the median
pruner fed by each evaluation's validation loss), a table of trials and the best settings
(written for `--config` with --apply). The base run is described as for `pretrain` (or by
--config, a run's settings of either kind)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .args import positive_int, runs_root, seed
from .console import ConsoleSink
from .train import _install_stop_handler, _overrides, add_pretrain_arguments, pretrain_config


def add_sweep_arguments(s: argparse.ArgumentParser) -> None:
    add_pretrain_arguments(s)
    g = s.add_argument_group("sweep")
    g.add_argument("--param", action="append", default=[], metavar="FIELD=V1,V2,...",
                   help="a field and the values to try (repeatable), e.g. "
                        "--param learning_rate=1e-4,3e-4,1e-3 --param n_layer=2,4")
    g.add_argument("--method", choices=("grid", "random", "tpe"), default="grid",
                   help="grid: every combination; random; tpe: Optuna's TPE sampler")
    g.add_argument("--trials", type=positive_int, metavar="N",
                   help="trials to run (random and tpe need it; grid: at most N)")
    g.add_argument("--sampler-seed", type=seed, default=0, metavar="S")
    g.add_argument("--no-prune", dest="prune", action="store_false",
                   help="never stop a trial early (default: Optuna's median pruner)")
    g.add_argument("--prune-after", type=positive_int, default=2, metavar="N",
                   help="trials that run to the end before pruning starts (default 2)")
    g.add_argument("--apply", type=Path, metavar="FILE",
                   help="write the best settings to FILE, for `pretrain --config FILE`")


def _base_config(args: argparse.Namespace) -> Any:
    from ..core.errors import UserError
    from .config_file import config_from_file

    if args.resume:
        raise UserError("a sweep starts new runs: drop --resume.", field="resume")
    if args.nproc > 1:
        raise UserError("a sweep trains its trials one process each: drop --nproc.",
                        field="nproc")
    if args.config_file:
        return config_from_file(Path(args.config_file), _overrides(args))
    return pretrain_config(args, _overrides(args))


def _folder(args: argparse.Namespace, name: str) -> Path:
    from ..core import runs

    if args.out:
        return runs.claim_run_dir(Path(args.out))
    return runs.new_run_dir(runs_root(args), name)


def run_sweep(args: argparse.Namespace) -> int:
    from ..core.training.sweep import Sweep, best_config, parse_param, write_config

    base = _base_config(args)
    space = dict(parse_param(p) for p in args.param)
    sweep = Sweep(base, space, method=args.method, trials=args.trials,
                  seed=args.sampler_seed, prune=args.prune, startup_trials=args.prune_after)
    folder = _folder(args, f"sweep-{args.name or base.name}")
    _install_stop_handler(_SweepControl(sweep))
    total = sweep.n_trials

    def sink_for(row: Any) -> Any:
        if args.json:
            return None
        print(f"== trial {row.number + 1}/{total}: {_values(row.params)} ==", file=sys.stderr)
        return ConsoleSink()

    def on_trial(row: Any) -> None:
        if args.json and row.state != "running":
            print(json.dumps({"event": "trial", **sweep.result.as_dict()["trials"][-1]}),
                  flush=True)
        elif row.state != "running":
            print(f"trial {row.number:03d}: {row.note}; best val loss {_loss(row)}",
                  file=sys.stderr)

    result = sweep.run(folder, sink_for, on_trial)
    best = result.best
    if args.apply is not None and best is not None:
        write_config(best_config(base, result), args.apply)
    if args.json:
        print(json.dumps({"event": "sweep", "folder": str(folder), **result.as_dict(),
                          "applied": str(args.apply) if args.apply and best else None}))
        return 0
    _print_table(result)
    print(f"sweep {folder}")
    if best is None:
        print("no trial completed: no best settings")
        return 0
    print(f"best: trial {best.number:03d}: {_values(best.params)} (best val loss "
          f"{_loss(best)}), run {best.run_dir}")
    if args.apply is not None:
        print(f"wrote {args.apply}: train it with `lmstudio-app pretrain --config {args.apply}`"
              if base.finetune is None else
              f"wrote {args.apply}: train it with `lmstudio-app finetune --config {args.apply}`")
    return 0


class _SweepControl:
    """What the stop handler needs: Ctrl-C stops the running trial (it saves) and the sweep."""

    def __init__(self, sweep: Any) -> None:
        self.sweep = sweep
        self.stop_requested = False

    def stop(self) -> None:
        self.stop_requested = True
        self.sweep.stop()


def _values(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _loss(row: Any) -> str:
    return "-" if row.best_val_loss is None else f"{row.best_val_loss:.4f}"


def _print_table(result: Any) -> None:
    keys = list(result.space)
    print("  ".join([f"{'trial':>5}", *(f"{k:>14}" for k in keys), f"{'best val':>9}",
                     f"{'step':>6}", "state"]))
    for t in result.trials:
        print("  ".join([f"{t.number:>5}", *(f"{t.params.get(k)!s:>14}" for k in keys),
                         f"{_loss(t):>9}", f"{t.step:>6}", t.note]))
