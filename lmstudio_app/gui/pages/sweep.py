"""The Sweep page: several real runs over chosen fields of a finished run's settings (grid,
random or Optuna's TPE, the median pruner fed by each evaluation), trained one after another in
a background job; a live table of trials and their validation curves overlaid; the best
settings written to a file `--config` reads.

The engine's `core.training.sweep.Sweep` does the work; the page only shows what it reports.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core import runs
from ...core.training.sinks import EvalMetrics, MetricsSink
from ..jobs import BackgroundJob
from ..state import AppState

FIXED_COLUMNS = ("Trial", "Best val loss", "Step", "State")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


class _Reporter(MetricsSink):
    """Sends each evaluation of trial `number` to the page (through the job's report)."""

    def __init__(self, report: Any, number: int) -> None:
        self.report, self.number = report, number

    def evaluation(self, m: EvalMetrics) -> None:
        self.report(("eval", self.number, m.step, m.val_loss))


class SweepPage(QWidget):
    title = "Sweep"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.job: BackgroundJob | None = None
        self.sweep: Any = None
        self.base: Any = None
        self.result: Any = None
        self.curves: dict[int, tuple[list[float], list[float], Any]] = {}
        self.keys: list[str] = []

        self.base_combo = QComboBox()
        self.base_combo.setToolTip("The run whose settings (data, model, training) each trial "
                                   "starts from")
        self.params_edit = QPlainTextEdit("learning_rate=1e-4,3e-4,1e-3")
        self.params_edit.setPlaceholderText("one field per line: learning_rate=1e-4,3e-4")
        self.params_edit.setMaximumHeight(70)
        self.method_combo = QComboBox()
        self.method_combo.addItems(["grid", "random", "tpe"])
        self.trials_spin = QSpinBox()
        self.trials_spin.setRange(0, 1000)
        self.trials_spin.setSpecialValueText("every combination")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(0, 10_000_000)
        self.steps_spin.setSpecialValueText("the run's")
        form = QFormLayout()
        form.addRow("Base run", self.base_combo)
        form.addRow("Fields", self.params_edit)
        form.addRow("Method", self.method_combo)
        form.addRow("Trials", self.trials_spin)
        form.addRow("Steps per trial", self.steps_spin)

        self.start_button = QPushButton("Start sweep")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.apply_button = QPushButton("Apply best…")
        self.apply_button.setToolTip("Write the best trial's settings to a file for "
                                     "`lmstudio-app pretrain --config FILE`")
        self.apply_button.clicked.connect(self._ask_apply)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.apply_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.status = QLabel("Choose a finished run and the values to try.")
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, len(FIXED_COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "validation loss (nats)")
        self.plot.addLegend()
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        state.sig_runs_changed.connect(self.refresh_runs)
        self.refresh_runs()
        self._update_buttons()

    # -- the form

    def refresh_runs(self) -> None:
        """The finished runs of the runs root, newest first, as base choices."""
        keep = self.base_combo.currentData()
        self.base_combo.clear()
        for s in runs.list_runs(self.state.runs_root):
            if s.state in ("completed", "stopped"):
                self.base_combo.addItem(s.name, str(s.path))
        if keep is not None:
            self.base_combo.setCurrentIndex(max(0, self.base_combo.findData(keep)))
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.job is not None
        self.start_button.setEnabled(not running and self.base_combo.count() > 0)
        self.stop_button.setEnabled(running)
        self.apply_button.setEnabled(self.result is not None and self.result.best is not None)

    def start(self) -> bool:
        """Check the form, then train the sweep in a background job. False (and the reason
        in the status line) when the form is refused."""
        from ...core.errors import UserError
        from ...core.training.sweep import Sweep, parse_param

        if self.job is not None or self.base_combo.currentData() is None:
            return False
        lines = [ln for ln in self.params_edit.toPlainText().splitlines() if ln.strip()]
        try:
            base = runs.read_config(Path(self.base_combo.currentData()))
            if self.steps_spin.value():
                base.train.max_steps = self.steps_spin.value()
            space = dict(parse_param(line) for line in lines)
            sweep = Sweep(base, space, method=self.method_combo.currentText(),
                          trials=self.trials_spin.value() or None)
        except UserError as exc:
            self.status.setText(str(exc))
            return False
        self.sweep, self.base, self.result = sweep, base, None
        self._reset_view(list(space))
        root = self.state.runs_root

        def work(report: Any, cancel: threading.Event) -> Any:
            folder = runs.new_run_dir(root, f"sweep-{base.name or 'run'}")
            report(("folder", folder))
            return sweep.run(folder, sink_for=lambda row: _Reporter(report, row.number),
                             on_trial=lambda row: report(("trial", _copy(row))))

        self.job = BackgroundJob(work, self)
        self.job.sig_progress.connect(self._on_progress)
        self.job.sig_result.connect(self._on_result)
        self.job.sig_error.connect(self.status.setText)
        self.job.sig_finished.connect(self._on_finished)
        self.status.setText(f"Sweeping {sweep.n_trials} trials…")
        self.job.start()
        self._update_buttons()
        return True

    def stop(self) -> None:
        """Stop the running trial at a step boundary (it saves) and start no other."""
        if self.sweep is not None and self.job is not None:
            self.sweep.stop()
            self.status.setText("Stopping after the current step…")

    # -- what the job reports

    def _reset_view(self, keys: list[str]) -> None:
        self.keys = keys
        self.table.setRowCount(0)
        self.table.setColumnCount(len(FIXED_COLUMNS) + len(keys))
        self.table.setHorizontalHeaderLabels([FIXED_COLUMNS[0], *keys, *FIXED_COLUMNS[1:]])
        self.plot.clear()
        self.curves = {}

    def _on_progress(self, event: tuple[Any, ...]) -> None:
        if event[0] == "folder":
            self.status.setText(f"Sweeping {self.sweep.n_trials} trials in {event[1]}…")
        elif event[0] == "trial":
            self._show_row(event[1])
        elif event[0] == "eval":
            self._add_point(*event[1:])

    def _show_row(self, row: Any) -> None:
        if row.number >= self.table.rowCount():
            self.table.setRowCount(row.number + 1)
        loss = "–" if row.best_val_loss is None else f"{row.best_val_loss:.4f}"
        cells = [str(row.number), *(str(row.params.get(k)) for k in self.keys), loss,
                 str(row.step), row.note]
        for c, text in enumerate(cells):
            self.table.setItem(row.number, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _add_point(self, number: int, step: int, loss: float) -> None:
        if number not in self.curves:
            pen = pg.mkPen(PALETTE[number % len(PALETTE)], width=2)
            item = self.plot.plot([], [], pen=pen, symbol="o", symbolSize=5,
                                  name=f"trial {number}")
            self.curves[number] = ([], [], item)
        xs, ys, item = self.curves[number]
        xs.append(float(step))
        ys.append(float(loss))
        item.setData(xs, ys)

    def _on_result(self, result: Any) -> None:
        self.result = result
        best = result.best
        self.status.setText(
            f"Done: {len(result.trials)} trials in {result.folder}. " +
            (f"Best: trial {best.number} ({_values(best.params)}), best validation loss "
             f"{best.best_val_loss:.4f}." if best is not None else "No trial completed."))

    def _on_finished(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        self._update_buttons()
        self.state.sig_runs_changed.emit()

    # -- the best, applied

    def _ask_apply(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write the best settings", "best.json",
                                              "JSON (*.json)")
        if path:
            self.apply_best(Path(path))

    def apply_best(self, path: Path) -> None:
        """Write the best trial's settings to `path` ({"run": {...}}, for --config)."""
        from ...core.errors import UserError
        from ...core.training.sweep import best_config, write_config

        if self.result is None:
            return
        try:
            write_config(best_config(self.base, self.result), path)
        except (UserError, OSError) as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Wrote the best settings to {path}: train them with "
                            f"`lmstudio-app pretrain --config {path}`.")

    # -- page protocol

    def widget(self) -> QWidget:
        return self

    def busy(self) -> str | None:
        return "a sweep is training" if self.job is not None else None

    def shutdown(self) -> None:
        if self.job is not None:
            self.stop()
            self.job.wait_finished(120_000)

    def rows(self) -> list[list[str]]:
        """The table of trials as text."""
        return [[(self.table.item(r, c) or QTableWidgetItem()).text()
                 for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]


def _copy(row: Any) -> Any:
    from dataclasses import replace

    return replace(row, params=dict(row.params))


def _values(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())
