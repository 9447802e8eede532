"""LabeledDataDialog: map a labeled file's columns, check it, and hand it to fine-tuning.

Reading the columns and a preview, and the full check (core.labeled's loaders), run in
BackgroundJobs. The check runs by itself once the file is read and whenever the mapping
changes (no button to press), and "Use for fine-tuning", the default button, is enabled once
the file checks out for the mapping shown. The check shows ValidationReport.summary()
(skipped rows with their lines, duplicates, answers not found) and, for classification, a bar
chart of the labels. The file's encoding is chosen here too (a change reads the preview again)
and travels with the choice.
The kinds of labeled data are the engine's task families ("classify", "qa"); a mistake the
engine finds in the file outlines the control of the field it names (the encoding, a column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.data.corpus import ENCODINGS
from ....core.data.labeled_kinds import kind_of_fields
from ...jobs import BackgroundJob
from ...state import LabeledChoice
from ...widgets.field_marks import Control, FieldMarks
from ...widgets.tables import read_only_table

OPTIONAL = {"answer_start"}
_NONE = "(none)"


def guess_column(role: str, columns: list[str]) -> str:
    """The column a role most likely means: the same name, then a name containing it."""
    low = [c.lower() for c in columns]
    synonyms = {"text": ("text", "sentence", "tweet", "review", "content"),
                "label": ("label", "sentiment", "class", "category", "target")}
    for name in synonyms.get(role, (role,)):
        if name in low:
            return columns[low.index(name)]
    for name in synonyms.get(role, (role,)):
        for c, lc in zip(columns, low, strict=True):
            if name in lc:
                return c
    return ""


# What a check was made with: the file, the family, the sorted mapping and the encoding.
_CheckKey = tuple[Path, str, tuple[tuple[str, str], ...], str]


def read_preview(path: Path, encoding: str) -> tuple[list[str], list[dict[str, Any]]]:
    from ....core.data import labeled

    return labeled.detect_columns(path, encoding), labeled.preview_rows(path, 20, encoding)


def _check_classify(path: Path, columns: dict[str, str], encoding: str) -> Any:
    from ....core.data import labeled

    cols = labeled.ClassificationColumns(columns["text"], columns["label"])
    return labeled.load_classification(path, cols, encoding)[1]


def _check_qa(path: Path, columns: dict[str, str], encoding: str) -> Any:
    from ....core.data import labeled

    cols = labeled.QAColumns(columns["question"], columns["context"], columns["answer"],
                             columns.get("answer_start") or None)
    return labeled.load_qa(path, cols, encoding)[1]


def _check_chat(path: Path, columns: dict[str, str], encoding: str) -> Any:
    from ....core.data.conversations import load_conversations

    return load_conversations(path, encoding)[1]


@dataclass(frozen=True)
class Family:
    """One kind of labeled data: how the dialog names it, its column roles, and its check."""

    title: str
    roles: tuple[str, ...]
    check: Callable[[Path, dict[str, str], str], Any]  # -> the file's ValidationReport


FAMILIES = {
    "classify": Family("Classification (text → label)", ("text", "label"), _check_classify),
    "qa": Family("Question answering (question, context → answer)",
                 ("question", "context", "answer", "answer_start"), _check_qa),
    "chat": Family("Conversations (messages, ShareGPT or Alpaca)", (), _check_chat),
}


def check_file(path: Path, family: str, columns: dict[str, str], encoding: str) -> Any:
    """Read every row of a labeled file of `family` with the engine's loader: its report."""
    return FAMILIES[family].check(path, columns, encoding)


