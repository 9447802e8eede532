"""Hyperparameter sweeps: several real runs of one base configuration, each with other values
of chosen fields, searched by Optuna.

A sweep folder holds one run folder per trial (trial-000, trial-001, ...), `sweep.json` (the
method, the space, every trial and the best) and `sweep.csv` (the table of trials), rewritten
after every trial. Each trial minimises the run's best validation loss (nats per token).

Methods: `grid` (Optuna's GridSampler: every combination once), `random` (RandomSampler over
the listed values) and `tpe` (TPESampler: the Tree-structured Parzen Estimator, Bergstra et al.
2011). Every method can prune: each evaluation's validation loss is reported to the trial, and
Optuna's MedianPruner stops a trial whose loss at that step is worse than the median of the
earlier trials at the same step (Golovin et al. 2017, "Google Vizier"); the pruned run stops at
a step boundary and saves, like a run stopped by hand.

Reference: Akiba et al. 2019, "Optuna: A Next-generation Hyperparameter Optimization Framework".
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import runs
from ..config import RunConfig, parse_overrides, settable_fields
from ..errors import UserError
from ..util.atomic import atomic_write_json, atomic_write_text
from .control import RunControl
from .sinks import EvalMetrics, FanOutSink, MetricsSink

METHODS = ("grid", "random", "tpe")
SWEEP_JSON = "sweep.json"
SWEEP_CSV = "sweep.csv"
INSTALL_HINT = "sweeps need Optuna: pip install 'lmstudio-app[sweep]'"
ALIASES = {"lr": "learning_rate"}  # the field's common short name


def parse_param(text: str) -> tuple[str, list[Any]]:
    """"learning_rate=1e-4,3e-4" -> ("learning_rate", [1e-4, 3e-4]), each value typed as the
    field's (--set's rules). Raises UserError (field "param") for a malformed or unknown one."""
    key, sep, values = text.partition("=")
    key = ALIASES.get(key.strip(), key.strip())
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not items:
        raise UserError(f"{text}: write FIELD=V1,V2,..., for example learning_rate=1e-4,3e-4.",
                        field="param")
    if key not in settable_fields():
        raise UserError(f"{key}: unknown field to sweep. Known fields: "
                        f"{', '.join(sorted(settable_fields()))}.", field="param")
    typed = [parse_overrides([f"{key}={v}"])[key] for v in items]
    return key, list(dict.fromkeys(typed))


def trial_config(base: RunConfig, values: dict[str, Any], name: str) -> RunConfig:
    """`base` with `values` set (model or training fields), named `name`, validated."""
    data = base.to_dict()
    sections = settable_fields()
    for key, value in values.items():
        data[sections[key]][key] = value
    data["name"] = name
    cfg = RunConfig.from_dict(data)
    cfg.validate()
    return cfg


@dataclass
class TrialRow:
    """One trial of the table: its run, values, how it ended and its best validation loss."""

    number: int
    run_dir: str
    params: dict[str, Any]
    state: str = "running"  # running | completed | pruned | stopped | failed
    best_val_loss: float | None = None
    step: int = 0
    pruned_at: int | None = None
    error: str = ""

    @property
    def note(self) -> str:
        if self.state == "pruned":
            return f"pruned at step {self.pruned_at}"
        return self.error if self.state == "failed" else self.state


@dataclass
class SweepResult:
    folder: Path
    method: str
    space: dict[str, list[Any]]
    trials: list[TrialRow] = field(default_factory=list)

    @property
    def best(self) -> TrialRow | None:
        """The completed trial of the lowest best validation loss (None before one ends)."""
        done = [t for t in self.trials if t.state == "completed" and t.best_val_loss is not None]
        return min(done, key=lambda t: t.best_val_loss or math.inf) if done else None

    def as_dict(self) -> dict[str, Any]:
        best = self.best
        return {"method": self.method, "space": self.space,
                "objective": "best validation loss (minimised)",
                "trials": [{**asdict(t), "note": t.note} for t in self.trials],
                "best": None if best is None else {**asdict(best), "note": best.note}}

    def csv_text(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["trial", *self.space, "state", "best_val_loss", "step", "note", "run_dir"])
        for t in self.trials:
            w.writerow([t.number, *(t.params.get(k) for k in self.space), t.state,
                        "" if t.best_val_loss is None else f"{t.best_val_loss:.6f}", t.step,
                        t.note, t.run_dir])
        return out.getvalue()

    def save(self) -> None:
        atomic_write_json(self.folder / SWEEP_JSON, self.as_dict())
        atomic_write_text(self.folder / SWEEP_CSV, self.csv_text())


def read_sweep(folder: Path) -> dict[str, Any]:
    """sweep.json of a sweep folder ({} when absent or unreadable)."""
    return runs.read_json(Path(folder) / SWEEP_JSON)


def best_config(base: RunConfig, result: SweepResult) -> RunConfig:
    """The base configuration with the best trial's values. Raises UserError when no trial
    completed."""
    best = result.best
    if best is None:
        raise UserError("no trial of the sweep completed: there is no best setting to apply.")
    return trial_config(base, best.params, base.name)


def write_config(cfg: RunConfig, path: Path) -> None:
    """`cfg` as a file `--config` reads ({"run": {...}}, as a run's config.json)."""
    atomic_write_json(Path(path), {"run": cfg.to_dict()})


class _Pruning(MetricsSink):
    """Reports each evaluation's validation loss to the Optuna trial; stops the run when the
    pruner says so."""

    def __init__(self, trial: Any, control: RunControl) -> None:
        self.trial, self.control = trial, control
        self.pruned_at: int | None = None

    def evaluation(self, m: EvalMetrics) -> None:
        if self.pruned_at is not None or not math.isfinite(m.val_loss):
            return
        self.trial.report(m.val_loss, m.step)
        if self.trial.should_prune():
            self.pruned_at = m.step
            self.control.stop()


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _n_trials(method: str, space: dict[str, list[Any]], trials: int | None) -> int:
    grid = math.prod(len(v) for v in space.values())
    if method == "grid":
        return min(grid, trials) if trials else grid
    if not trials:
        raise UserError(f"a {method} sweep needs a number of trials.", field="trials",
                        option="10")
    return trials


class Sweep:
    """One sweep: `run()` trains the trials one after another; `stop()` (any thread) stops the
    running trial at a step boundary (it saves) and starts no other."""

    def __init__(self, base: RunConfig, space: dict[str, list[Any]], *, method: str = "grid",
                 trials: int | None = None, seed: int = 0, prune: bool = True,
                 startup_trials: int = 2) -> None:
        if method not in METHODS:
            raise UserError(f"{method}: the methods are {', '.join(METHODS)}.", field="method")
        if not space:
            raise UserError("give at least one field to sweep.", field="param",
                            option="learning_rate=1e-4,1e-3")
        self.optuna = _optuna()
        self.base, self.space, self.method = base, space, method
        self.n_trials = _n_trials(method, space, trials)
        for values in itertools.product(*space.values()):  # every value is valid before any run
            trial_config(base, dict(zip(space, values, strict=True)), base.name)
        self.result = SweepResult(Path(), method, space)
        self.study = self._study(seed, prune, startup_trials)
        self._control: RunControl | None = None
        self._stopped = False

    def _study(self, seed: int, prune: bool, startup: int) -> Any:
        o = self.optuna
        sampler = {"grid": lambda: o.samplers.GridSampler(self.space, seed=seed),
                   "random": lambda: o.samplers.RandomSampler(seed=seed),
                   "tpe": lambda: o.samplers.TPESampler(seed=seed)}[self.method]()
        pruner = (o.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
                  if prune else o.pruners.NopPruner())
        return o.create_study(direction="minimize", sampler=sampler, pruner=pruner)

    def stop(self) -> None:
        self._stopped = True
        if self._control is not None:
            self._control.stop()

    def run(self, folder: Path,
            sink_for: Callable[[TrialRow], MetricsSink | None] | None = None,
            on_trial: Callable[[TrialRow], None] | None = None) -> SweepResult:
        """Train the trials in `folder` (made already); after each, sweep.json and sweep.csv
        are rewritten and `on_trial(row)` is called (also when a trial starts, state
        "running")."""
        from .trainer import Trainer

        self.result.folder = Path(folder)

        def objective(trial: Any) -> float:
            params = {k: trial.suggest_categorical(k, v) for k, v in self.space.items()}
            row = self._trial(Trainer, trial, params, sink_for, on_trial)
            if self._stopped:
                trial.study.stop()
            if row.state == "pruned":
                raise self.optuna.TrialPruned(row.note)
            # A failed or stopped trial is Optuna's FAIL (nan); its row says which.
            return row.best_val_loss if row.state == "completed" and row.best_val_loss \
                is not None else math.nan

        if not self._stopped:
            self.study.optimize(objective, n_trials=self.n_trials)
        return self.result

    def _trial(self, trainer: Any, trial: Any, params: dict[str, Any],
               sink_for: Callable[[TrialRow], MetricsSink | None] | None,
               on_trial: Callable[[TrialRow], None] | None) -> TrialRow:
        number = trial.number
        run_dir = runs.claim_run_dir(self.result.folder / f"trial-{number:03d}")
        row = TrialRow(number, str(run_dir), params)
        self.result.trials.append(row)
        self.result.save()
        if on_trial is not None:
            on_trial(row)
        cfg = trial_config(self.base, params, f"{self.base.name or 'sweep'}-t{number:03d}")
        self._control = control = RunControl()
        if self._stopped:
            control.stop()
        pruning = _Pruning(trial, control)
        user = sink_for(row) if sink_for is not None else None
        sink = FanOutSink(pruning, user) if user is not None else pruning
        result = trainer(cfg, run_dir, sink, control).run()
        row.step, row.best_val_loss = result.step, result.best_val_loss
        if result.reason == "failed":
            row.state, row.error = "failed", result.error or "failed"
        elif pruning.pruned_at is not None:
            row.state, row.pruned_at = "pruned", pruning.pruned_at
        elif result.reason == "stopped" or result.best_val_loss is None:
            row.state = "stopped"
        else:
            row.state = "completed"
        self.result.save()
        if on_trial is not None:
            on_trial(row)
        return row
