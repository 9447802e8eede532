"""A run's final figures for the table of runs, and what differs between two runs' settings.

Reading a run's figures reads its whole metrics.jsonl: slow for a long run, so a window reads
them in a background job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runs
from ..config import objective_spec
from ..errors import UserError


@dataclass
class RunFigures:
    """What the table of runs shows of one run (None: not known, or not of this run's kind)."""

    path: Path
    name: str
    objective: str
    state: str
    step: int
    max_steps: int
    final_loss: float | None  # the last logged training loss, nats per token
    best_val_loss: float | None  # nats per token
    best_metric: str | None  # the task's score that chooses best weights (accuracy, f1, ...)
    best_metric_value: float | None
    val_bpb: float | None  # bits per byte at the last evaluation (GPT runs)
    tokens: int | None  # tokens trained on
    time_s: float | None  # seconds of training, over resumes (not the pauses between them)
    size_bytes: int  # the run folder on disk, a file linked twice counted once
    snapshot_bytes: int  # its weight snapshots (checkpoints/)
    snapshots: int
    note: str = ""
    tags: list[str] = field(default_factory=list)
    # The files read, as _files_key gave them: equal again, the figures are still true.
    read_key: tuple[tuple[int, int] | None, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()
                if k != "read_key"}


def _files_key(run_dir: Path) -> tuple[tuple[int, int] | None, ...]:
    """(modification time, size) of what the figures come from: the run's record, metrics,
    notes and weights, and its snapshots folder."""
    key: list[tuple[int, int] | None] = []
    for name in (runs.STATUS, runs.METRICS, runs.NOTES, runs.CONFIG, runs.WEIGHTS, runs.SNAPSHOTS):
        try:
            st = (run_dir / name).stat()
            key.append((st.st_mtime_ns, st.st_size))
        except OSError:
            key.append(None)
    return tuple(key)


def training_time(elapsed: Iterable[Any]) -> list[float]:
    """Seconds of training at each step record, over resumes: each process counts its
    elapsed_s from 0, so a value below the one before starts a new stretch, added to the time
    the earlier stretches took (the hours between them are not training)."""
    out: list[float] = []
    offset, last = 0.0, 0.0
    for value in elapsed:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            out.append(math.nan)
            continue
        if value < last:
            offset += last
        last = value
        out.append(offset + value)
    return out


def _folder_bytes(folder: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in folder.rglob("*"):
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None


def run_figures(run_dir: Path) -> RunFigures:
    """The final figures of one run folder (a damaged one gives what its files still say)."""
    run_dir = Path(run_dir)
    key = _files_key(run_dir)
    summary = runs.summarize(run_dir)
    events = runs.read_metrics(run_dir)
    steps = [e for e in events if e.get("kind") == "step"]
    evals = [e for e in events if e.get("kind") == "eval"]
    metric = None
    if summary.state != "damaged":
        metric = objective_spec(summary.objective).best_metric
    scores = [v for e in evals if isinstance(e.get("extra"), dict)
              if (v := _number(e["extra"].get(metric))) is not None] if metric else []
    times = training_time(e.get("elapsed_s") for e in steps)
    tokens = _number(steps[-1].get("tokens")) if steps else None
    snaps = runs.list_snapshots(run_dir)
    notes = runs.read_notes(run_dir)
    return RunFigures(
        path=run_dir, name=summary.name, objective=summary.objective, state=summary.state,
        step=summary.step, max_steps=summary.max_steps,
        final_loss=_number(steps[-1].get("loss")) if steps else None,
        best_val_loss=summary.best_val_loss,
        best_metric=metric, best_metric_value=max(scores) if scores else None,
        val_bpb=_number(evals[-1].get("val_bpb")) if evals else None,
        tokens=int(tokens) if tokens is not None else None,
        time_s=times[-1] if times and math.isfinite(times[-1]) else None,
        size_bytes=_folder_bytes(run_dir),
        snapshot_bytes=sum(s.bytes for s in snaps), snapshots=len(snaps),
        note=notes.note, tags=notes.tags, read_key=key,
    )


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out.update(_flat(value, name) if isinstance(value, dict) else {name: value})
    return out


def config_differences(a: Path, b: Path) -> list[tuple[str, Any, Any]]:
    """(key, value in run a, value in run b) for each setting that differs between two runs,
    keys spelled as in config.json ("train.learning_rate", "model.n_layer"); a key one run
    lacks has None on that side. Raises UserError when a folder's config cannot be read."""
    first, second = (_flat(runs.read_config(p).to_dict()) for p in (a, b))
    keys = sorted(set(first) | set(second))
    return [(k, first.get(k), second.get(k)) for k in keys if first.get(k) != second.get(k)]


def figures_of_all(root: Path, known: Mapping[Path, RunFigures] | None = None
                   ) -> list[RunFigures]:
    """run_figures of every run folder under `root`, newest first. A run in `known` whose
    files have not changed since is not read again (a poll while one run trains reads that
    run's metrics, not every run's)."""
    out = []
    for summary in runs.list_runs(root):
        before = (known or {}).get(summary.path)
        if before is not None and before.read_key == _files_key(summary.path):
            out.append(before)
            continue
        try:
            out.append(run_figures(summary.path))
        except (UserError, OSError):
            continue  # removed while being read
    return out
