"""Run folders: create, describe, list and open.

A run folder is readable without the app: config.json, tokenizer.model, model.safetensors,
best.safetensors, state.pt, metrics.jsonl, log.txt and status.json (state, step, best score).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import UserError
from .util.atomic import atomic_write_text

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
TOKENIZER = "tokenizer.model"
RESULTS = "results.json"  # a fine-tuned run's scores on its test split
DEFAULT_ROOT = Path("runs")


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
            f"{path} already holds files. Choose a new --out folder, or continue that run "
            f"with --resume {path}."
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_status(run_dir: Path, state: str, step: int, best: float | None, **extra: Any) -> None:
    data = {
        "state": state,
        "step": step,
        "best_val_loss": best,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }
    atomic_write_text(Path(run_dir) / STATUS, json.dumps(data, indent=2) + "\n")


def read_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder (no {CONFIG}).") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}).") from None
    return RunConfig.from_dict(data["run"] if "run" in data else data)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


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
    state: str  # running | completed | stopped | failed | interrupted

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
        if (child / CONFIG).is_file():
            try:
                out.append(summarize(child))
            except (UserError, KeyError, TypeError, ValueError):
                continue
    return out


def delete_run(run_dir: Path) -> None:
    """Remove a run folder (the caller asks the user first)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run folder; nothing deleted.")
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
