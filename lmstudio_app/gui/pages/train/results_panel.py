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
    QHBoxLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.training.compare import (
    SIDES,
    InitResult,
    Verdict,
    baselines_of,
    headline,
    summarize_pairs,
)
from ...widgets.confusion import ConfusionView, has_confusion
from ...widgets.tables import read_only_table
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
        self.metrics_plot.setAccessibleName("Validation metrics")
        self.confusion = ConfusionView()
        self.confusion.setAccessibleName("Confusion matrix")
        self.confusion.hide()
        metrics_row = QHBoxLayout()
        metrics_row.addWidget(self.metrics_plot, 1)
        metrics_row.addWidget(self.confusion, 1)
        mv.addLayout(metrics_row, 1)
        self.results_label = _selectable(QLabel(" "))
        self.results_label.setAccessibleName("Test results")
        mv.addWidget(self.results_label)
        self.compare_table = read_only_table(SIDES, stretch=True)
        self.compare_table.setAccessibleName("Comparison")
        self.compare_table.verticalHeader().setDefaultSectionSize(
            self.compare_table.fontMetrics().height() + 8)  # compact: five rows under the plots
        # The comparison keeps its verdict beside its table: a later run's test line replaces
        # results_label, not this caption.
        self.compare_caption = _selectable(QLabel(" "))
        self.compare_caption.setAccessibleName("Does pretraining help?")
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

    def add_metrics(self, step: int, extra: dict[str, float], **style: Any) -> None:
        """An evaluation's task metrics (MetricsPlot.add: `side`, `dashed` for a comparison)."""
        self.metrics_plot.add(step, extra, **style)

    def clear_metrics(self) -> None:
        self.metrics_plot.clear()

    def say(self, text: str) -> None:
        """The test line says `text` (why there are no test results)."""
        self.results_label.setText(text)

    def hide_comparison(self) -> None:
        self.compare_box.hide()

    def show_results(self, report: dict[str, Any]) -> None:
        """A fine-tuned run's test report (results.json): its figures, and its confusion matrix."""
        parts = [f"{k} {v:.3f}" for k, v in headline(report).items()]
        n = report.get("n")
        text = (f"Test split{f' ({n} examples)' if n else ''}: " + " · ".join(parts)
                if parts else "No test results were saved.")
        from ....core.objectives.baselines import baseline_lines  # imports PyTorch: not at start-up

        lines = baseline_lines(report.get("baselines") or {})
        if parts and lines:  # what the score means: the same split's baselines
            text += "\nBaselines on the same split: " + " · ".join(lines)
        self.results_label.setText(text)
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

    def show_comparison(self, pairs: list[tuple[InitResult, InitResult]],
                        said: Verdict) -> None:
        """Both sides' test figures (mean ± sd over the seeds that finished), steps and endings
        in the table, the baselines of the same split below them; the verdict above it."""
        summary = summarize_pairs(pairs)
        n = len(pairs)
        if summary:
            keys = list(summary)
            cells = [[_figure(summary[k], side, said.seeds) for k in keys] for side in SIDES]
        else:  # no seed finished both sides: each side's own figures where it has them
            found = [headline(r.report) for r in pairs[0]]
            keys = list(dict.fromkeys(k for h in found for k in h))
            cells = [[f"{h[k]:.3f}" if k in h else "–" for k in keys] for h in found]
        from ....core.objectives.baselines import TITLES  # imports PyTorch: not at start-up

        baselines = baselines_of(pairs)
        base_keys = [k for k in TITLES if isinstance(baselines.get(k), dict)]
        rows = [*keys, "steps", "ended", *(f"baseline: {TITLES[k]}" for k in base_keys)]
        table = self.compare_table
        table.clearSpans()
        table.setRowCount(len(rows))
        table.setVerticalHeaderLabels(rows)
        for col, values in enumerate(cells):
            sides = [pair[col] for pair in pairs]
            # A side stopped before it began has no folder (the page's job removes an empty one).
            ended = sorted({(r.error or r.reason) if r.run_dir.is_dir() else "did not run"
                            for r in sides})
            values = [*values, ", ".join(str(r.step) for r in sides), "; ".join(ended)]
            for row, text in enumerate(values):
                table.setItem(row, col, QTableWidgetItem(text))
        metric = said.metric or "accuracy"
        for i, key in enumerate(base_keys):  # one split for both sides: one cell across both
            row = len(keys) + 2 + i
            value = baselines[key].get(metric)
            table.setItem(row, 0, QTableWidgetItem(
                f"{metric} {value:.3f}" if isinstance(value, float) else "–"))
            table.setSpan(row, 0, 1, len(SIDES))
        if n > 1:
            table.setToolTip(f"Mean ± standard deviation over {said.seeds} seeds")
        # Tall enough for every row: the plots above can give way.
        table.setFixedHeight(table.horizontalHeader().height() + 2 * table.frameWidth()
                             + sum(table.rowHeight(r) for r in range(table.rowCount())))
        self.results_label.setText(" ")  # the verdict is said once, above its table
        note = baselines.get("note")
        self.compare_caption.setText(f"Does pretraining help? {said.text}"
                                     + (f"\n{note}" if isinstance(note, str) else ""))


def _figure(m: dict[str, float], side: str, seeds: int) -> str:
    """A side's figure: the score, or its mean ± sd over the seeds."""
    return f"{m[side]:.3f}" if seeds <= 1 else f"{m[side]:.3f} ± {m[side + '_sd']:.3f}"
