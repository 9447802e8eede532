"""The Train page's fine-tuning form.

The form describes one fine-tuning run: the task, the pretrained run it starts from (only runs
whose architecture the task accepts), the labeled file, its encoding and the task's columns, the
pooling, what to freeze, and the budget. `config()` builds the RunConfig with the engine's own
rules (make_finetune_config), so a mistake is the engine's one-line message, and `marks` (one
table from config field to control) outlines the setting it names. `settings()` and `restore()`
turn what the form shows into a JSON-able dict and back (the page persists it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ....core import runs
from ....core.config import OBJECTIVES, PRETRAIN_OBJECTIVES, TASKS, RunConfig, needs_arch
from ....core.data.corpus import ENCODINGS
from ....core.errors import UserError
from ...objectives import has_classes
from ...widgets.field_marks import Control, FieldMarks
from ...widgets.file_dialogs import open_dialog

POOLINGS = (("auto", "automatic (BERT: [CLS]; GPT: end token from 1,000 rows)"),
            ("eos", "end token (GPT)"), ("last", "last token"),
            ("cls", "first token ([CLS])"), ("mean", "mean of the tokens"))
# The FinetuneConfig fields naming a labeled file's columns, with the form's labels; a task shows
# the rows of its ObjectiveSpec.columns. Settings and labeled choices key them by role ("text").
_T = TypeVar("_T")

COLUMNS = {"text_col": "Text column", "label_col": "Label column",
           "question_col": "Question column", "context_col": "Context column",
           "answer_col": "Answer column", "answer_start_col": "Answer start column"}
COLUMN_DEFAULTS = {"text_col": "text", "label_col": "label", "question_col": "question",
                   "context_col": "context", "answer_col": "answer", "answer_start_col": ""}


def role(column_field: str) -> str:
    """"text_col" -> "text": how settings and labeled choices name a column."""
    return column_field.removesuffix("_col")


@dataclass
class BaseRun:
    path: Path
    name: str
    objective: str


def pretrained_runs(root: Path) -> list[BaseRun]:
    """Pretraining runs (clm or mlm) under `root` that have saved weights."""
    out = []
    for s in runs.list_runs(root):
        if s.objective in PRETRAIN_OBJECTIVES and runs.has_weights(s.path):
            out.append(BaseRun(Path(s.path), s.name, s.objective))
    return out


def sample_for(task: str) -> Path:
    """The bundled labeled sample of the task's kind of data (its family)."""
    from ....core.data import labeled
    from ....core.data.conversations import sample_instructions_path
    from ....core.data.preference import sample_preference_path

    samples = {"classify": labeled.sample_sentiment_path, "qa": labeled.sample_qa_path,
               "chat": sample_instructions_path, "preference": sample_preference_path}
    family = OBJECTIVES[task].family
    assert family is not None, task  # a fine-tuning task (TASKS) reads a family of labeled data
    return samples[family]()


def _entry(saved: dict[str, Any], key: str, kind: type[_T]) -> _T | None:
    """`saved[key]` when it is a `kind` (an int read as a float where a float is asked), else
    None: a missing or mistyped entry."""
    value = saved.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value if isinstance(value, kind) else None


