"""What a fine-tuning run is judged by: validation scores as it trains, the test split's figures
and confusion matrix when it ends, and the pretrained-versus-scratch comparison's table with the
verdict above it.

The figures and the verdict are the engine's (core.training.compare: headline, verdict), so the
window and the command line say the same.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.training.compare import SIDES, InitResult, Verdict, headline
from ...widgets.confusion import ConfusionView, has_confusion
from .metrics_plot import MetricsPlot


def _selectable(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ResultsPanel(QWidget):
    """Validation metrics and confusion side by side, the test line, the comparison below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        mv = QVBoxLayout(self)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addWidget(QLabel("Validation metrics"))
        self.metrics_plot = MetricsPlot()
        self.confusion = ConfusionView()
        self.confusion.hide()
        metrics_row = QHBoxLayout()
        metrics_row.addWidget(self.metrics_plot, 1)
        metrics_row.addWidget(self.confusion, 1)
        mv.addLayout(metrics_row, 1)
        self.results_label = _selectable(QLabel(" "))
        mv.addWidget(self.results_label)
        self.compare_table = QTableWidget(0, len(SIDES))
        self.compare_table.setHorizontalHeaderLabels(list(SIDES))
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.compare_table.verticalHeader().setDefaultSectionSize(
            self.compare_table.fontMetrics().height() + 8)  # compact: five rows under the plots
        # The comparison keeps its verdict beside its table: a later run's test line replaces
        # results_label, not this caption.
        self.compare_caption = _selectable(QLabel(" "))
        self.compare_box = QWidget()
        cb = QVBoxLayout(self.compare_box)
        cb.setContentsMargins(0, 0, 0, 0)
        cb.addWidget(self.compare_caption)
        cb.addWidget(self.compare_table)
        self.compare_box.hide()
        mv.addWidget(self.compare_box)

    def clear(self) -> None:
        """Before a new run: no points, no test line, no matrix (a comparison stays)."""
        self.metrics_plot.clear()
        self.results_label.setText(" ")
        self.confusion.hide()

    def show_results(self, report: dict[str, Any]) -> None:
        """A fine-tuned run's test report (results.json): its figures, and its confusion matrix."""
        parts = [f"{k} {v:.3f}" for k, v in headline(report).items()]
        n = report.get("n")
        self.results_label.setText(
            f"Test split{f' ({n} examples)' if n else ''}: " + " · ".join(parts)
            if parts else "No test results were saved.")
        if has_confusion(report):
            self.confusion.set_report(report)
            self.confusion.show()

    # -- does pretraining help?

    def begin_comparison(self) -> None:
        self.compare_table.setRowCount(0)
        self.compare_caption.setText("Does pretraining help? Comparing: fine-tuning from the "
                                     "pretrained run, then from random weights…")
        self.compare_box.show()
        self.confusion.hide()
        self.results_label.setText(" ")

    def comparison_failed(self) -> None:
        self.compare_caption.setText("Does pretraining help? The comparison failed; see the "
                                     "message on the left.")

    def show_comparison(self, results: tuple[InitResult, InitResult], said: Verdict) -> None:
        """Both sides' test figures, steps and endings in the table; the verdict above it."""
        pre, scr = (headline(r.report) for r in results)
        keys = [k for k in pre if k in scr] or list(pre) or list(scr)
        rows = [*keys, "steps", "ended"]
        table = self.compare_table
        table.setRowCount(len(rows))
        table.setVerticalHeaderLabels(rows)
        # A side stopped before it began has no folder (the page's job removes an empty one).
        for col, (r, h) in enumerate(zip(results, (pre, scr), strict=True)):
            values = [f"{h[k]:.3f}" if k in h else "–" for k in keys]
            values += [str(r.step), (r.error or r.reason) if r.run_dir.is_dir()
                       else "did not run"]
            for row, text in enumerate(values):
                table.setItem(row, col, QTableWidgetItem(text))
        # Tall enough for every row: the plots above can give way.
        table.setFixedHeight(table.horizontalHeader().height() + 2 * table.frameWidth()
                             + sum(table.rowHeight(r) for r in range(table.rowCount())))
        self.results_label.setText(" ")  # the verdict is said once, above its table
        self.compare_caption.setText(f"Does pretraining help? {said.text}")
