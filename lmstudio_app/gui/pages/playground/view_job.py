"""An instrument view that computes in one BackgroundJob at a time.

The Hard tokens and Attention views share it: while the job runs their button is disabled and
their status line says what is being done; a failure's message takes its place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLayout,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...jobs import BackgroundJob
from .checkpoints import checkpoint_choices


def note_label(text: str) -> QLabel:
    """A view's word-wrapped line of explanation."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def column(owner: QWidget | None, items: Sequence[tuple[QWidget | QLayout, int]]) -> QWidget:
    """`owner` (a new widget when None) laid out as a column of (widget or layout, stretch),
    without margins."""
    owner = owner if owner is not None else QWidget()
    v = QVBoxLayout(owner)
    v.setContentsMargins(0, 0, 0, 0)
    for item, stretch in items:
        if isinstance(item, QLayout):
            v.addLayout(item, stretch)
        else:
            v.addWidget(item, stretch)
    return owner


def side_by_side(left: QWidget, right: QWidget, stretch: tuple[int, int]) -> QSplitter:
    split = QSplitter()
    split.addWidget(left)
    split.addWidget(right)
    split.setStretchFactor(0, stretch[0])
    split.setStretchFactor(1, stretch[1])
    return split


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


class CheckpointView(OneJobView):
    """A view of one run at a checkpoint picked on a slider (the run's kept snapshots in the
    order of training, then the latest and the best); moving the slider once something is shown
    calls `redo`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.choices: list[tuple[str, str | int]] = []
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        self.slider.setToolTip("The run's checkpoints, in the order of training")
        self.slider.valueChanged.connect(self._on_slider)
        self.checkpoint_label = QLabel()

    def set_run(self, run: Path | None, checkpoint: str | int | None = None) -> None:
        """Offer `run`'s checkpoints on the slider (starting at `checkpoint` when it has it)."""
        self.run = run
        self.choices = checkpoint_choices(run) if run is not None else []
        keys = [key for _label, key in self.choices]
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self.choices) - 1))
        self.slider.setValue(keys.index(checkpoint) if checkpoint in keys else
                             len(self.choices) - 1 if self.choices else 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.choices) > 1)
        self._label_checkpoint()
        self.button.setEnabled(bool(self.choices) and self.job is None)

    def ready(self) -> bool:
        return bool(self.choices)

    def checkpoint(self) -> str | int | None:
        return self.choices[self.slider.value()][1] if self.choices else None

    def _label_checkpoint(self) -> None:
        self.checkpoint_label.setText(self.choices[self.slider.value()][0] if self.choices
                                      else "no weights yet")

    def shown(self) -> bool:
        """Whether something is shown (then the slider redoes it)."""
        raise NotImplementedError

    def redo(self) -> None:
        raise NotImplementedError

    def _on_slider(self, _value: int) -> None:
        self._label_checkpoint()
        if self.shown():
            self.redo()
