"""Two models, one prompt: pick two GPT runs (or two checkpoints of one run), write a prompt, and
both replies stream side by side with the same seed and sampling settings, each piece shaded by
its probability.

Each side is its own BackgroundJob over its own copy of its model (a ModelSlot per side), so
the two replies are written at once and no model is used by two threads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...jobs import BackgroundJob
from .background import ModelSlot, stream_reply
from .checkpoints import checkpoint_choices
from .shaded_text import ProbabilityLegend, ShadedText

SIDES = ("A", "B")


def stream_from(slot: ModelSlot, path: Path, checkpoint: str | int, prompt: str,
                settings: dict[str, Any], report: Callable[[Any], None],
                cancel: Any) -> list[Any]:
    """Load (or reuse) one side's model and stream its reply (TokenChoices)."""
    return stream_reply(slot.get(path, checkpoint), prompt, settings, report, cancel)


class _Side(QWidget):
    """One side: its run and checkpoint, and its reply."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.slot = ModelSlot()
        self.job: BackgroundJob | None = None
        self.outcome = ""
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(18)
        self.checkpoint_combo = QComboBox()
        self.run_combo.currentIndexChanged.connect(lambda _i: self._fill_checkpoints())
        self.reply_view = ShadedText()
        self.reply_view.setPlaceholderText(f"Reply {name} appears here.")
        self.chosen_label = QLabel()
        self.chosen_label.setTextFormat(Qt.TextFormat.RichText)
        self.chosen_label.setWordWrap(True)
        self.reply_view.sig_token_chosen.connect(
            lambda i: self.chosen_label.setText(self.reply_view.tokens[i].summary))
        pick = QGridLayout()
        pick.addWidget(QLabel(f"<b>{name}</b>"), 0, 0)
        pick.addWidget(self.run_combo, 0, 1)
        pick.addWidget(self.checkpoint_combo, 0, 2)
        pick.setColumnStretch(1, 1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(pick)
        v.addWidget(self.reply_view, 1)
        v.addWidget(self.chosen_label)

    def set_runs(self, found: list[tuple[str, Path]], prefer: int) -> None:
        keep = self.run()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for label, path in found:
            self.run_combo.addItem(label, str(path))
        paths = [p for _label, p in found]
        index = paths.index(keep) if keep in paths else min(prefer, len(found) - 1)
        self.run_combo.setCurrentIndex(index)
        self.run_combo.blockSignals(False)
        self._fill_checkpoints()

    def run(self) -> Path | None:
        data = self.run_combo.currentData()
        return Path(data) if data else None

    def checkpoint(self) -> str | int | None:
        data: str | int | None = self.checkpoint_combo.currentData()
        return data

    def _fill_checkpoints(self) -> None:
        keep = self.checkpoint()
        run = self.run()
        self.checkpoint_combo.clear()
        for label, key in checkpoint_choices(run) if run is not None else []:
            self.checkpoint_combo.addItem(label, key)
        at = self.checkpoint_combo.findData(keep)
        # The choice so far, else the last (best, or latest): a trained model, not a snapshot.
        self.checkpoint_combo.setCurrentIndex(at if at >= 0 else self.checkpoint_combo.count() - 1)

    def add_piece(self, choice: Any) -> None:
        self.reply_view.add_choice(choice)

    def reply(self) -> str:
        return "".join(t.data.text for t in self.reply_view.tokens)


class ComparePanel(QWidget):
    """Prompt, seed and Compare above; side A and side B below, streaming at once."""

    sig_finished = Signal()  # both replies are done (or stopped, or failed)

    def __init__(self, sampling: Callable[[], dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sampling = sampling  # the chat's sampling settings, read at each comparison
        note = QLabel("Two models, one prompt: the same seed and sampling settings (the Chat "
                      "tab's) for both, so the differences are the models'. Pick two runs, or "
                      "two checkpoints of one run.")
        note.setWordWrap(True)
        self.prompt_edit = QPlainTextEdit("It is a truth universally acknowledged")
        self.prompt_edit.setMaximumHeight(60)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(1)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.prompt_edit, 1)
        buttons = QVBoxLayout()
        seed = QHBoxLayout()
        seed.addWidget(QLabel("Seed"))
        seed.addWidget(self.seed_spin)
        buttons.addLayout(seed)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        self.sides = [_Side(name) for name in SIDES]
        for side in self.sides:
            side.checkpoint_combo.currentIndexChanged.connect(lambda _i: self._enable())
        both = QHBoxLayout()
        for side in self.sides:
            both.addWidget(side, 1)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #c0392b; }")
        self.legend = ProbabilityLegend("probability")
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addLayout(row)
        v.addLayout(both, 1)
        v.addWidget(self.legend)
        v.addWidget(self.error_label)

    def set_runs(self, found: list[tuple[str, Path]]) -> None:
        """The GPT runs with weights, as (label, folder); A takes the first, B the second."""
        for i, side in enumerate(self.sides):
            side.set_runs(found, i)
        self._enable()

    def busy(self) -> bool:
        return any(s.job is not None for s in self.sides)

    def _enable(self) -> None:
        ready = all(s.run() is not None and s.checkpoint() for s in self.sides)
        self.compare_button.setEnabled(ready and not self.busy())
        self.stop_button.setEnabled(self.busy())

    def compare(self) -> None:
        if self.busy():
            return
        prompt = self.prompt_edit.toPlainText()
        settings = dict(self.sampling(), seed=self.seed_spin.value())
        self.error_label.setText("")
        for side in self.sides:
            run, checkpoint = side.run(), side.checkpoint()
            if run is None or not checkpoint:
                self.error_label.setText("Pick a run with weights on both sides.")
                return
        for side in self.sides:
            self._start(side, prompt, settings)
        self._enable()

    def _start(self, side: _Side, prompt: str, settings: dict[str, Any]) -> None:
        run, checkpoint, slot = side.run(), side.checkpoint(), side.slot
        assert run is not None and checkpoint is not None  # compare() checked both sides
        side.reply_view.clear()
        side.reply_view.add_plain(prompt, bold=True)
        side.chosen_label.setText("")
        side.outcome = "failed"
        job = BackgroundJob(lambda report, cancel: stream_from(
            slot, run, checkpoint, prompt, settings, report, cancel), self)
        job.sig_progress.connect(side.add_piece)
        job.sig_result.connect(lambda _r: setattr(side, "outcome", "done"))
        job.sig_cancelled.connect(lambda: setattr(side, "outcome", "stopped"))
        job.sig_error.connect(lambda m: self.error_label.setText(f"{side.name}: {m}"))
        job.sig_finished.connect(lambda: self._on_finished(side))
        side.job = job
        job.start()

    def _on_finished(self, side: _Side) -> None:
        side.job = None
        if side.outcome == "stopped":
            side.reply_view.add_plain(" [stopped]")
        self._enable()
        if not self.busy():
            self.sig_finished.emit()

    def stop(self) -> None:
        for side in self.sides:
            if side.job is not None:
                side.job.cancel()

    def shutdown(self) -> None:
        jobs = [s.job for s in self.sides if s.job is not None]
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.wait_finished(30000)