def _narrow(box: QComboBox, chars: int) -> None:
    """Size a combo for `chars` characters whatever its items; the list still shows them whole."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)


class FinetuneForm(QWidget):
    """Task, base run, labeled file and columns, freezing options and budget."""

    sig_changed = Signal()

    def __init__(self, runs_root: Path, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_root = Path(runs_root)
        self.home = Path(home)  # the app's data folder: the file dialog's "Bundled samples"
        self.file_dialog: QFileDialog | None = None
        self._custom_file: dict[str, str] = {}  # task -> a file the user chose
        self._file_encoding: dict[str, str] = {}  # task -> that file's encoding
        self._build()
        self.refresh_runs()
        self._on_task()

    def _build(self) -> None:
        box = QGroupBox("Fine-tuning")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        controls: dict[str, Control] = {}

        def row(layout: QFormLayout, name: str, label: str, widget: QWidget,
                shown: QWidget | QHBoxLayout | None = None) -> None:
            """A labeled row for the config field `name`, entered in the form's table."""
            controls[name] = Control(label, widget)
            layout.addRow(label, shown if shown is not None else widget)

        self.task_box = QComboBox()
        for task in TASKS:
            self.task_box.addItem(OBJECTIVES[task].title, task)
        row(form, "task", "Task", self.task_box)
        self.base_box = QComboBox()
        self.base_box.setToolTip("The pretrained run whose body is fine-tuned")
        # Long run names are elided, not allowed to widen the form past the page's left pane.
        _narrow(self.base_box, 16)
        row(form, "base_run", "Start from", self.base_box)
        self.file_edit = QLineEdit()
        self.file_edit.setToolTip("A CSV, TSV or JSONL file of labeled examples")
        self.file_button = QPushButton("…")
        self.file_button.setToolTip("Choose a labeled file")
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.file_button)
        row(form, "train_file", "Labeled file", self.file_edit, file_row)
        self.encoding_box = QComboBox()
        self.encoding_box.addItems(list(ENCODINGS))
        self.encoding_box.setToolTip("How the labeled file's bytes are read: utf-8 refuses bad "
                                     "bytes, latin-1 reads any byte, replace turns bad bytes "
                                     "into \N{REPLACEMENT CHARACTER}")
        row(form, "encoding", "Encoding", self.encoding_box)

        # The columns of the task's labeled data (and a classifier's pooling), in a form of
        # their own: the rows a task does not read are hidden.
        self.columns = QWidget()
        self.columns_form = QFormLayout(self.columns)
        self.columns_form.setContentsMargins(0, 0, 0, 0)
        self.column_edits: dict[str, QLineEdit] = {}
        for name, label in COLUMNS.items():
            edit = QLineEdit(COLUMN_DEFAULTS[name])
            self.column_edits[name] = edit
            row(self.columns_form, name, label, edit)
            if name == "label_col":
                self.pooling_box = QComboBox()
                for key, text in POOLINGS:
                    self.pooling_box.addItem(text, key)
                self.pooling_box.setToolTip("What the classifier head reads from the body's "
                                            "outputs")
                _narrow(self.pooling_box, 16)
                row(self.columns_form, "pooling", "Pooling", self.pooling_box)
        (self.text_col, self.label_col, self.question_col, self.context_col, self.answer_col,
         self.answer_start_col) = self.column_edits.values()
        self.answer_start_col.setPlaceholderText("none: found in the context")
        form.addRow(self.columns)

        self.freeze_embeddings = QCheckBox("Freeze embeddings")
        controls["freeze_embeddings"] = Control("Freeze embeddings", self.freeze_embeddings)
        self.freeze_layers = QSpinBox()
        self.freeze_layers.setRange(0, 256)
        self.freeze_layers.setToolTip("Keep the lowest N blocks as pretrained")
        self.body_lr_scale = QDoubleSpinBox()
        self.body_lr_scale.setRange(0.01, 10.0)
        self.body_lr_scale.setSingleStep(0.1)
        self.body_lr_scale.setValue(1.0)
        self.body_lr_scale.setToolTip("The body learns at this fraction of the head's rate")
        self.class_weights = QCheckBox("Weight classes by inverse frequency")
        controls["class_weights"] = Control("Weight classes", self.class_weights)
        form.addRow(self.freeze_embeddings)
        row(form, "freeze_layers", "Freeze lower layers", self.freeze_layers)
        row(form, "body_lr_scale", "Body learning-rate scale", self.body_lr_scale)
        form.addRow(self.class_weights)

        # 0 is "derived from the data" (training/budget.py), shown as the spin box's special text.
        self.steps = QSpinBox()
        self.steps.setRange(0, 10_000_000)
        self.steps.setSpecialValueText("auto: 3 epochs")
        self.steps.setToolTip("Optimizer steps (max_steps); auto: 3 passes over the training "
                              "rows, at least 300 steps")
        self.eval_every = QSpinBox()
        self.eval_every.setRange(0, 10_000_000)
        self.eval_every.setSpecialValueText("auto: half an epoch")
        self.eval_every.setToolTip("Steps between evaluations; the best one is kept")
        self.patience = QSpinBox()
        self.patience.setRange(0, 1000)
        self.patience.setSpecialValueText("off")
        self.patience.setToolTip("Stop after this many evaluations without a better validation "
                                 "score (early_stopping_patience)")
        self.learning_rate = QLineEdit("5e-4")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(16)
        row(form, "max_steps", "Steps", self.steps)
        row(form, "eval_interval", "Evaluate every", self.eval_every)
        row(form, "early_stopping_patience", "Early stopping patience", self.patience)
        self.seeds = QSpinBox()  # "Does pretraining help?" only: not a field of the run
        self.seeds.setRange(0, 20)
        self.seeds.setSpecialValueText("auto: 3 under 10,000 rows")
        self.seeds.setToolTip("Does pretraining help? repeats both fine-tunes with this many "
                              "seeds and reports the gain with its spread")
        form.addRow("Comparison seeds", self.seeds)
        row(form, "learning_rate", "Learning rate", self.learning_rate)
        row(form, "batch_size", "Batch size", self.batch_size)
        self.marks = FieldMarks(controls)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(box)

        self.task_box.currentIndexChanged.connect(lambda _i: self._on_task())
        self.file_button.clicked.connect(self._ask_file)
        self.file_edit.textEdited.connect(self._remember_file)
        self.encoding_box.currentIndexChanged.connect(lambda _i: self._remember_encoding())
        for combo in (self.base_box, self.task_box, self.encoding_box, self.pooling_box):
            combo.currentIndexChanged.connect(lambda _i: self.sig_changed.emit())
        for edit in (self.file_edit, *self.column_edits.values(), self.learning_rate):
            edit.textChanged.connect(lambda _t: self.sig_changed.emit())
        for spin in (self.freeze_layers, self.steps, self.eval_every, self.patience,
                     self.batch_size, self.body_lr_scale):
            spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
        for check in (self.freeze_embeddings, self.class_weights):
            check.toggled.connect(lambda _b: self.sig_changed.emit())

    # -- choices

    def task(self) -> str:
        return str(self.task_box.currentData())

    def set_task(self, task: str) -> None:
        self.task_box.setCurrentIndex(max(self.task_box.findData(task), 0))

    def refresh_runs(self) -> None:
        """List the pretrained runs the task can start from, keeping the current choice."""
        keep = self.base_box.currentData()
        self.base_box.blockSignals(True)
        self.base_box.clear()
        allowed = OBJECTIVES[self.task()].archs
        for r in pretrained_runs(self.runs_root):
            if OBJECTIVES[r.objective].archs[0] in allowed:
                self.base_box.addItem(f"{r.name} · {r.objective}", str(r.path))
        i = self.base_box.findData(keep) if keep else -1
        self.base_box.setCurrentIndex(i if i >= 0 else (0 if self.base_box.count() else -1))
        self.base_box.blockSignals(False)
        self.sig_changed.emit()

    def base_run(self) -> Path | None:
        data = self.base_box.currentData()
        return Path(data) if data else None

    def _on_task(self) -> None:
        task = self.task()
        for name, edit in self.column_edits.items():
            self.columns_form.setRowVisible(edit, name in OBJECTIVES[task].columns)
        self.columns_form.setRowVisible(self.pooling_box, has_classes(task))
        self.class_weights.setEnabled(has_classes(task))
        self.pooling_box.setEnabled(has_classes(task))
        # Each task keeps its own file and that file's encoding (the bundled samples: utf-8).
        encoding = self._file_encoding.get(task, "utf-8")
        for w in (self.file_edit, self.encoding_box):
            w.blockSignals(True)
        self.file_edit.setText(self._custom_file.get(task, str(sample_for(task))))
        self.file_edit.setCursorPosition(0)  # show where the path starts, not its end
        self.encoding_box.setCurrentIndex(max(self.encoding_box.findText(encoding), 0))
        for w in (self.file_edit, self.encoding_box):
            w.blockSignals(False)
        self.refresh_runs()

    def _remember_file(self, text: str) -> None:
        self._custom_file[self.task()] = text

    def _remember_encoding(self) -> None:
        self._file_encoding[self.task()] = self.encoding()

    def encoding(self) -> str:
        return self.encoding_box.currentText()

    def set_encoding(self, encoding: str) -> None:
        i = self.encoding_box.findText(encoding)
        if i < 0:
            raise UserError(f"encoding {encoding!r}: choose one of {', '.join(ENCODINGS)}.",
                            field="encoding")
        self.encoding_box.setCurrentIndex(i)

    def _column_edits(self) -> dict[str, QLineEdit]:
        """The column edits by role ("text", "label", ...), as settings and choices name them."""
        return {role(name): edit for name, edit in self.column_edits.items()}

    def set_file(self, path: Path | str, columns: dict[str, str] | None = None,
                 task: str | None = None, encoding: str | None = None) -> None:
        """Use this labeled file (its column mapping and encoding) for `task` (default: the
        current one)."""
        if task is not None:
            self.set_task(task)
        self._custom_file[self.task()] = str(path)
        self.file_edit.setText(str(path))
        self.file_edit.setCursorPosition(0)
        if encoding is not None:
            self.set_encoding(encoding)
        edits = self._column_edits()
        for key, value in (columns or {}).items():
            if key in edits:
                edits[key].setText(value or "")

    def fill_from(self, ft: Any) -> None:
        """Show a fine-tuning run's settings (a FinetuneConfig), e.g. one opened from disk."""
        columns = {role(name): getattr(ft, name) for name in COLUMNS}
        self.set_file(ft.train_file, columns, ft.task,
                      ft.encoding if ft.encoding in ENCODINGS else None)
        i = self.base_box.findData(str(ft.base_run)) if ft.base_run else -1
        if i >= 0:
            self.base_box.setCurrentIndex(i)
        self.pooling_box.setCurrentIndex(max(self.pooling_box.findData(ft.pooling), 0))
        self.freeze_embeddings.setChecked(ft.freeze_embeddings)
        self.freeze_layers.setValue(ft.freeze_layers)
        self.body_lr_scale.setValue(ft.body_lr_scale)
        self.class_weights.setChecked(ft.class_weights)

    # -- persistence

    def settings(self) -> dict[str, Any]:
        """What the form shows, JSON-able (the files the user chose, not the bundled samples)."""
        return {
            "task": self.task(),
            "base_run": str(self.base_box.currentData() or ""),
            "files": dict(self._custom_file),
            "encodings": dict(self._file_encoding),
            "columns": {k: e.text() for k, e in self._column_edits().items()},
            "pooling": str(self.pooling_box.currentData()),
            "freeze_embeddings": self.freeze_embeddings.isChecked(),
            "freeze_layers": self.freeze_layers.value(),
            "body_lr_scale": self.body_lr_scale.value(),
            "class_weights": self.class_weights.isChecked(),
            "max_steps": self.steps.value(),
            "eval_interval": self.eval_every.value(),
            "early_stopping_patience": self.patience.value(),
            "compare_seeds": self.seeds.value(),
            "learning_rate": self.learning_rate.text(),
            "batch_size": self.batch_size.value(),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Show saved settings (from `settings()`); unknown or mistyped entries are skipped,
        and a base run that no longer exists leaves the first one listed chosen."""
        self._restore_task(saved)
        self._restore_choices(saved)
        self._restore_numbers(saved)

    def _restore_task(self, saved: dict[str, Any]) -> None:
        """The files and encodings chosen per task, then the task (which shows its own)."""
        files = _entry(saved, "files", dict) or {}
        encodings = _entry(saved, "encodings", dict) or {}
        self._custom_file = {t: str(p) for t, p in files.items() if t in TASKS and p}
        self._file_encoding = {t: str(e) for t, e in encodings.items()
                               if t in TASKS and e in ENCODINGS}
        task = _entry(saved, "task", str)
        if task in TASKS and task != self.task():
            self.set_task(task)  # shows the task's file and encoding, lists its base runs
        else:
            self._on_task()

    def _restore_choices(self, saved: dict[str, Any]) -> None:
        """The base run, the columns and the pooling."""
        base = _entry(saved, "base_run", str)
        i = self.base_box.findData(base) if base else -1
        if i >= 0:
            self.base_box.setCurrentIndex(i)
        for key, value in (_entry(saved, "columns", dict) or {}).items():
            edit = self._column_edits().get(key)
            if edit is not None and isinstance(value, str):
                edit.setText(value)
        pooling = _entry(saved, "pooling", str)
        if pooling is not None:
            self.pooling_box.setCurrentIndex(max(self.pooling_box.findData(pooling), 0))

    def _restore_numbers(self, saved: dict[str, Any]) -> None:
        """The freezing options, the budget, the seeds and the optimizer's settings."""
        for key, box in (("freeze_embeddings", self.freeze_embeddings),
                         ("class_weights", self.class_weights)):
            checked = _entry(saved, key, bool)
            if checked is not None:
                box.setChecked(checked)
        for key, spin in (("freeze_layers", self.freeze_layers), ("max_steps", self.steps),
                          ("eval_interval", self.eval_every),
                          ("early_stopping_patience", self.patience),
                          ("compare_seeds", self.seeds),
                          ("batch_size", self.batch_size)):
            value = _entry(saved, key, int)
            if value is not None and not isinstance(value, bool):
                spin.setValue(value)
        scale = _entry(saved, "body_lr_scale", float)
        if scale is not None:
            self.body_lr_scale.setValue(scale)
        lr = _entry(saved, "learning_rate", str)
        if lr:
            self.learning_rate.setText(lr)

    def _ask_file(self) -> None:
        self.file_dialog = open_dialog(
            self, "Choose a labeled file", self.home, Path(self.file_edit.text()).parent,
            lambda paths: self.set_file(paths[0]),
            "Labeled data (*.csv *.tsv *.jsonl *.json);;All files (*)",
            QFileDialog.FileMode.ExistingFile)

    # -- the run it describes

    def config(self, device: str, name: str = "") -> RunConfig:
        """The fine-tuning RunConfig; UserError (one line) when something is missing or wrong."""
        from ....core.config import FinetuneConfig
        from ....core.objectives.finetune_setup import make_finetune_config

        base = self.base_run()
        if base is None:
            raise UserError(f"no pretrained run to start from: pretrain "
                            f"{needs_arch(OBJECTIVES[self.task()])} model first.",
                            field="base_run")
        path = self.file_edit.text().strip()
        if not path or not Path(path).is_file():
            raise UserError(f"labeled file {path or '(none)'}: not found; choose a file.",
                            field="train_file")
        try:
            lr = float(self.learning_rate.text())
        except ValueError:
            raise UserError(f"learning_rate={self.learning_rate.text()}: expected a number.",
                            field="learning_rate") from None
        classes = has_classes(self.task())
        col = self._column
        ft = FinetuneConfig(
            task=self.task(), train_file=path, base_run=str(base), encoding=self.encoding(),
            text_col=col("text_col"), label_col=col("label_col"),
            question_col=col("question_col"), context_col=col("context_col"),
            answer_col=col("answer_col"), answer_start_col=col("answer_start_col"),
            freeze_embeddings=self.freeze_embeddings.isChecked(),
            freeze_layers=self.freeze_layers.value(),
            body_lr_scale=self.body_lr_scale.value(),
            class_weights=self.class_weights.isChecked() and classes,
            pooling=str(self.pooling_box.currentData()) if classes else "auto")
        steps, every = self.steps.value(), self.eval_every.value()
        overrides: dict[str, Any] = {
            "learning_rate": lr, "batch_size": self.batch_size.value(), "device": device,
            "log_interval": max(1, min(10, steps // 10)) if steps else 10,
            "early_stopping_patience": self.patience.value() or None}
        if steps:  # else derived from the data: FINETUNE_TRAIN's epochs
            overrides["max_steps"] = steps
        if every:
            overrides["eval_interval"] = min(every, steps) if steps else every
        return make_finetune_config(ft, overrides=overrides, name=name)

    def _column(self, name: str) -> str:
        """The column the form names for FinetuneConfig field `name` (one of COLUMNS)."""
        return self.column_edits[name].text().strip()

    def compare_seeds(self) -> int | None:
        """Seeds for "Does pretraining help?"; None: the engine's rule for the set's size."""
        return self.seeds.value() or None

    def set_editable(self, on: bool) -> None:
        for w in self.findChildren(QWidget):
            if isinstance(w, (QComboBox, QLineEdit, QPushButton, QSpinBox, QDoubleSpinBox,
                              QCheckBox)):
                classes_only = w in (self.class_weights, self.pooling_box)
                w.setEnabled(on and (not classes_only or has_classes(self.task())))