class LabeledDataDialog(QDialog):
    """Preview table, one combo per role, Check, the report and the label chart."""

    sig_previewed = Signal(list)  # the column names found
    sig_checked = Signal(object)  # the ValidationReport
    sig_accepted_choice = Signal(object)  # LabeledChoice

    def __init__(self, path: Path, family: str = "classify", encoding: str = "utf-8",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Labeled data: {Path(path).name}")
        self.path, self.encoding = Path(path), encoding
        self.columns: list[str] = []
        self.report: Any = None
        self._jobs: list[BackgroundJob] = []
        self.task_box = QComboBox()
        for name, fam in FAMILIES.items():
            self.task_box.addItem(fam.title, name)
        self.task_box.setCurrentIndex(max(self.task_box.findData(family), 0))
        self.encoding_box = QComboBox()
        self.encoding_box.addItems(list(ENCODINGS))
        self.encoding_box.setCurrentIndex(max(self.encoding_box.findText(encoding), 0))
        self.encoding = self.encoding_box.currentText()
        self.encoding_box.setToolTip("utf-8 refuses bad bytes; latin-1 reads any byte (older "
                                     "Windows and Excel files); replace turns bad bytes into "
                                     "\N{REPLACEMENT CHARACTER}")
        self.table = read_only_table()
        self.table.setMaximumHeight(200)
        self.role_boxes: dict[str, QComboBox] = {}
        self.marks = FieldMarks({"encoding": Control("Encoding", self.encoding_box),
                                 "task": Control("Task", self.task_box)})
        self.roles_form = QFormLayout()
        self._checked_for: _CheckKey | None = None  # what the shown report was checked with
        self._check_again = False  # the mapping changed while a job ran: check when it ends
        self._fields_read = False  # the file's fields have chosen the task (first read only)
        self.kind_note = ""  # what the fields chose, said after the status line's figures
        self.use_button = QPushButton("Use for fine-tuning")
        self.use_button.setEnabled(False)
        self.use_button.setDefault(True)  # Enter uses the checked file
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.report_view.setPlaceholderText("Map the columns: every row is checked, and the "
                                            "rows skipped (with their lines), duplicates and "
                                            "label counts appear here.")
        self.chart = pg.PlotWidget()
        self.chart.setMinimumHeight(150)
        self.chart.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.chart.setLabel("left", "rows")
        self.chart.hide()
        self.bars: pg.BarGraphItem | None = None
        self.status = QLabel(f"Reading {self.path.name}…")
        self.status.setWordWrap(True)

        top = QFormLayout()
        top.addRow("File", QLabel(str(self.path)))
        top.addRow("Encoding", self.encoding_box)
        top.addRow("Task", self.task_box)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)
        v = QVBoxLayout(self)
        v.addLayout(top)
        v.addWidget(QLabel("First rows:"))
        v.addWidget(self.table)
        v.addLayout(self.roles_form)
        v.addWidget(self.status)
        v.addWidget(self.report_view, 1)
        v.addWidget(self.chart, 1)
        v.addLayout(buttons)
        self.resize(760, 680)

        self.task_box.currentIndexChanged.connect(lambda _i: self._task_chosen())
        self.encoding_box.currentTextChanged.connect(self.set_encoding)
        self.use_button.clicked.connect(self.use)
        self.close_button.clicked.connect(self.reject)
        self._read_preview()

    def family(self) -> str:
        """The kind of labeled data chosen: "classify" or "qa"."""
        return str(self.task_box.currentData())

    def set_encoding(self, encoding: str) -> None:
        """Read the file with another encoding: the preview again, and a new check needed."""
        if encoding not in ENCODINGS or self._jobs:
            # Not while a read runs (the box is disabled then): keep showing what is used.
            self.encoding_box.blockSignals(True)
            self.encoding_box.setCurrentText(self.encoding)
            self.encoding_box.blockSignals(False)
            return
        if self.encoding_box.currentText() != encoding:
            self.encoding_box.setCurrentText(encoding)  # comes back here through the signal
            return
        if encoding == self.encoding and self.columns:
            return
        self.encoding = encoding
        self.report = None
        self.report_view.clear()
        self.chart.hide()
        self._read_preview()

    def _read_preview(self) -> None:
        path, encoding = self.path, self.encoding
        self.status.setStyleSheet("")
        self.marks.clear()
        self.status.setText(f"Reading {path.name} as {encoding}…")
        self._run(lambda report, cancel: read_preview(path, encoding), self._show_preview,
                  self._preview_failed)

    def _preview_failed(self, message: str, fields: tuple[str, ...]) -> None:
        """Nothing of the file is shown or can be checked until it reads."""
        self.columns = []
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self._show_error(message, fields)

    # -- jobs

    def _run(self, fn: Any, then: Any, on_error: Any = None) -> None:
        job = BackgroundJob(fn, self)
        job.sig_result.connect(then)
        job.sig_error_fields.connect(on_error or self._show_error)
        job.sig_finished.connect(lambda j=job: self._jobs.remove(j) if j in self._jobs else None)
        job.sig_finished.connect(self._after_job)
        self._jobs.append(job)
        self._update_buttons()
        job.start()

    def busy(self) -> bool:
        return bool(self._jobs)

    def shutdown(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            job.wait_finished(30000)

    def done(self, result: int) -> None:  # closing the dialog stops its reads first
        self.shutdown()
        super().done(result)

    def _show_error(self, message: str, fields: tuple[str, ...] = ()) -> None:
        """The engine's line after the labels of the settings it names, which are outlined."""
        self.status.setText(self.marks.show(message, fields))
        self.status.setStyleSheet("QLabel { color: #c0392b; }")

    def _after_job(self) -> None:
        self._update_buttons()
        if self._check_again and not self._jobs:
            self._check_again = False
            self.check()

    def _update_buttons(self) -> None:
        idle = not self._jobs
        self.encoding_box.setEnabled(idle)
        self.use_button.setEnabled(idle and self.report is not None
                                   and self.report.rows_used > 0)

    # -- preview and mapping

    def _show_preview(self, result: tuple[list[str], list[dict[str, Any]]]) -> None:
        self.columns, rows = result
        self.table.setColumnCount(len(self.columns))
        self.table.setHorizontalHeaderLabels(self.columns)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, col in enumerate(self.columns):
                text = str(row.get(col, "") if row.get(col) is not None else "")
                item = QTableWidgetItem(text[:200])
                item.setToolTip(text[:1000])
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self._family_from_fields()
        self.status.setText(f"{len(self.columns)} columns; the first {len(rows)} rows shown."
                            + self.kind_note)
        self._fill_roles()
        self.sig_previewed.emit(self.columns)

    def _family_from_fields(self) -> None:
        """On the file's first read, the task its fields make (labeled_kinds) becomes the one
        chosen, and the status line says so; later the person's choice holds."""
        if self._fields_read:
            return
        self._fields_read = True
        kind = kind_of_fields(self.columns)
        if kind is None or kind.family not in FAMILIES:
            return
        self.task_box.blockSignals(True)  # the roles are filled next, once
        self.task_box.setCurrentIndex(self.task_box.findData(kind.family))
        self.task_box.blockSignals(False)
        self.kind_note = f" Its fields ({', '.join(kind.fields)}) make {kind.title}."

    def _task_chosen(self) -> None:
        """The person chose the task: the fields' choice is no longer what is shown."""
        self.kind_note = ""
        self._fill_roles()

    def _fill_roles(self) -> None:
        keep = self.mapping()  # e.g. the file read again with another encoding
        self.marks.clear()  # before its role boxes go with their rows
        while self.roles_form.rowCount():
            self.roles_form.removeRow(0)
        self.role_boxes = {}
        controls = {"encoding": Control("Encoding", self.encoding_box),
                    "task": Control("Task", self.task_box)}
        for role in FAMILIES[self.family()].roles:
            box = QComboBox()
            if role in OPTIONAL:
                box.addItem(_NONE, "")
            for c in self.columns:
                box.addItem(c, c)
            chosen = keep.get(role)
            if chosen is None or box.findData(chosen) < 0:
                chosen = guess_column(role, self.columns)
            box.setCurrentIndex(max(box.findData(chosen), 0))
            box.currentIndexChanged.connect(lambda _i: self._mapping_changed())
            self.role_boxes[role] = box
            label = f"{role.replace('_', ' ').capitalize()} column"
            self.roles_form.addRow(label, box)
            controls[f"{role}_col"] = Control(label, box)  # as FinetuneConfig names the column
        self.marks = FieldMarks(controls)
        self._mapping_changed()

    def _mapping_changed(self) -> None:
        """A new mapping (or file): the last report no longer holds; check again."""
        self.report = None
        self._update_buttons()
        if self.columns:
            self.check()

    def mapping(self) -> dict[str, str]:
        return {role: str(box.currentData() or "") for role, box in self.role_boxes.items()}

    def set_mapping(self, mapping: dict[str, str]) -> None:
        for role, column in mapping.items():
            box = self.role_boxes[role]
            box.setCurrentIndex(max(box.findData(column), 0))

    # -- check and use

    def _check_key(self) -> _CheckKey:
        return self.path, self.family(), tuple(sorted(self.mapping().items())), self.encoding

    def check(self) -> None:
        """Read every row with the mapping shown (in a job; after the running one, if any)."""
        if not self.columns:
            return
        if self._jobs:
            self._check_again = True
            return
        path, family, cols, enc = self.path, self.family(), self.mapping(), self.encoding
        key = self._check_key()
        self.status.setStyleSheet("")
        self.marks.clear()
        self.status.setText("Checking every row…")
        self._run(lambda report, cancel: check_file(path, family, cols, enc),
                  lambda report: self._show_report(report, key))

    def _show_report(self, report: Any, key: _CheckKey | None = None) -> None:
        if key is not None and key != self._check_key():
            return  # checked with a mapping no longer shown: the next check is queued
        self.report = report
        self.status.setText(f"{report.rows_used} rows usable of {report.rows_read}."
                            + self.kind_note)
        self.report_view.setPlainText(report.summary())
        self.chart.clear()
        self.bars = None
        if report.labels:
            names = sorted(report.labels, key=lambda k: -report.labels[k])
            counts = [report.labels[k] for k in names]
            self.bars = pg.BarGraphItem(x=list(range(len(names))), height=counts, width=0.6,
                                        brush="#2e86c1")
            self.chart.addItem(self.bars)
            self.chart.getAxis("bottom").setTicks([list(enumerate(names))])
            self.chart.show()
        else:
            self.chart.hide()
        self._update_buttons()
        self.sig_checked.emit(report)

    def choice(self) -> LabeledChoice:
        return LabeledChoice(self.path, self.family(), self.mapping(), self.encoding)

    def use(self) -> None:
        if self.report is None:
            return
        self.sig_accepted_choice.emit(self.choice())
        self.accept()


def bar_heights(bars: pg.BarGraphItem | None) -> list[float]:
    """The heights a label chart shows (for tests and the status line)."""
    if bars is None:
        return []
    return [float(h) for h in bars.opts["height"]]

