"""The run folder: the one owner of its file names, its state and how it is read.

A run folder is readable without the app:

    config.json        everything needed to reproduce the run ("run", "data", "versions"), the
                       paths it reads relative to the folder ("paths") and its resumes
    tokenizer.model    the tokenizer the run trains with
    model.safetensors  the latest weights; best.safetensors the best by the objective's score
    state.pt           optimizer, schedule, sampler and RNG states (weights-only torch file)
    checkpoint.json    the step of the committed checkpoint and its files (see checkpoint.py)
    metrics.jsonl      one JSON object per event ("kind": step, eval, checkpoint, ...)
    log.txt            what happened, for a person
    status.json        state, step, best validation loss, pid and host of the writer
    results.json       a fine-tuned run's scores on its test split
    data_report.json   what a fine-tune's labeled files held
    notes.json         the person's note and tags for the run
    checkpoints/       weight snapshots along the curve: step-000500.safetensors, ...
    run.lock           while a process trains the run: its pid and host

Nobody else spells these names: ask this module (`path`, `has_weights`, `resumable`, ...).
Readers of the status ask `read_status`, which says "interrupted" for a run whose writer is gone
(a kill -9 leaves "running" on disk: only the living can change it).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import PATH_FIELDS, RunConfig, split_overrides
from .data.layout import TOKENIZER as TOKENIZER  # a run folder keeps its tokenizer alike
from .errors import UserError
from .util.atomic import atomic_write_bytes, atomic_write_json
from .util.disk import storage
from .util.lock import FolderLock, process_alive, this_process

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
RESULTS = "results.json"
DATA_REPORT = "data_report.json"
WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
STATE = "state.pt"
CHECKPOINT = "checkpoint.json"
LOCK = "run.lock"
NOTES = "notes.json"
SNAPSHOTS = "checkpoints"
_SNAPSHOT_PREFIX, _SNAPSHOT_SUFFIX = "step-", ".safetensors"
CONTROL = "control.json"  # pause / resume / stop asked by another process (training/folder_control)
DEFAULT_ROOT = Path("runs")
STATES = ("new", "running", "paused", "completed", "stopped", "failed", "interrupted",
          "damaged")
LIVE_STATES = ("running", "paused")


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


def read_config(run_dir: Path) -> RunConfig:
    """The run's configuration; UserError naming the file and what is wrong with it."""
    path = Path(run_dir) / CONFIG
    data = _config_data(run_dir)
    try:
        cfg = RunConfig.from_dict(data["run"] if "run" in data else data)
    except UserError as exc:
        raise UserError(f"{path}: damaged ({str(exc).rstrip('.')}); restore the file or start "
                        "a new run.", field="run") from None
    return cfg


def _config_data(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder (no {CONFIG}).", field="run") from None
    except IsADirectoryError:
        raise UserError(f"{path}: a folder, not a file.", field="run") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc}).", field="run") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: damaged (not UTF-8 text at byte {exc.start}); restore the "
                        "file or start a new run.", field="run") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: damaged (not valid JSON at line {exc.lineno}); restore the "
                        "file or start a new run.", field="run") from None
    except RecursionError:
        raise UserError(f"{path}: damaged (nested too deeply).", field="run") from None
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        raise UserError(f"{path}: damaged (a JSON {kind}, not an object); restore the file or "
                        "start a new run.", field="run")
    return data


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
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    return RunNotes(note, clean_tags(str(t) for t in tags))


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


# ---------------------------------------------------------------------------------------------
# Paths: absolute in the config, relative to the run folder beside them


def _get_path(cfg: RunConfig, section: str, name: str) -> str | None:
    holder = getattr(cfg, section) if section else cfg
    return getattr(holder, name) if holder is not None else None


def _set_path(cfg: RunConfig, section: str, name: str, value: str) -> None:
    holder = getattr(cfg, section) if section else cfg
    setattr(holder, name, value)


def absolute_paths(cfg: RunConfig) -> None:
    """Make the config's paths absolute (in place): the run no longer depends on the folder
    it was started from."""
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        if value:
            _set_path(cfg, section, name, os.path.abspath(os.path.expanduser(value)))


