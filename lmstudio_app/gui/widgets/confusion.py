"""ConfusionView: a classify run's confusion matrix as a heatmap, and the test texts behind a cell.

Rows are the true labels and columns the predicted ones; a cell's colour follows its count and
the count is written on it. Clicking a cell lists the misclassified test texts for that (true,
predicted) pair, from results.json's "mistakes" (runs saved before it existed show counts only).
ConfusionDialog shows the same view in a window of its own (the Runs page opens one per run).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .tables import read_only_table

_LOW = (247, 251, 255)  # white-blue for 0 ...
_HIGH = (8, 69, 148)  # ... deep blue for the largest count


def has_confusion(report: dict[str, Any]) -> bool:
    """Whether a results.json report holds a confusion matrix to show."""
    return bool(report.get("confusion")) and bool(report.get("labels"))


def cell_colour(count: int, largest: int) -> QColor:
    t = count / largest if largest > 0 else 0.0
    return QColor(*(round(a + (b - a) * t) for a, b in zip(_LOW, _HIGH, strict=True)))


class ConfusionView(QWidget):
    """The heatmap above, the chosen cell's texts below."""

    sig_cell_chosen = Signal(str, str, list)  # true label, predicted label, texts

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []
        self.mistakes: list[dict[str, str]] | None = None
        self.table = read_only_table(stretch=True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self.choose_cell)
        self.caption = QLabel("Rows: true label · columns: predicted label. Click a cell for "
                              "its test texts.")
        self.caption.setWordWrap(True)
        self.cell_label = QLabel(" ")
        self.texts = QPlainTextEdit()
        self.texts.setReadOnly(True)
        self.texts.setMaximumHeight(120)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.caption)
        v.addWidget(self.table, 1)
        v.addWidget(self.cell_label)
        v.addWidget(self.texts)

    def set_report(self, report: dict[str, Any]) -> None:
        """Show a classify report (results.json): its labels, confusion and mistakes."""
        self.labels = [str(x) for x in report.get("labels", [])]
        self.matrix = [[int(c) for c in row] for row in report.get("confusion", [])]
        self.mistakes = report.get("mistakes")
        n = len(self.labels)
        self.table.clear()
        self.table.setRowCount(n)
        self.table.setColumnCount(n)
        self.table.setHorizontalHeaderLabels([f"→ {x}" for x in self.labels])
        self.table.setVerticalHeaderLabels(self.labels)
        largest = max((c for row in self.matrix for c in row), default=0)
        for i, row in enumerate(self.matrix):
            for j, count in enumerate(row):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                colour = cell_colour(count, largest)
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor("white" if colour.lightness() < 128
                                                  else "black")))
                item.setToolTip(f"true {self.labels[i]}, predicted {self.labels[j]}: {count}")
                self.table.setItem(i, j, item)
        # Every row visible (no scrolling inside a 3 x 3 matrix): header plus n text rows.
        row_h = self.table.fontMetrics().height() + 10
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + n * row_h + 2 * self.table.frameWidth())
        self.cell_label.setText(" ")
        self.texts.clear()
        if self.mistakes is None:
            self.texts.setPlaceholderText("This run saved counts only (no test texts).")

    def cell_texts(self, row: int, col: int) -> list[str] | None:
        """The misclassified texts of a cell; None when the run did not save them."""
        if self.mistakes is None:
            return None
        true, pred = self.labels[row], self.labels[col]
        return [m["text"] for m in self.mistakes
                if m.get("label") == true and m.get("predicted") == pred]

    def choose_cell(self, row: int, col: int) -> None:
        if not (0 <= row < len(self.labels) and 0 <= col < len(self.labels)):
            return
        true, pred = self.labels[row], self.labels[col]
        count = self.matrix[row][col]
        texts = self.cell_texts(row, col)
        self.texts.clear()
        if row == col:
            self.cell_label.setText(f"{count} test texts of {true} labelled correctly.")
            texts = []
        elif count == 0:
            self.cell_label.setText(f"No test text of {true} was predicted as {pred}.")
            texts = []
        elif texts is None:
            self.cell_label.setText(f"{count} texts of {true} predicted as {pred} (this run "
                                    "saved counts only).")
            texts = []
        else:
            self.cell_label.setText(f"{count} texts of {true} predicted as {pred}:")
            self.texts.setPlainText("\n".join(f"• {t}" for t in texts))
        self.sig_cell_chosen.emit(true, pred, texts)


class ConfusionDialog(QDialog):
    """A run's confusion heatmap in a window of its own, with the test scores above it."""

    def __init__(self, report: dict[str, Any], run_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Confusion matrix: {run_name}")
        keys = ("accuracy", "macro_f1")
        scores = " · ".join(f"{k} {report[k]:.3f}" for k in keys
                            if isinstance(report.get(k), float))
        n = report.get("n")
        self.summary = QLabel(f"Test split{f' ({n} examples)' if n else ''}"
                              + (f": {scores}" if scores else ""))
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = ConfusionView()
        self.view.set_report(report)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addWidget(self.summary)
        v.addWidget(self.view, 1)
        v.addWidget(buttons)
        n_labels = len(self.view.labels)
        self.resize(max(520, 140 + 110 * n_labels), max(460, 300 + 40 * n_labels))
