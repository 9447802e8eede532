"""Fill the mask with a BERT run: a sentence with one [MASK], and the pieces ranked that fit."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .task_panels import add_bar_row, clear_grid

DEFAULT_MASK_TEXT = "It is a truth universally [MASK]."


class MaskPanel(QWidget):
    """The sentence, how many predictions, and one bar per predicted piece."""

    sig_requested = Signal()  # the button or Return: predict for the sentence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mask_edit = QLineEdit(DEFAULT_MASK_TEXT)
        self.mask_edit.setAccessibleName("Sentence with [MASK]")
        self.mask_button = QPushButton("Fill the mask")
        self.mask_button.clicked.connect(self.sig_requested)
        self.mask_edit.returnPressed.connect(self.sig_requested)
        self.top_n_spin = QSpinBox()
        self.top_n_spin.setRange(1, 50)
        self.top_n_spin.setValue(5)
        row = QHBoxLayout()
        row.addWidget(self.mask_edit, 1)
        row.addWidget(QLabel("Top"))
        row.addWidget(self.top_n_spin)
        row.addWidget(self.mask_button)
        self.results_grid = QGridLayout()
        self.results_grid.setColumnStretch(1, 1)
        results = QGroupBox("Predictions for [MASK]")
        results.setLayout(self.results_grid)
        note = QLabel("Write a sentence with one [MASK]; the model ranks the pieces that fit.")
        note.setWordWrap(True)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addLayout(row)
        v.addWidget(results)
        v.addStretch(1)

    def show_predictions(self, predictions: list[tuple[str, float]]) -> None:
        """One row per (piece, probability), likeliest first as given."""
        clear_grid(self.results_grid)
        for row, (piece, prob) in enumerate(predictions):
            label = QLabel(piece.replace(" ", "\u00b7") or "\u2205")
            label.setToolTip(repr(piece))
            add_bar_row(self.results_grid, row, label, prob, 14)