def relative_paths(cfg: RunConfig, run_dir: Path) -> dict[str, str]:
    """Each path of the config relative to the run folder (config.json's "paths")."""
    out = {}
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        if value:
            try:
                out[f"{section}.{name}" if section else name] = os.path.relpath(
                    value, os.path.abspath(run_dir))
            except ValueError:  # another drive (Windows)
                continue
    return out


def _locate_paths(cfg: RunConfig, run_dir: Path, relative: dict[str, Any]) -> None:
    """A path that no longer exists is looked for relative to the run folder (the tree moved)."""
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        rel = relative.get(f"{section}.{name}" if section else name)
        if not value or os.path.exists(value) or not isinstance(rel, str):
            continue
        candidate = os.path.normpath(os.path.join(os.path.abspath(run_dir), rel))
        if os.path.exists(candidate):
            _set_path(cfg, section, name, candidate)


def write_config(run_dir: Path, cfg: RunConfig, data: dict[str, Any], parameters: int,
                 versions: dict[str, str], batch: dict[str, Any] | None = None) -> None:
    """config.json of a run that starts; `batch` notes the global batch (rows per step over
    all processes) where the trainer gives it."""
    out: dict[str, Any] = {
        "run": cfg.to_dict(), "paths": relative_paths(cfg, run_dir), "data": data,
        "parameters": parameters, "versions": versions,
    }
    if batch is not None:
        out["batch"] = batch
    write_json(run_dir, CONFIG, out)


def record_resume(run_dir: Path, cfg: RunConfig, step: int) -> None:
    """config.json after a resume: the run's settings as they now are (max_steps, learning
    rate, ...), and a line for the resume, what it changed."""
    data = _config_data(run_dir)
    before = data.get("run", {}).get("train", {}) if isinstance(data.get("run"), dict) else {}
    now = cfg.to_dict()
    changed = {k: [before.get(k), v] for k, v in now["train"].items() if before.get(k) != v}
    data["run"] = now
    data["paths"] = relative_paths(cfg, run_dir)
    resumes = data.get("resumes") if isinstance(data.get("resumes"), list) else []
    data["resumes"] = [*resumes, {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                  "changed": changed}]
    write_json(run_dir, CONFIG, data)


def resume_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The run's config with what a resumed run may change: training fields (max_steps, the
    learning rate, the device, ...). The model keeps its shape; derived values are derived again
    from the new settings. Paths that moved with the run folder are found again."""
    cfg = read_config(run_dir)
    relative = _config_data(run_dir).get("paths")
    _locate_paths(cfg, Path(run_dir), relative if isinstance(relative, dict) else {})
    _, train_kw = split_overrides(overrides or {}, model_fields=())
    for key, value in train_kw.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


# ---------------------------------------------------------------------------------------------
# Listing runs


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


# ---------------------------------------------------------------------------------------------
# Metrics


_SERIES = ("step", "eval", "checkpoint")  # kinds with one record per step


def _step_of(record: dict[str, Any]) -> int | None:
    step = record.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The events of metrics.jsonl, in order, one per step and kind.

    A torn last line (a crash mid-write), a line that is not JSON and bytes that are not UTF-8
    are passed over. A folder resumed by an older version may repeat steps after a crash: the
    later record of a step wins, so a curve's steps never go backwards.
    """
    path = Path(run_dir) / METRICS
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    last: dict[str, int] = {}
    for line in raw.split(b"\n"):
        try:
            record = json.loads(line.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        step, kind = _step_of(record), str(record.get("kind"))
        if step is not None and kind in _SERIES and step <= last.get(kind, -1):
            out = [r for r in out if not (r.get("kind") == kind and (_step_of(r) or 0) >= step)]
        if step is not None:
            last[kind] = step
        out.append(record)
    return out


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop the records after `step` (steps a killed run took beyond its last checkpoint), so a
    resumed run's records follow on without repeating a step."""
    path = Path(run_dir) / METRICS
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    keep = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue  # a torn or damaged line
        if isinstance(record, dict) and (_step_of(record) or 0) > step:
            break
        keep.append(line + b"\n")
    data = b"".join(keep)
    if data != raw:
        atomic_write_bytes(path, data, parents=False)


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
