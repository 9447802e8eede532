"""Pause, resume and stop through the run folder: how a process that did not start the loop
(the window following a torchrun job it launched, a script) steers it.

The asker writes `control.json` ({"request": "pause" | "resume" | "stop", "time": seconds since
the epoch}) atomically with `request`; every training process polls it between steps, at most a
few times a second. A request written before the loop's control was made (one left by an earlier
run of the folder) is ignored. Under torchrun every rank reads the file; the stop is agreed over
the ranks like a signal's (distributed.reduce_step), so all stop after the same step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from .. import runs
from ..util.atomic import atomic_write_json
from .control import RunControl

REQUESTS = ("pause", "resume", "stop")
POLL_S = 0.25


def request(run_dir: Path, what: str) -> None:
    """Ask the loop training `run_dir` to pause, resume or stop (at its next step boundary).

    Raises ValueError for another request, OSError when the folder cannot be written."""
    if what not in REQUESTS:
        raise ValueError(f"{what!r}: one of {', '.join(REQUESTS)}")
    atomic_write_json(Path(run_dir) / runs.CONTROL, {"request": what, "time": time.time()},
                      parents=False)


class FolderControl(RunControl):
    """A RunControl that also obeys the run folder's control.json (see the module's note)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.path = Path(run_dir) / runs.CONTROL
        self.since = time.time()
        self._seen = 0.0  # the time of the last request applied
        self._polled = 0.0

    def poll(self) -> None:
        """Apply a new request from the file (cheap: at most every POLL_S seconds)."""
        now = time.monotonic()
        if now - self._polled < POLL_S:
            return
        self._polled = now
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            what, when = data["request"], float(data["time"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # no request (or one being replaced): nothing to do
        if when < self.since or when <= self._seen or what not in REQUESTS:
            return
        self._seen = when
        {"pause": self.pause, "resume": self.resume, "stop": self.stop}[what]()

    @property
    def stop_requested(self) -> bool:
        self.poll()
        return super().stop_requested

    @property
    def paused(self) -> bool:
        self.poll()
        return super().paused

    def wait_if_paused(self, on_pause: Callable[[], None] | None = None) -> None:
        if not self.paused:
            return
        if on_pause is not None:
            on_pause()
        while self.paused:
            time.sleep(POLL_S)
