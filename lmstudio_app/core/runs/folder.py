"""The run folder itself: made or claimed, locked, its status and JSON files, notes, weight
snapshots, and what it holds."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..util.atomic import atomic_write_json
from ..util.disk import storage
from ..util.lock import FolderLock, process_alive, this_process
from .names import (
    _SNAPSHOT_PREFIX,
    _SNAPSHOT_SUFFIX,
    BEST_WEIGHTS,
    CONFIG,
    DATA_REPORT,
    LIVE_STATES,
    LOCK,
    METRICS,
    NOTES,
    RESULTS,
    SNAPSHOTS,
    STATE,
    STATUS,
    WEIGHTS,
)


def new_run_dir(root: Path, name: str) -> Path:
    """A fresh, uniquely named folder <root>/<yyyymmdd-hhmmss>-<name>."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"
    path = Path(root) / f"{stamp}-{safe}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stamp}-{safe}-{n}"
    with storage(path / CONFIG):
        path.mkdir(parents=True)
    return path


def claim_run_dir(path: Path) -> Path:
    """Use `path` as a new run folder: it must not exist yet, or be empty."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path} is a file, not a folder: choose a folder for the run.",
                        field="out")
    if path.exists() and any(path.iterdir()):
        raise UserError(
            f"{path} already holds files: choose a new run folder, or resume the run in it.",
            field="out",
        )
    with storage(path / CONFIG):
        path.mkdir(parents=True, exist_ok=True)
    return path


def lock(run_dir: Path) -> FolderLock:
    """The run's lock (not yet taken): one process trains a run at a time."""
    return FolderLock(run_dir, LOCK, "run")


def write_status(run_dir: Path, state: str, step: int, best: float | None, **extra: Any) -> None:
    """status.json, naming this process (pid, host, start) so readers can tell it is alive."""
    atomic_write_json(Path(run_dir) / STATUS, {
        "state": state,
        "step": step,
        "best_val_loss": best,
        **this_process(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }, parents=False)


def read_status(run_dir: Path) -> dict[str, Any]:
    """status.json as its writer would say it now: a "running" or "paused" run whose process is
    gone (killed, crashed, its machine restarted) is "interrupted"."""
    status = read_json(Path(run_dir) / STATUS)
    if status.get("state") in LIVE_STATES and process_alive(
            status.get("pid"), status.get("host"), status.get("started")) is False:
        status = {**status, "state": "interrupted", "was": status.get("state")}
    return status


def write_json(run_dir: Path, name: str, data: dict[str, Any]) -> None:
    """One of the folder's JSON files (config, results, data report, notes), written
    atomically."""
    if name not in (CONFIG, RESULTS, DATA_REPORT, NOTES):
        raise ValueError(f"{name} is not one of the run folder's JSON files")
    atomic_write_json(Path(run_dir) / name, data, parents=False)



def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; {} when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def read_file(run_dir: Path, name: str) -> dict[str, Any]:
    """config.json, status.json, results.json or data_report.json as a dict ({} if absent)."""
    return read_json(Path(run_dir) / name)


# ---------------------------------------------------------------------------------------------
# Notes and weight snapshots


@dataclass
class RunNotes:
    """What a person wrote about a run: a free note and tags (each once, in their order)."""

    note: str = ""
    tags: list[str] = field(default_factory=list)


def read_notes(run_dir: Path) -> RunNotes:
    """notes.json of a run; empty notes when it is missing or damaged (a note is never worth
    refusing to show a run)."""
    data = read_json(Path(run_dir) / NOTES)
    note, tags = data.get("note"), data.get("tags")
    return RunNotes(note if isinstance(note, str) else "",
                    clean_tags(str(t) for t in tags) if isinstance(tags, list) else [])


def clean_tags(tags: Any) -> list[str]:
    """Tags stripped of spaces at their ends, the empty ones dropped, each kept once."""
    out: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).split())
        if tag and tag not in out:
            out.append(tag)
    return out


def write_notes(run_dir: Path, note: str, tags: list[str]) -> RunNotes:
    """Save the run's note and tags atomically (notes.json); returns what was saved."""
    notes = RunNotes(note.strip(), clean_tags(tags))
    if not is_run_dir(run_dir):
        raise UserError(f"{run_dir}: not a run folder; the note was not saved.", field="run")
    write_json(run_dir, NOTES, {"note": notes.note, "tags": notes.tags})
    return notes


def snapshot_path(run_dir: Path, step: int) -> Path:
    """Where the weight snapshot of `step` lives: checkpoints/step-000500.safetensors."""
    return Path(run_dir) / SNAPSHOTS / f"{_SNAPSHOT_PREFIX}{step:06d}{_SNAPSHOT_SUFFIX}"


@dataclass(frozen=True)
class Snapshot:
    step: int
    path: Path
    bytes: int


def list_snapshots(run_dir: Path) -> list[Snapshot]:
    """The run's kept weight snapshots (step, path, size in bytes), by step."""
    folder = Path(run_dir) / SNAPSHOTS
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    out = []
    for entry in entries:
        name = entry.name
        digits = name[len(_SNAPSHOT_PREFIX):-len(_SNAPSHOT_SUFFIX)]
        if not (name.startswith(_SNAPSHOT_PREFIX) and name.endswith(_SNAPSHOT_SUFFIX)
                and digits.isdigit()):
            continue  # a temporary of a snapshot being written, or a stranger's file
        try:
            size = entry.stat().st_size
        except OSError:
            continue
        out.append(Snapshot(int(digits), entry, size))
    return sorted(out, key=lambda s: s.step)


def is_run_dir(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def looks_like_run_dir(path: Path) -> bool:
    """A run folder, or what is left of one (its config lost or damaged)."""
    path = Path(path)
    return path.is_dir() and any((path / n).exists() for n in (CONFIG, STATUS, METRICS,
                                                                 WEIGHTS, STATE))


def has_weights(run_dir: Path) -> bool:
    """The run has reached a checkpoint: its weights can be used (playground, fine-tuning)."""
    return any((Path(run_dir) / name).is_file() for name in (WEIGHTS, BEST_WEIGHTS))


def resumable(run_dir: Path) -> bool:
    """The run can continue: its latest weights and its training state are both on disk."""
    run_dir = Path(run_dir)
    return (run_dir / WEIGHTS).is_file() and (run_dir / STATE).is_file()


def has_results(run_dir: Path) -> bool:
    return (Path(run_dir) / RESULTS).is_file()
