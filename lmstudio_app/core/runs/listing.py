"""Listing run folders: what the Runs list shows of each, deleting one, a run's history."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import UserError
from .config_file import read_config
from .folder import looks_like_run_dir, read_json, read_status
from .metrics import read_metrics
from .names import DEFAULT_ROOT, RESULTS


@dataclass
class RunSummary:
    path: Path
    name: str
    objective: str
    preset: str
    step: int
    max_steps: int
    best_val_loss: float | None
    state: str  # one of STATES
    problem: str = ""  # why a "damaged" run cannot be read

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.name,
            "objective": self.objective,
            "preset": self.preset,
            "step": self.step,
            "max_steps": self.max_steps,
            "best_val_loss": self.best_val_loss,
            "state": self.state,
            "problem": self.problem,
        }


def _number(value: Any, kind: type, default: Any) -> Any:
    try:
        return kind(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def summarize(run_dir: Path) -> RunSummary:
    """What the Runs list shows of a run folder; a folder whose config cannot be read is a
    "damaged" run with the reason."""
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    try:
        cfg = read_config(run_dir)
    except UserError as exc:
        return RunSummary(run_dir, run_dir.name, "?", "?", _number(status.get("step"), int, 0),
                          0, None, "damaged", str(exc))
    best = status.get("best_val_loss")
    return RunSummary(
        path=run_dir,
        name=run_dir.name,
        objective=cfg.objective,
        preset=cfg.preset,
        step=_number(status.get("step"), int, 0),
        # A fine-tune's budget may be derived from its data: the trainer records it.
        max_steps=_number(status.get("max_steps"), int, cfg.train.max_steps or 0),
        best_val_loss=_number(best, float, None),
        state=str(status.get("state", "new")),
    )


def list_runs(root: Path = DEFAULT_ROOT) -> list[RunSummary]:
    """Every run folder directly under `root`, newest first; folders whose config cannot be
    read are listed as "damaged" with the reason, not hidden."""
    root = Path(root)
    try:
        children = sorted(root.iterdir(), reverse=True)
    except OSError:
        return []
    return [summarize(child) for child in children if looks_like_run_dir(child)]


def delete_run(run_dir: Path) -> None:
    """Remove a run folder (the caller asks the user first)."""
    run_dir = Path(run_dir)
    if not looks_like_run_dir(run_dir):
        raise UserError(f"{run_dir}: not a run folder; nothing deleted.", field="run")
    shutil.rmtree(run_dir)


@dataclass
class RunHistory:
    """What a run folder says of its past: config, metric events, samples, test results."""

    run_dir: Path
    config: RunConfig
    events: list[dict[str, Any]]
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> list[tuple[int, float | None, str]]:
        """(step, validation loss, sample text) of each evaluation that showed a sample."""
        return [(int(e["step"]), e.get("val_loss"), e["sample"]) for e in self.events
                if e.get("kind") == "eval" and e.get("sample")]

    @property
    def eval_metrics(self) -> list[tuple[int, dict[str, float]]]:
        """(step, the objective's own validation scores) of each evaluation that has them."""
        return [(int(e["step"]), e["extra"]) for e in self.events
                if e.get("kind") == "eval" and e.get("extra")]


def read_history(run_dir: Path) -> RunHistory:
    """Config, metrics and results of a run folder (slow for long runs: read in a worker)."""
    run_dir = Path(run_dir)
    return RunHistory(run_dir, read_config(run_dir), read_metrics(run_dir),
                      read_json(run_dir / RESULTS))
