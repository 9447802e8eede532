"""Fill the mask with a BERT run: a sentence with one [MASK], and the pieces ranked that fit."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DEFAULT_MASK_TEXT = "It is a truth universally [MASK]."


class MaskPanel(QWidget):
    """The sentence, how many predictions, and one bar per predicted piece."""

    sig_requested = Signal()  # the button or Return: predict for the sentence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mask_edit = QLineEdit(DEFAULT_MASK_TEXT)
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
        while self.results_grid.count():
            item = self.results_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for row, (piece, prob) in enumerate(predictions):
            shown = piece.replace(" ", "\u00b7") or "\u2205"
            label = QLabel(shown)
            label.setToolTip(repr(piece))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(1000 * prob))
            bar.setTextVisible(False)
            bar.setMaximumHeight(14)
            self.results_grid.addWidget(label, row, 0)
            self.results_grid.addWidget(bar, row, 1)
            self.results_grid.addWidget(QLabel(f"{prob:.1%}"), row, 2)
