"""An instrument view that computes in one BackgroundJob at a time.

The Hard tokens and Attention views share it: while the job runs their button is disabled and
their status line says what is being done; a failure's message takes its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from ...jobs import BackgroundJob


class OneJobView(QWidget):
    """Base of a view with a button that starts a job, and a status line."""

    sig_failed = Signal(str)
    # Set by the view's __init__, before any job can start.
    button: QAbstractButton
    status: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: BackgroundJob | None = None

    def ready(self) -> bool:
        """Whether the view has what its job needs (a run with weights)."""
        raise NotImplementedError

    def start_job(self, fn: Callable[[], Any], show: Callable[[Any], None], doing: str) -> None:
        """Run `fn` in a BackgroundJob (one at a time), then `show` its result in this thread."""
        job = BackgroundJob(lambda report, cancel: fn(), self)
        job.sig_result.connect(show)
        job.sig_error.connect(self._on_error)
        job.sig_finished.connect(self._on_finished)
        self.job = job
        self.button.setEnabled(False)
        self.status.setText(doing)
        job.start()

    def _on_error(self, message: str) -> None:
        self.status.setText(message)
        self.sig_failed.emit(message)

    def _on_finished(self) -> None:
        self.job = None
        self.button.setEnabled(self.ready())

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.wait_finished(30000)
