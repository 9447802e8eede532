"""The Runs page: every run folder in a table, and what can be done with one.

The table is read from disk (config.json and status.json of each run, small files), refreshed on
state.sig_runs_changed, on Refresh, and by a light poll that only stats the status files and
reloads when one of them changed. The actions are requests through AppState's signals; Delete
acts here, after asking, and Confusion… opens a finished classify run's confusion heatmap (its
results.json read in a background job). Export… and Import model… open the dialogs of
runs_interchange.py. Each run's final figures (runs_details.py's columns) are read from its
metrics in a background job after each refresh; below the table, the selected run's note and
tags, and the settings two selected runs differ in once compared.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core import runs
from ...core.errors import UserError
from ...core.runs.table import RunFigures, config_differences, figures_of_all
from ..jobs import BackgroundJob
from ..objectives import has_classes, title
from ..state import AppState
from ..widgets.confusion import ConfusionDialog, has_confusion
from ..widgets.elided_label import ElidedLabel
from ..widgets.tables import align_right, read_only_table
from .runs_benchmarks import BenchmarksPanel
from .runs_details import (
    FIGURE_COLUMNS,
    ConfigDiffView,
    NotesPanel,
    figure_cells,
    size_tooltip,
)
from .runs_interchange import ExportDialog, ImportDialog

log = logging.getLogger(__name__)

POLL_MS = 2000
COLUMNS = ("Name", "Objective", "Preset", "Steps", "Best val loss", "State", *FIGURE_COLUMNS)
_FIRST_FIGURE = COLUMNS.index(FIGURE_COLUMNS[0])


# (folder name, status file's modification time in ns, its size in bytes) of each run folder.
_Signature = tuple[tuple[str, int, int], ...]


def _signature(root: Path) -> _Signature:
    """What the poll compares: run folders and their status files' modification times."""
    out: list[tuple[str, int, int]] = []
    try:
        children = sorted(root.iterdir())
    except OSError:
        return ()
    for child in children:
        try:
            st = (child / runs.STATUS).stat()
            out.append((child.name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((child.name, 0, 0))
    return tuple(out)


def has_confusion_file(s: runs.RunSummary) -> bool:
    """A finished run of a task with classes: its test results hold a confusion matrix."""
    return has_classes(s.objective) and s.state == "completed" and runs.has_results(s.path)


class _NumberItem(QTableWidgetItem):
    """Sorts by a number kept in UserRole, not by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if a is None or b is None:
            return (a is None) < (b is None)
        return float(a) < float(b)


class RunsPage(QWidget):
    """A table of runs with Open, Resume, Compare, Use in Playground, Reveal and Delete."""

    title = "Runs"

    sig_refreshed = Signal()
    sig_confusion_shown = Signal(object)  # the ConfusionDialog just opened
    sig_figures_shown = Signal()  # the figures columns were filled
    sig_difference_shown = Signal(object)  # [(key, value in a, value in b)] of two runs

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._summaries: list[runs.RunSummary] = []
        self._signature: _Signature = ()
        self._jobs: dict[BackgroundJob, str] = {}  # reading a run's results -> the run's name
        # The run training now: its step and max_steps as the loop reports them (its status
        # file on disk is written only at checkpoints).
        self._live: tuple[Path, int, int] | None = None
        self.confusion_dialog: ConfusionDialog | None = None
        self.interchange_dialog: ExportDialog | ImportDialog | None = None
        self.figures: dict[Path, RunFigures] = {}  # read by the figures job
        self._figures_job: BackgroundJob | None = None
        self._closing = False  # shut down: no new job (a finished one must not start another)
        self._figures_again = False  # a refresh came while the job ran: read again after it
        self._figures_stale = False  # the figures are older than the table (read when shown)
        self._diff_job: BackgroundJob | None = None
        self._diff_pair: tuple[Path, Path] | None = None

        self.table = read_only_table(COLUMNS, row_numbers=False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Several rows: two selected runs can be compared setting by setting.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)  # tags
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())

        self.refresh_button = QPushButton("Refresh")
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show this run's curves on the Train page")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue training this run from its last checkpoint")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("One run: overlay its curves on the Train page. Two "
                                       "runs: show the settings they differ in, below")
        self.use_button = QPushButton("Use in Playground")
        self.reveal_button = QPushButton("Reveal")
        self.reveal_button.setToolTip("Open the run folder in the file manager; its path is "
                                      "shown and copied to the clipboard")
        self.delete_button = QPushButton("Delete…")
        self.confusion_button = QPushButton("Confusion…")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_selected)
        self.resume_button.clicked.connect(
            lambda: self._emit_for_selected(self.state.sig_resume_run))
        self.compare_button.clicked.connect(self.compare_selected)
        self.use_button.clicked.connect(lambda: self._emit_for_selected(self.state.sig_use_run))
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.confusion_button.clicked.connect(self.show_confusion)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write this run as a Hugging Face folder or a GGUF file")
        self.import_button = QPushButton("Import model…")
        self.import_button.setToolTip("Make a run from a local GPT-2 or BERT folder")
        self.export_button.clicked.connect(self.export_selected)
        self.import_button.clicked.connect(self.import_model)

        buttons = QHBoxLayout()
        for b in (self.open_button, self.resume_button, self.compare_button, self.use_button,
                  self.confusion_button, self.reveal_button, self.delete_button,
                  self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.refresh_button)

        self.root_label = ElidedLabel()
        self.root_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.notes_panel = NotesPanel()
        self.notes_panel.sig_saved.connect(self._on_notes_saved)
        self.diff_view = ConfigDiffView()
        self.benchmarks_panel = BenchmarksPanel()
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.notes_panel)
        lower.addWidget(self.diff_view)
        lower.addWidget(self.benchmarks_panel)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addLayout(buttons)
        upper_layout.addWidget(self.message_label)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.root_label)
        layout.addWidget(self.splitter, 1)

        state.sig_runs_changed.connect(self.refresh)
        state.sig_run_started.connect(lambda _path: self.refresh())
        state.sig_run_finished.connect(self._on_run_finished)
        state.sig_run_progress.connect(self._on_run_progress)

        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_disk)
        self._poll.start()
        self.refresh()

    # -- reading

    def refresh(self) -> None:
        """Read every run folder again and rebuild the table, keeping the selection."""
        keep = self.selected_path()
        root = self.state.runs_root
        self._signature = _signature(root)
        self._summaries = runs.list_runs(root)
        self.root_label.setText(f"Runs in {root}" if self._summaries
                                else f"No runs yet in {root}: train one on the Train page.")
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self._summaries))
        for row, s in enumerate(self._summaries):
            name = QTableWidgetItem(s.name)
            name.setData(Qt.ItemDataRole.UserRole, str(s.path))
            name.setToolTip(str(s.path))
            steps = _NumberItem()
            self._set_steps(steps, s.step, s.max_steps)
            best = _NumberItem("–" if s.best_val_loss is None else f"{s.best_val_loss:.4f}")
            best.setData(Qt.ItemDataRole.UserRole, s.best_val_loss)
            state = s.state
            if self._is_training(s.path):
                state = "training"
                if self._live is not None and self._live[0] == s.path:
                    self._set_steps(steps, *self._live[1:])
            cells = [name, QTableWidgetItem(title(s.objective)),
                     QTableWidgetItem(s.preset), steps, best, QTableWidgetItem(state)]
            for col, item in enumerate(cells):
                if col in (3, 4):
                    align_right(item)
                self.table.setItem(row, col, item)
            self._set_figures(row, self.figures.get(s.path))
        self.table.setSortingEnabled(True)
        self._figures_stale = True
        if self.isVisible():  # else when shown: a hidden page reads no metrics
            self._read_figures()
        if keep is not None:
            self.select_run(keep)
        self._update_buttons()
        self.sig_refreshed.emit()

    def _set_figures(self, row: int, figures: RunFigures | None) -> None:
        """The figures columns of one row ("…" while they are read)."""
        cells = figure_cells(figures) if figures else [("…", None)] * len(FIGURE_COLUMNS)
        for i, (text, value) in enumerate(cells):
            item = _NumberItem(text)
            item.setData(Qt.ItemDataRole.UserRole, value)
            if FIGURE_COLUMNS[i] != "Tags":
                align_right(item)
            if figures is not None and FIGURE_COLUMNS[i] in ("Size", "Snapshots"):
                item.setToolTip(size_tooltip(figures))
            if figures is not None and FIGURE_COLUMNS[i] == "Tags" and figures.note:
                item.setToolTip(figures.note)
            self.table.setItem(row, _FIRST_FIGURE + i, item)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._figures_stale:
            self._read_figures()

    def _read_figures(self) -> None:
        """Read every run's final figures from its metrics in a background job."""
        if self._closing:
            return
        self._figures_stale = False
        if self._figures_job is not None:
            self._figures_again = True
            return
        root, known = self.state.runs_root, dict(self.figures)
        job = BackgroundJob(lambda report, cancel: figures_of_all(root, known), self)
        job.sig_result.connect(self._on_figures)
        job.sig_finished.connect(self._on_figures_finished)
        self._figures_job = job
        job.start()

    def _on_figures(self, found: list[RunFigures]) -> None:
        self.figures = {f.path: f for f in found}
        self.table.setSortingEnabled(False)
        for r in range(self.table.rowCount()):
            path = self._row_path(r)
            self._set_figures(r, self.figures.get(path))
        self.table.setSortingEnabled(True)
        self._show_notes()
        self.sig_figures_shown.emit()

    def _on_figures_finished(self) -> None:
        job, self._figures_job = self._figures_job, None
        if job is not None:
            job.deleteLater()
        if self._figures_again:
            self._figures_again = False
            self._read_figures()

    def _on_notes_saved(self, run: Path, notes: runs.RunNotes) -> None:
        figures = self.figures.get(Path(run))
        if figures is not None:
            figures.note, figures.tags = notes.note, notes.tags
            for r in range(self.table.rowCount()):
                if self._row_path(r) == Path(run):
                    self._set_figures(r, figures)

    def _show_notes(self) -> None:
        """The notes panel follows the selection: one run, its note; else none."""
        paths = self.selected_paths()
        run = paths[0] if len(paths) == 1 else None
        if run == self.notes_panel.run and run is not None:
            return  # keep what is being typed
        figures = self.figures.get(run) if run is not None else None
        notes = (runs.RunNotes(figures.note, list(figures.tags)) if figures is not None
                 else runs.read_notes(run) if run is not None else runs.RunNotes())
        self.notes_panel.show_run(run, notes)

    def _cell(self, r: int, c: int) -> QTableWidgetItem:
        item = self.table.item(r, c)
        assert item is not None  # every cell of a row is set when the row is made
        return item

    def _row_path(self, r: int) -> Path:
        """The run folder of row `r` (its name cell holds the path)."""
        return Path(self._cell(r, 0).data(Qt.ItemDataRole.UserRole))

    @staticmethod
    def _set_steps(item: QTableWidgetItem, step: int, max_steps: int) -> None:
        item.setText(f"{step:,} / {max_steps:,}")
        item.setData(Qt.ItemDataRole.UserRole, step)

    def _on_run_progress(self, path: Path, step: int, max_steps: int) -> None:
        """The training run's step, as the loop reports it: its row follows at once."""
        self._live = (Path(path), step, max_steps)
        for r in range(self.table.rowCount()):
            if self._row_path(r) == Path(path):
                self._set_steps(self._cell(r, 3), step, max_steps)
                return

    def _on_run_finished(self, _path: Path, _reason: str) -> None:
        self._live = None
        self.refresh()

    def _poll_disk(self) -> None:
        if not self.isVisible():
            return
        if _signature(self.state.runs_root) != self._signature:
            self.refresh()

    def run_paths(self) -> list[Path]:
        return [self._row_path(r)
                for r in range(self.table.rowCount())]

    def row_text(self, path: Path) -> list[str]:
        for r in range(self.table.rowCount()):
            if self._row_path(r) == Path(path):
                return [self._cell(r, c).text() for c in range(self.table.columnCount())]
        raise KeyError(path)

    # -- selection

    def selected_path(self) -> Path | None:
        """The selected run when exactly one is selected."""
        paths = self.selected_paths()
        return paths[0] if len(paths) == 1 else None

    def selected_paths(self) -> list[Path]:
        """The selected runs, in the table's order."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [self._row_path(r) for r in rows if self.table.item(r, 0) is not None]

    def select_runs(self, paths: list[Path]) -> None:
        """Select these runs (and only these), as a ctrl-click would."""
        self.table.clearSelection()
        model, flags = self.table.selectionModel(), (
            self.table.selectionModel().SelectionFlag.Select
            | self.table.selectionModel().SelectionFlag.Rows)
        for r in range(self.table.rowCount()):
            if self._row_path(r) in map(Path, paths):
                model.select(self.table.model().index(r, 0), flags)

    def select_run(self, path: Path) -> bool:
        """Select this run alone. Through the selection model: selectRow() in extended
        selection toggles the row while Ctrl is held (a shortcut just pressed)."""
        for r in range(self.table.rowCount()):
            if self._row_path(r) == Path(path):
                model = self.table.selectionModel()
                model.select(self.table.model().index(r, 0),
                             model.SelectionFlag.ClearAndSelect | model.SelectionFlag.Rows)
                self.table.setCurrentCell(r, 0, model.SelectionFlag.NoUpdate)
                return True
        return False

    def _summary(self, path: Path | None) -> runs.RunSummary | None:
        return next((s for s in self._summaries if path is not None and s.path == path), None)

    def _is_training(self, path: Path) -> bool:
        training = self.state.training_run
        return training is not None and Path(training) == Path(path)

    def _update_buttons(self) -> None:
        path = self.selected_path()
        s = self._summary(path)
        has = s is not None
        training = s is not None and self._is_training(s.path)
        has_weights = s is not None and runs.has_weights(s.path)
        for b in (self.open_button, self.reveal_button):
            b.setEnabled(has)
        self.compare_button.setEnabled(has or len(self.selected_paths()) == 2)
        self._show_notes()
        self.benchmarks_panel.show_runs(self.selected_paths())
        self.resume_button.setEnabled(s is not None and not training and s.state != "running"
                                      and runs.resumable(s.path))
        self.use_button.setEnabled(has_weights)
        self.export_button.setEnabled(has_weights)
        self.delete_button.setEnabled(s is not None and not training and s.state != "running")
        self.delete_button.setToolTip("Stop the run before deleting it" if training
                                      else "Delete the run folder and everything in it")
        confusion = s is not None and has_confusion_file(s)
        self.confusion_button.setEnabled(confusion)
        self.confusion_button.setToolTip(
            "The test split's confusion matrix; click a cell for its misclassified texts"
            if confusion else "Only a finished classification fine-tune has a confusion matrix")

    # -- actions

    def _emit_for_selected(self, signal: SignalInstance) -> None:
        path = self.selected_path()
        if path is not None:
            signal.emit(path)

    def compare_selected(self) -> None:
        """One run: overlay its curves (the Train page). Two: their settings side by side."""
        paths = self.selected_paths()
        if len(paths) == 1:
            self.state.sig_compare_run.emit(paths[0])
        elif len(paths) == 2 and self._diff_job is None:
            a, b = paths
            self._diff_pair = (a, b)
            job = BackgroundJob(lambda report, cancel: config_differences(a, b), self)
            job.sig_result.connect(self._on_difference)
            job.sig_error.connect(self.message_label.setText)
            job.sig_finished.connect(self._on_difference_finished)
            self._diff_job = job
            job.start()

    def _on_difference(self, rows: list[tuple[str, Any, Any]]) -> None:
        assert self._diff_pair is not None
        self.diff_view.show_difference(*self._diff_pair, rows)
        self.sig_difference_shown.emit(rows)

    def _on_difference_finished(self) -> None:
        job, self._diff_job = self._diff_job, None
        if job is not None:
            job.deleteLater()

    def open_selected(self) -> None:
        self._emit_for_selected(self.state.sig_open_run)

    def reveal_selected(self) -> None:
        """Open the run's folder in the file manager, and in any case show its path and copy it
        to the clipboard: a machine without a file manager opens nothing, without a word."""
        path = self.selected_path()
        if path is None:
            return
        QApplication.clipboard().setText(str(path))
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        self.message_label.setText(
            f"{'Opened in the file manager' if opened else 'No file manager opened it'}: "
            f"{path} (the path is copied to the clipboard).")

    def delete_selected(self) -> None:
        path = self.selected_path()
        s = self._summary(path)
        if s is None or self._is_training(s.path) or s.state == "running":
            return
        answer = QMessageBox.question(
            self, "Delete run",
            f"Delete the run {s.name}?\n\nThe folder {s.path} and everything in it (weights, "
            "metrics, logs) will be removed. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            runs.delete_run(s.path)
        except (UserError, OSError) as exc:
            self.message_label.setText(f"Could not delete {s.name}: {exc}")
            return
        self.message_label.setText(f"Deleted {s.name}.")
        log.info("deleted run %s", s.path)
        self.state.sig_status.emit(f"Deleted run {s.name}")
        self.state.sig_runs_changed.emit()  # refreshes this page too

    def show_confusion(self) -> None:
        """Read the selected classify run's results.json (in a job), then show its heatmap."""
        s = self._summary(self.selected_path())
        if s is None or not has_confusion_file(s):
            return
        path, name = s.path, s.name

        def work(report: Any, cancel: threading.Event) -> dict[str, Any]:
            return runs.read_file(path, runs.RESULTS)

        job = BackgroundJob(work, self)
        # The job's signals go to this page's methods, not to closures over the page (see the
        # Train page's _read_in_job): the run's name waits in _jobs.
        job.sig_result.connect(self._open_confusion)
        job.sig_error.connect(self._on_results_error)
        job.sig_finished.connect(self._job_done)
        self._jobs[job] = name
        self.confusion_button.setEnabled(False)
        job.start()

    def export_selected(self) -> None:
        path = self.selected_path()
        if path is not None and runs.has_weights(path):
            self._show_interchange(ExportDialog(path, self))

    def import_model(self) -> None:
        self._show_interchange(ImportDialog(self.state, self))

    def _show_interchange(self, dialog: ExportDialog | ImportDialog) -> None:
        if self.interchange_dialog is not None and self.interchange_dialog.job is None:
            self.interchange_dialog.close()
        self.interchange_dialog = dialog
        dialog.show()

    def _open_confusion(self, report: dict[str, Any]) -> None:
        name = self._jobs[self._sender_job()]
        if not has_confusion(report):
            self.message_label.setText(f"{name}: its results.json holds no confusion matrix.")
            return
        if self.confusion_dialog is not None:
            self.confusion_dialog.close()
        dialog = ConfusionDialog(report, name, self)
        self.confusion_dialog = dialog
        dialog.show()
        self.sig_confusion_shown.emit(dialog)

    def _on_results_error(self, message: str) -> None:
        name = self._jobs[self._sender_job()]
        self.message_label.setText(f"{name}: no test results ({message})")

    def _sender_job(self) -> BackgroundJob:
        job = self.sender()
        assert isinstance(job, BackgroundJob)  # these slots are connected to jobs alone
        return job

    def _job_done(self) -> None:
        job = self._sender_job()
        self._jobs.pop(job, None)
        job.deleteLater()
        self._update_buttons()

    # -- page protocol

    def widget(self) -> QWidget:
        return self

    def busy(self) -> str | None:
        return None

    def shutdown(self) -> None:
        self._closing = True
        self._poll.stop()
        for job in list(self._jobs):
            job.cancel()
        jobs: list[BackgroundJob | None] = [*self._jobs, self._figures_job, self._diff_job,
                                            self.notes_panel.job]
        self.benchmarks_panel.shutdown()
        for pending in jobs:
            if pending is not None:
                pending.wait_finished()
        if self.confusion_dialog is not None:
            self.confusion_dialog.close()
        dialog = self.interchange_dialog
        if dialog is not None and dialog.job is not None:
            dialog.job.wait_finished()
