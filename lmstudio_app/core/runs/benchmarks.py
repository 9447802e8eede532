"""A run's benchmark results (lm-evaluation-harness): the one reader and writer of its
`benchmarks/` folder.

    benchmarks/20260101-120000.json   one evaluation: settings, every task's metrics, the
                                      per-request log-likelihoods (lm_eval's samples, trimmed)
    benchmarks/summary.json           the latest figures of each task: {"tasks": {task: {...}}}

The summary keeps, per task, its metrics (acc, acc_norm, ... and their standard errors), the
settings they were measured with (limit, num_fewshot, checkpoint) and the file they came from.
It reads without lm_eval installed: the Runs page shows it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..util.atomic import atomic_write_json
from .folder import read_json
from .names import BENCHMARKS

SUMMARY = "summary.json"
# The metric shown for a task when it has several, in this order of preference.
HEADLINE_METRICS = ("acc", "acc_norm", "exact_match", "f1", "word_perplexity", "perplexity")


def benchmarks_dir(run_dir: Path) -> Path:
    return Path(run_dir) / BENCHMARKS


def write_benchmark(run_dir: Path, result: dict[str, Any], when: float | None = None) -> Path:
    """Keep one evaluation's `result` ({"settings": {...}, "tasks": {task: {metric: value}}, ...})
    as benchmarks/<timestamp>.json and merge its tasks into summary.json (atomic writes).
    Returns the new file's path."""
    folder = benchmarks_dir(run_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when or time.time()))
    path = folder / f"{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{n}.json"
    atomic_write_json(path, result)
    summary = read_benchmarks(run_dir)
    for task, metrics in result.get("tasks", {}).items():
        summary[task] = {"metrics": metrics, "settings": result.get("settings", {}),
                         "file": path.name, "when": stamp}
    atomic_write_json(folder / SUMMARY, {"tasks": summary})
    return path


def read_benchmarks(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The latest result of each task benchmarked on the run ({} when none): task ->
    {"metrics": {...}, "settings": {...}, "file": ..., "when": ...}."""
    tasks = read_json(benchmarks_dir(run_dir) / SUMMARY).get("tasks", {})
    return {k: v for k, v in tasks.items() if isinstance(v, dict)} if isinstance(tasks, dict) \
        else {}


def headline(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The metric that stands for a task (acc before acc_norm, ...) and its value; None when
    the task has no numeric metric."""
    for name in (*HEADLINE_METRICS, *sorted(metrics)):
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not name.endswith("_stderr"):
            return name, float(value)
    return None
