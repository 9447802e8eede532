"""RunControl: how a client (the window, a signal handler) steers a running loop.

The loop polls these flags between steps; nothing is ever queued onto the busy worker, so a
stop or pause takes effect at the next step boundary whatever the worker is doing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class RunControl:
    """Thread-safe stop / pause / resume flags."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to see the stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self, on_pause: Callable[[], None] | None = None) -> None:
        """Block while paused (until resume or stop); `on_pause` runs once when a pause begins."""
        if self._running.is_set():
            return
        if on_pause is not None:
            on_pause()
        while not self._running.wait(timeout=0.1):
            pass

    @property
    def cancel_event(self) -> threading.Event:
        """The stop flag as an Event, for code that takes a plain `cancel` event."""
        return self._stop
