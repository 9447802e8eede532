"""The Runs page's Benchmarks section: the lm-evaluation-harness results kept in the selected
runs' folders (`lmstudio-app benchmark`), one row per run and a column per task, so that
several selected runs compare task by task. Read in a background job."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ...core.runs.benchmarks import headline, read_benchmarks
from ..jobs import BackgroundJob

HINT = ("No benchmark results: run `lmstudio-app benchmark --run RUN --tasks sentiment_mc` "
        "(or hellaswag, arc_easy, ...).")


class BenchmarksPanel(QWidget):
    """Rows: the selected runs; columns: every task any of them was benchmarked on; a cell:
    the task's headline metric (accuracy, ...), its other metrics and settings in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: BackgroundJob | None = None
        self._again: list[Path] | None = None
        self._closed = False
        self.paths: list[Path] = []
        self.title = QLabel("Benchmarks")
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = QLabel(HINT)
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    def show_runs(self, paths: list[Path]) -> None:
        """Read the benchmarks of `paths` (in a job) and show them."""
        if self._closed:
            return
        if self.job is not None:
            self._again = list(paths)
            return
        wanted = list(paths)

        def work(report: Any, cancel: threading.Event) -> list[tuple[Path, dict[str, Any]]]:
            return [(p, read_benchmarks(p)) for p in wanted]

        self.job = BackgroundJob(work, self)
        self.job.sig_result.connect(self._show)
        self.job.sig_error.connect(self.status.setText)
        self.job.sig_finished.connect(self._done)
        self.job.start()

    def _show(self, found: list[tuple[Path, dict[str, Any]]]) -> None:
        self.paths = [p for p, _ in found]
        tasks = sorted({t for _, b in found for t in b})
        self.table.clear()
        self.table.setRowCount(len(found))
        self.table.setColumnCount(len(tasks))
        self.table.setHorizontalHeaderLabels(tasks)
        self.table.setVerticalHeaderLabels([p.name for p, _ in found])
        for r, (_, bench) in enumerate(found):
            for c, task in enumerate(tasks):
                self.table.setItem(r, c, _cell(bench.get(task)))
        self.table.resizeColumnsToContents()
        self.status.setText("" if tasks else HINT if found else "Select runs to see their "
                            "benchmark results.")

    def _done(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        if self._again is not None:
            again, self._again = self._again, None
            self.show_runs(again)

    def shutdown(self) -> None:
        """Start no more reading; wait for the one under way."""
        self._closed, self._again = True, None
        if self.job is not None:
            self.job.wait_finished()

    def cells(self) -> list[list[str]]:
        """The table as text (rows of runs, a column per task)."""
        return [[(self.table.item(r, c) or QTableWidgetItem()).text()
                 for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]


def _cell(entry: dict[str, Any] | None) -> QTableWidgetItem:
    if not entry:
        return QTableWidgetItem("–")
    metrics = entry.get("metrics") or {}
    main = headline(metrics)
    item = QTableWidgetItem(f"{main[0]} {main[1]:.4f}" if main else "–")
    settings = entry.get("settings") or {}
    item.setToolTip("\n".join([*(f"{k}: {v:.4f}" for k, v in metrics.items()),
                               *(f"{k}: {v}" for k, v in settings.items() if k != "tasks"),
                               f"measured {entry.get('when', '?')}"]))
    return item
