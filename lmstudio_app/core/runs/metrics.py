"""metrics.jsonl: the one reader of a run's metric events, whole (`read_metrics`), followed as
it grows (`MetricsFollower`) or truncated after a crash (`truncate_metrics`), and the one list of
a step record's columns (`STEP_COLUMNS`, `step_row`) that the live curves draw.

The file holds one JSON object per line ("kind": step, eval, checkpoint, finished, failed, ...);
the training loop's JsonLinesSink writes it. A torn last line (a crash mid-write), a line that is
not JSON and bytes that are not UTF-8 are passed over by every reader alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..util.atomic import atomic_write_bytes
from .names import METRICS

_SERIES = ("step", "eval", "checkpoint")  # kinds with one record per step

# The figures of a "step" record a curve draws, in the order of a row (`step_row`).
# Figures a run may not have (resources, CUDA device figures) are NaN where absent.
STEP_COLUMNS = ("step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s", "tokens",
                "rss_bytes", "gpu_memory_bytes", "gpu_utilization",
                "mfu", "memory_allocated", "memory_reserved", "max_memory_allocated")


def step_row(record: Mapping[str, Any]) -> tuple[float, ...]:
    """A step record (a "step" line of metrics.jsonl, or StepMetrics' fields) as a row of
    STEP_COLUMNS, NaN where a figure is absent."""
    return tuple(math.nan if record.get(c) is None else float(record[c]) for c in STEP_COLUMNS)


def _step_of(record: Mapping[str, Any]) -> int | None:
    step = record.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _records(lines: list[bytes]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """(line, record) of each line that holds a JSON object."""
    for line in lines:
        try:
            record = json.loads(line.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue  # a torn or damaged line
        if isinstance(record, dict):
            yield line, record


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The events of metrics.jsonl, in order, one per step and kind.

    A folder resumed by an older version may repeat steps after a crash: the later record of a
    step wins, so a curve's steps never go backwards.
    """
    try:
        raw = (Path(run_dir) / METRICS).read_bytes()
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    last: dict[str, int] = {}
    for _, record in _records(raw.split(b"\n")):
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
    for line, record in _records([ln for ln in raw.split(b"\n") if ln.strip()]):
        if (_step_of(record) or 0) > step:
            break
        keep.append(line + b"\n")
    data = b"".join(keep)
    if data != raw:
        atomic_write_bytes(path, data, parents=False)


class MetricsFollower:
    """The records appended to a run's metrics.jsonl since the last `read`, for a window that
    follows a run another process trains.

    Each read takes only the bytes appended since the last; a line being written is kept until
    its newline arrives. A file that shrank (a resume dropped steps beyond its checkpoint) is
    read again from the top, and a step of a series already given is not given twice.
    `from_end`: start at the file's present end (a resumed run's past is shown already).
    """

    def __init__(self, run_dir: Path, from_end: bool = False) -> None:
        self.path = Path(run_dir) / METRICS
        self._offset = self.path.stat().st_size if from_end and self.path.exists() else 0
        self._partial = b""
        self._last: dict[str, int] = {}  # kind -> last step given

    def read(self) -> list[dict[str, Any]]:
        """The new complete records, in order ([] when nothing new or the file is unreadable)."""
        try:
            size = self.path.stat().st_size
            if size < self._offset:  # a resume dropped steps beyond its checkpoint
                self._offset, self._partial = 0, b""
            if size == self._offset:
                return []
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(size - self._offset)
        except OSError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [record for _, record in _records(lines) if self._new(record)]

    def _new(self, record: dict[str, Any]) -> bool:
        kind, step = str(record.get("kind")), _step_of(record)
        if kind not in _SERIES or step is None:
            return True
        if step <= self._last.get(kind, -1):
            return False
        self._last[kind] = step
        return True
