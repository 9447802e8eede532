"""The loop both client scripts share: read the jobs, run each, keep its result or its error,
write them all as JSON. Plain Python, for any environment a client runs in (it is found beside
the script that imports it); it imports nothing of the app."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def run_jobs(job_path: str, out_path: str, run: Callable[[dict[str, Any]], dict[str, Any]],
             results: dict[str, Any]) -> None:
    """`results` gains, for each job of `job_path` by name, what `run(job)` returned or
    {"error": ...}; then it is written to `out_path`."""
    with open(job_path, encoding="utf-8") as f:
        jobs = json.load(f)
    for name, job in jobs.items():
        try:
            results[name] = run(job)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
