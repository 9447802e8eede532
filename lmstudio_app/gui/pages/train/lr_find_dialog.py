"""The learning-rate finder's dialog: the range test (core/training/lr_find.py) runs in a
background job while its smoothed loss is drawn against the rate (log x); the suggestion is
marked and Apply puts it in the form's Learning rate field."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.config import RunConfig
from ...jobs import BackgroundJob, JobCancelled


def _work(cfg: RunConfig) -> Callable[[Callable[[Any], None], threading.Event], Any]:
    def work(report: Callable[[Any], None], cancel: threading.Event) -> Any:
        from ....core.training.lr_find import lr_find

        result = lr_find(cfg, on_step=lambda i, lr, loss: report((lr, loss)),
                         should_stop=cancel.is_set)
        if result.stopped:
            raise JobCancelled()
        return result

    return work


class LrFindDialog(QDialog):
    """Runs the range test for `cfg` when shown; `sig_apply(rate)` on Apply."""

    sig_apply = Signal(float)

    def __init__(self, cfg: RunConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learning-rate finder")
        self.resize(560, 400)
        self.cfg = cfg
        self.suggestion: float | None = None
        self._lrs: list[float] = []
        self._losses: list[float] = []
        layout = QVBoxLayout(self)
        self.plot = pg.PlotWidget()
        self.plot.setAccessibleName("Loss against learning rate")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "smoothed training loss (nats)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.mark = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1.5))
        self.mark.hide()
        self.plot.addItem(self.mark)
        layout.addWidget(self.plot, 1)
        self.status = QLabel("Sweeping the learning rate on a copy of the model…")
        self.status.setAccessibleName("Finder status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.setToolTip("Put the suggested rate in the Learning rate field")
        buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self._apply)
        layout.addWidget(buttons)
        self.job = BackgroundJob(_work(cfg), self)
        self.job.sig_progress.connect(self._on_point)
        self.job.sig_result.connect(self._on_result)
        self.job.sig_error.connect(self._on_error)

    def start(self) -> None:
        self.job.start()

    @Slot(object)
    def _on_point(self, point: tuple[float, float]) -> None:
        lr, loss = point
        if not math.isfinite(loss):
            return
        self._lrs.append(lr)
        self._losses.append(loss)
        self.curve.setData(self._lrs, self._losses)

    @Slot(object)
    def _on_result(self, result: Any) -> None:
        self.suggestion = result.suggestion
        n = len(result.lr)
        ended = "stopped early: the loss diverged" if result.stopped_early else "done"
        if self.suggestion is None:
            self.status.setText(f"{n} steps ({ended}): too few for a suggestion.")
            return
        self.mark.setValue(math.log10(self.suggestion))
        self.mark.show()
        self.status.setText(f"{n} steps ({ended}). Suggested learning rate: "
                            f"{self.suggestion:.3g} (steepest descent of the smoothed loss)")
        self.apply_button.setEnabled(True)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.status.setText(f"The finder failed: {message}")

    @Slot()
    def _apply(self) -> None:
        if self.suggestion is not None:
            self.sig_apply.emit(self.suggestion)
        self.accept()

    def done(self, code: int) -> None:
        """Closing stops a sweep still running (its thread ends at the next step)."""
        self.job.cancel()
        super().done(code)
