"""Qt tests run offscreen, and no test may leave a QThread running."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QThread  # noqa: E402

_started: list[QThread] = []
_original_start = QThread.start


def _tracking_start(self: QThread, *args: object) -> None:
    _started.append(self)
    _original_start(self, *args)


@pytest.fixture(autouse=True)
def no_thread_left_running(qtbot):
    """Fail any test that leaves a QThread running when it ends."""
    QThread.start = _tracking_start  # type: ignore[method-assign]
    _started.clear()
    yield
    QThread.start = _original_start  # type: ignore[method-assign]
    running = []
    for thread in list(_started):
        try:
            if thread.isRunning():
                running.append(thread)
        except RuntimeError:  # the C++ object is gone: it finished and was deleted
            continue
    for thread in running:
        thread.quit()
        thread.wait(5000)
    assert not running, f"{len(running)} QThread(s) still running at the end of the test"
