"""The main window's first frame: what waits for it, and the start-up probe.

Loading PyTorch takes longer than the whole window takes to appear, so the app loads it once the
window has painted its first frame (`when_painted`). For bench/startup.py, when the environment
variable LMSTUDIO_APP_STARTUP_PROBE holds a number of seconds, `StartupProbe` prints on stdout,
as `startup <key> <value>` lines: the wall-clock time (seconds since the epoch) of the first
frame and of the engine's arrival, and the longest stall of a 10 ms heartbeat timer over that
many seconds after the first frame (how long the window could not answer input); then it
closes the window. Without the variable, no probe runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

PROBE_ENV = "LMSTUDIO_APP_STARTUP_PROBE"
HEARTBEAT_MS = 10
FALLBACK_MS = 3000  # a platform that never paints (offscreen) still gets its callbacks


def _application() -> QCoreApplication:
    """The running application; RuntimeError before one is made."""
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("no QApplication: make one before showing a window")
    return app


class _FirstPaint(QObject):
    """Calls `fn` once, just after the first paint of any widget of `window` (or after
    FALLBACK_MS when none comes)."""

    def __init__(self, window: QWidget, fn: Callable[[], None]) -> None:
        super().__init__(window)
        self.window, self.fn, self.done = window, fn, False
        _application().installEventFilter(self)
        QTimer.singleShot(FALLBACK_MS, self, self._fire)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (not self.done and event.type() == QEvent.Type.Paint and isinstance(obj, QWidget)
                and obj.window() is self.window):
            # The paint cycle, and the flush of its frame, ends before the next event turn.
            QTimer.singleShot(0, self, self._fire)
        return False

    def _fire(self) -> None:
        if not self.done:
            self.done = True
            _application().removeEventFilter(self)
            self.fn()


def when_painted(window: QWidget, fn: Callable[[], None]) -> None:
    """Run `fn` (in the GUI thread) once `window` has shown its first frame."""
    _FirstPaint(window, fn)


def probe_seconds() -> float | None:
    """The seconds to watch after the first frame, or None when no probe is asked for."""
    raw = os.environ.get(PROBE_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def _say(key: str, value: float) -> None:
    print(f"startup {key} {value:.6f}", flush=True)


class StartupProbe(QObject):
    """Prints the first frame's time, the engine's, and the event loop's longest stall."""

    def __init__(self, window: QWidget, seconds: float) -> None:
        super().__init__(window)
        self.window = window
        self.seconds = seconds
        self._beat = QElapsedTimer()
        self.max_gap_ms = 0
        self.max_gap_end = 0.0
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(HEARTBEAT_MS)
        self._heartbeat.timeout.connect(self._on_beat)
        when_painted(window, self._first_frame)

    def engine_ready(self, *_: object) -> None:
        _say("engine_ready_epoch", time.time())

    def _first_frame(self) -> None:
        _say("first_frame_epoch", time.time())
        self._beat.start()
        self._heartbeat.start()
        QTimer.singleShot(int(self.seconds * 1000), self, self._finish)

    def _on_beat(self) -> None:
        gap = self._beat.restart() - HEARTBEAT_MS
        if gap > self.max_gap_ms:
            self.max_gap_ms, self.max_gap_end = gap, time.time()

    def _finish(self) -> None:
        self._heartbeat.stop()
        _say("max_stall_ms", float(max(self.max_gap_ms, 0)))
        _say("max_stall_end_epoch", self.max_gap_end)
        self.window.close()
