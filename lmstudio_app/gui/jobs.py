"""Background jobs: run an engine call in a QThread and hear about it through signals.

The canonical wiring: a QObject worker moved to a QThread, `started -> work`, the worker's
`finished -> thread.quit`, the thread's `finished -> deleteLater`. The GUI thread never waits on
the job: it listens to signals, and a cancel is a threading.Event the engine polls (never a
queued slot on the busy worker).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QThread, QTimer, Signal, SignalInstance, Slot

from ..core.errors import UserError

log = logging.getLogger(__name__)

# A job function receives `report(value)` to send progress and `cancel`, an Event to poll.
JobFn = Callable[[Callable[[Any], None], threading.Event], Any]


class JobCancelled(Exception):
    """Raised by a job function that noticed its cancel event."""


class _Worker(QObject):
    progress = Signal(object)
    result = Signal(object)
    error = Signal(str, object)  # the line, the config fields at fault
    cancelled = Signal()
    done = Signal()

    def __init__(self, fn: JobFn | Callable[[], Any], cancel: threading.Event,
                 plain: bool) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel
        self._plain = plain  # fn takes no arguments

    @Slot()
    def work(self) -> None:
        try:
            value = self._fn() if self._plain else self._fn(  # type: ignore[call-arg]
                self.progress.emit, self._cancel)
        except JobCancelled:
            self.cancelled.emit()
        except UserError as exc:
            self.error.emit(str(exc), exc.fields)
        except Exception as exc:  # a bug: the log keeps the traceback, the user gets a line
            log.error("background job failed:\n%s", traceback.format_exc())
            if self._cancel.is_set():
                self.cancelled.emit()
            else:
                self.error.emit(f"{type(exc).__name__}: {exc} (details in the log file)", ())
        else:
            if self._cancel.is_set():
                self.cancelled.emit()
            else:
                self.result.emit(value)
        finally:
            self.done.emit()


class BackgroundJob(QObject):
    """One engine call in its own QThread.

    Signals (delivered in the GUI thread): `sig_progress(object)`, `sig_result(object)`,
    `sig_error(str)` (one readable line), `sig_cancelled()`, then always `sig_finished()` once
    the thread has ended. A form that outlines the settings at fault listens to
    `sig_error_fields(str, tuple)` instead: the same line and the UserError's `fields` (the config
    fields it names; empty for a bug or a mistake that is no one setting's).
    """

    sig_progress = Signal(object)
    sig_result = Signal(object)
    sig_error = Signal(str)
    sig_error_fields = Signal(str, object)
    sig_cancelled = Signal()
    sig_finished = Signal()

    def __init__(self, fn: JobFn | None, parent: QObject | None = None, *,
                 call: Callable[[], Any] | None = None) -> None:
        """`fn(report, cancel)` runs in the thread; or `call()`, given instead (fn None), for
        work that reports and is cancelled by its own means (a Trainer's sink and control)."""
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self._thread: QThread | None = QThread()
        work = call if call is not None else fn
        if work is None:
            raise TypeError("a BackgroundJob needs fn or call")
        self._worker = _Worker(work, self.cancel_event, plain=call is not None)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.work)
        # Receivers are this object (GUI thread): queued connections, slots run in the GUI thread.
        self._worker.progress.connect(self.sig_progress)
        self._worker.result.connect(self.sig_result)
        self._worker.error.connect(self._on_error)
        self._worker.cancelled.connect(self.sig_cancelled)
        self._worker.done.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False

    def start(self) -> None:
        if self._thread is None:
            raise RuntimeError("a BackgroundJob runs once; create a new one")
        self._running = True
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self._running

    @Slot(str, object)
    def _on_error(self, message: str, fields: tuple[str, ...]) -> None:
        self.sig_error.emit(message)
        self.sig_error_fields.emit(message, tuple(fields))

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, self._thread = self._thread, None
        self._running = False
        if thread is not None:
            thread.wait()  # already finished: returns at once
            thread.deleteLater()
        self._worker.deleteLater()
        self.sig_finished.emit()

    def wait_finished(self, timeout_ms: int = 30000) -> bool:
        """Wait until the job has finished (for closing the window and for tests), in a local
        event loop that `sig_finished` or the timeout ends; True when it has finished.

        Never blocks in QThread.wait() while the worker may still need the GIL or the event
        loop: the window's events go on being handled meanwhile.
        """
        return wait_for(self.sig_finished, lambda: not self._running, timeout_ms)


def wait_for(signal: SignalInstance, done: Callable[[], bool], timeout_ms: int) -> bool:
    """Run a local event loop until `signal` is emitted with `done()` true, or `timeout_ms`
    have passed; returns `done()`. Queued signals (a worker thread's) are delivered meanwhile."""
    if done():
        return True
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)

    def check() -> None:
        if done():
            loop.quit()

    signal.connect(check)
    timer.start(max(0, timeout_ms))
    try:
        loop.exec()
    finally:
        timer.stop()
        try:
            signal.disconnect(check)
        except RuntimeError:  # the sender was deleted meanwhile (a finished job's deleteLater)
            pass
    return done()
