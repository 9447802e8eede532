"""The Runs page's lower half: the selected run's note and tags, and the settings two compared
runs differ in; and the figures columns of its table (read from each run's metrics in a job).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QWidget,
)

from ...core import runs
from ...core.runs.table import RunFigures
from ...core.util.units import format_duration, human_bytes, human_count
from ..jobs import BackgroundJob
from ..widgets.layouts import hbox, vbox
from ..widgets.tables import cell_text, read_only_table

# The figures columns, after the columns read from status.json.
FIGURE_COLUMNS = ("Final loss", "Best score", "Tokens", "Time", "Size", "Snapshots", "Tags")


def figure_cells(f: RunFigures) -> list[tuple[str, float | None]]:
    """(text, sort value) of each of FIGURE_COLUMNS for one run."""
    def number(v: float | None, fmt: str) -> tuple[str, float | None]:
        return ("–" if v is None else format(v, fmt)), v

    score: tuple[str, float | None] = ("–", None)
    if f.best_metric_value is not None:
        score = (f"{f.best_metric} {f.best_metric_value:.3f}", f.best_metric_value)
    elif f.val_bpb is not None:
        score = (f"{f.val_bpb:.3f} bits/byte", -f.val_bpb)  # fewer bits sort as better
    snapshots = (f"{f.snapshots} · {human_bytes(f.snapshot_bytes)}" if f.snapshots else "–",
                 f.snapshot_bytes)
    return [
        number(f.final_loss, ".4f"), score,
        (human_count(f.tokens) if f.tokens is not None else "–", f.tokens),
        (format_duration(f.time_s) if f.time_s is not None else "–", f.time_s),
        (human_bytes(f.size_bytes), f.size_bytes), snapshots, (", ".join(f.tags), None),
    ]


def size_tooltip(f: RunFigures) -> str:
    return (f"The run folder: {human_bytes(f.size_bytes)}, of which {f.snapshots} weight "
            f"snapshots along the curve take {human_bytes(f.snapshot_bytes)} (a snapshot "
            "shares its bytes with the latest weights while they are the same file)")


class NotesPanel(QWidget):
    """The selected run's note and tags, saved to its notes.json in a background job."""

    sig_saved = Signal(object, object)  # Path, runs.RunNotes

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self._saving: Path | None = None
        self.job: BackgroundJob | None = None
        self.title = QLabel("Notes: select one run")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("What this run tried, what it showed…")
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("tags, separated by commas")
        self.save_button = QPushButton("Save note")
        self.save_button.clicked.connect(self.save)
        self.status = QLabel()
        self.status.setWordWrap(True)
        vbox(self.title, (self.note_edit, 1), hbox("Tags", (self.tags_edit, 1), self.save_button),
             self.status, owner=self)
        self.show_run(None, runs.RunNotes())

    def show_run(self, run: Path | None, notes: runs.RunNotes) -> None:
        self.run = run
        self.title.setText(f"Notes on {run.name}" if run else "Notes: select one run")
        self.note_edit.setPlainText(notes.note)
        self.tags_edit.setText(", ".join(notes.tags))
        self.status.setText("")
        for w in (self.note_edit, self.tags_edit, self.save_button):
            w.setEnabled(run is not None)

    def save(self) -> None:
        if self.run is None or self.job is not None:
            return
        run, note = self.run, self.note_edit.toPlainText()
        tags = self.tags_edit.text().split(",")

        def work(report: Any, cancel: threading.Event) -> runs.RunNotes:
            return runs.write_notes(run, note, tags)

        # Signals to methods, not closures over the panel (see the Train page's _read_in_job).
        self._saving = run
        self.job = BackgroundJob(work, self)
        self.job.sig_result.connect(self._saved)
        self.job.sig_error.connect(self.status.setText)
        self.job.sig_finished.connect(self._job_done)
        self.save_button.setEnabled(False)
        self.job.start()

    def _saved(self, notes: runs.RunNotes) -> None:
        run = self._saving
        assert run is not None  # set by save() before its job starts
        self.status.setText(f"Saved in {run.name}/{runs.NOTES}.")
        if run == self.run:
            self.tags_edit.setText(", ".join(notes.tags))
        self.sig_saved.emit(run, notes)

    def _job_done(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        self.save_button.setEnabled(self.run is not None)


class ConfigDiffView(QWidget):
    """Two runs' settings side by side: only the keys that differ."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select two runs and Compare to see the settings they differ in.")
        self.title.setWordWrap(True)
        self.table = read_only_table(["Setting", "", ""], row_numbers=False, stretch=True)
        vbox(self.title, (self.table, 1), owner=self)

    def show_difference(self, a: Path, b: Path, rows: list[tuple[str, Any, Any]]) -> None:
        self.table.setHorizontalHeaderLabels(["Setting", a.name, b.name])
        self.table.setRowCount(len(rows))
        for r, (key, va, vb) in enumerate(rows):
            for c, text in enumerate((key, _shown(va), _shown(vb))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.title.setText(f"{len(rows)} settings differ between {a.name} and {b.name}"
                           if rows else f"{a.name} and {b.name} have the same settings")

    def rows(self) -> list[list[str]]:
        return [[cell_text(self.table.item(r, c)) for c in range(3)]
                for r in range(self.table.rowCount())]


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
