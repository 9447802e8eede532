"""The run folder: the one owner of its file names, its state and how it is read.

A run folder is readable without the app:

    config.json        everything needed to reproduce the run ("run", "data", "versions")
    tokenizer.model    the tokenizer the run trains with
    model.safetensors  the latest weights; best.safetensors the best by the objective's score
    state.pt           optimizer, schedule, sampler and RNG states (weights-only torch file)
    metrics.jsonl      one JSON object per event ("kind": step, eval, checkpoint, ...)
    log.txt            what happened, for a person
    status.json        state, step, best validation loss, pid and host of the writer
    results.json       a fine-tuned run's scores on its test split
    data_report.json   what a fine-tune's labeled files held

Nobody else spells these names: ask this module (`path`, `has_weights`, `resumable`, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig, split_overrides
from .data.layout import TOKENIZER as TOKENIZER  # a run folder keeps its tokenizer alike
from .errors import UserError
from .util.atomic import atomic_write_json

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
RESULTS = "results.json"
DATA_REPORT = "data_report.json"
WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
STATE = "state.pt"
DEFAULT_ROOT = Path("runs")
STATES = ("new", "running", "paused", "completed", "stopped", "failed", "interrupted")


def new_run_dir(root: Path, name: str) -> Path:
    """A fresh, uniquely named folder <root>/<yyyymmdd-hhmmss>-<name>."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"
    path = Path(root) / f"{stamp}-{safe}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stamp}-{safe}-{n}"
    path.mkdir(parents=True)
    return path


def claim_run_dir(path: Path) -> Path:
    """Use `path` as a new run folder: it must not exist yet, or be empty."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise UserError(
            f"{path} already holds files: choose a new run folder, or resume the run in it.",
            field="out",
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_status(run_dir: Path, state: str, step: int, best: float | None, **extra: Any) -> None:
    atomic_write_json(Path(run_dir) / STATUS, {
        "state": state,
        "step": step,
        "best_val_loss": best,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    })


def write_json(run_dir: Path, name: str, data: dict[str, Any]) -> None:
    """One of the folder's JSON files (config, results, data report), written atomically."""
    if name not in (CONFIG, RESULTS, DATA_REPORT):
        raise ValueError(f"{name} is not one of the run folder's JSON files")
    atomic_write_json(Path(run_dir) / name, data)


def read_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder (no {CONFIG}).", field="run") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}).", field="run") from None
    return RunConfig.from_dict(data["run"] if "run" in data else data)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; {} when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def read_file(run_dir: Path, name: str) -> dict[str, Any]:
    """config.json, status.json, results.json or data_report.json as a dict ({} if absent)."""
    return read_json(Path(run_dir) / name)


def is_run_dir(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def has_weights(run_dir: Path) -> bool:
    """The run has reached a checkpoint: its weights can be used (playground, fine-tuning)."""
    return any((Path(run_dir) / name).is_file() for name in (WEIGHTS, BEST_WEIGHTS))


def resumable(run_dir: Path) -> bool:
    """The run can continue: its latest weights and its training state are both on disk."""
    run_dir = Path(run_dir)
    return (run_dir / WEIGHTS).is_file() and (run_dir / STATE).is_file()


def has_results(run_dir: Path) -> bool:
    return (Path(run_dir) / RESULTS).is_file()


def resume_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The run's config with what a resumed run may change: training fields (max_steps, the
    learning rate, the device, ...). The model keeps its shape; derived values are derived again
    from the new settings."""
    cfg = read_config(run_dir)
    _, train_kw = split_overrides(overrides or {}, model_fields=())
    for key, value in train_kw.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        }


def summarize(run_dir: Path) -> RunSummary:
    cfg = read_config(run_dir)
    status = read_json(Path(run_dir) / STATUS)
    state = status.get("state", "new")
    if state == "running" and status.get("host") == socket.gethostname():
        if not _process_alive(int(status.get("pid", 0))):
            state = "interrupted"
    return RunSummary(
        path=Path(run_dir),
        name=Path(run_dir).name,
        objective=cfg.objective,
        preset=cfg.preset,
        step=int(status.get("step", 0)),
        max_steps=cfg.train.max_steps,
        best_val_loss=status.get("best_val_loss"),
        state=state,
    )


def list_runs(root: Path = DEFAULT_ROOT) -> list[RunSummary]:
    """Every run folder directly under `root`, newest first; unreadable folders are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for child in sorted(root.iterdir(), reverse=True):
        if is_run_dir(child):
            try:
                out.append(summarize(child))
            except (UserError, KeyError, TypeError, ValueError):
                continue
    return out


def delete_run(run_dir: Path) -> None:
    """Remove a run folder (the caller asks the user first)."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise UserError(f"{run_dir}: not a run folder; nothing deleted.", field="run")
    shutil.rmtree(run_dir)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The events of metrics.jsonl; a torn last line (a crash mid-write) is ignored."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


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
