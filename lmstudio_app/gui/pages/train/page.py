"""The Train page: choose a model and its training settings, train, and watch the curves.

The form validates as you type with the engine's own rules (build_run_config raises UserError
naming the setting): the setting at fault is outlined in red with the reason, and Start stays
disabled until the form is valid. Training runs in a TrainingSession (a worker thread); reading
a run's history from disk runs in a BackgroundJob. The page only listens to their signals.

In fine-tune mode the model rows give way to a FinetuneForm (task, base run, labeled file); the
run goes through the same TrainingSession, and its validation metrics get a plot of their own.
The form's settings persist in QSettings as they change and come back on the next start.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core import runs
from ....core.config import RunConfig, build_run_config
from ....core.errors import UserError
from ....core.presets import PRESETS
from ....core.training.sinks import EvalMetrics, MetricsSink, StepMetrics
from ....core.util.units import format_duration, human_bytes, human_count
from ...jobs import BackgroundJob
from ...state import AppState
from ...training import TrainingSession
from ...widgets.confusion import ConfusionView, has_confusion
from ...widgets.curves import CurvesWidget, arrays_from_events
from .finetune_form import FinetuneForm, MetricsPlot


@dataclass(frozen=True)
class Field:
    key: str  # the RunConfig field (ModelConfig or TrainConfig), as `--set` spells it
    label: str
    kind: type  # int or float
    tip: str
    optional: bool = False  # blank means "automatic" (the engine derives it)


FIELDS = (
    Field("n_layer", "Layers", int, "Transformer blocks (n_layer)"),
    Field("n_head", "Attention heads", int, "Heads per block (n_head); divides the width"),
    Field("n_embd", "Width", int, "Embedding width (n_embd)"),
    Field("block_size", "Context length", int, "Tokens per training window (block_size)"),
    Field("dropout", "Dropout", float, "Dropout probability in [0, 1)"),
    Field("batch_size", "Batch size", int, "Windows per step (batch_size)"),
    Field("grad_accum", "Gradient accumulation", int,
          "Micro-batches per optimizer step (grad_accum)"),
    Field("learning_rate", "Learning rate", float, "Peak learning rate (cosine decay after)"),
    Field("warmup_steps", "Warm-up steps", int, "Linear warm-up; blank: automatic",
          optional=True),
    Field("max_steps", "Steps", int, "Optimizer steps to train (max_steps)"),
    Field("eval_interval", "Evaluate every", int,
          "Steps between evaluations and checkpoints (eval_interval)"),
    Field("log_interval", "Log every", int,
          "Steps between points on the curves; each log forces a device sync on a GPU"),
    Field("weight_decay", "Weight decay", float, "AdamW weight decay on matrices"),
    Field("seed", "Seed", int, "Random seed: the same seed gives the same run"),
)
FIELD_KEYS = tuple(f.key for f in FIELDS)

OBJECTIVES = (("clm", "Causal LM (GPT)"), ("mlm", "Masked LM (BERT)"))
DEFAULT_VOCAB = 8000

# Settings keys (one place).
KEY_DATA = "train/data_dir"
KEY_OBJECTIVE = "train/objective"
KEY_PRESET = "train/preset"
KEY_DEVICE = "train/device"
KEY_FIELDS = "train/fields"
KEY_MODE = "train/mode"
KEY_FINETUNE = "train/finetune"  # the fine-tune form's settings, as JSON
MODES = (("pretrain", "Pretrain"), ("finetune", "Fine-tune"))

_INVALID_STYLE = "QLineEdit { border: 2px solid #d9372b; border-radius: 3px; padding: 1px; }"






def _fields_named(message: str) -> list[str]:
    """The form fields an engine message names, as `key=value` (how UserError spells them)."""
    return [k for k in FIELD_KEYS if re.search(rf"\b{k}=", message)]


COMPARE_SIDES = ("pretrained", "scratch")


@dataclass(frozen=True)
class CompareProgress:
    """Where a comparison stands: which side trains (1 of 2, 2 of 2) and its step."""

    init: str  # "pretrained" | "scratch"
    step: int
    max_steps: int

    @property
    def side(self) -> int:
        return COMPARE_SIDES.index(self.init) + 1


class CompareSink(MetricsSink):
    """Turns one side's training events into CompareProgress reports (called in the worker).

    Steps are reported at most `max_rate_hz` times a second; the start and the end at once.
    """

    def __init__(self, init: str, report: Callable[[Any], None],
                 max_rate_hz: float = 10.0) -> None:
        self.init = init
        self.report = report
        self.max_steps = 0
        self._interval = 1.0 / max_rate_hz
        self._last = 0.0

    def started(self, info: dict[str, Any]) -> None:
        self.max_steps = int(info.get("max_steps", 0))
        self.report(CompareProgress(self.init, int(info.get("start_step", 0)), self.max_steps))

    def step(self, m: StepMetrics) -> None:
        self.max_steps = m.max_steps
        now = time.monotonic()
        if now - self._last >= self._interval or m.step >= m.max_steps:
            self._last = now
            self.report(CompareProgress(self.init, m.step, m.max_steps))

    def finished(self, step: int, reason: str) -> None:
        self.report(CompareProgress(self.init, step, self.max_steps))


def read_run_history(run_dir: Path) -> dict[str, Any]:
    """A run's config, curves and samples from its folder (runs in a background job)."""
    events = runs.read_metrics(run_dir)
    return {
        "run_dir": Path(run_dir),
        "config": runs.read_config(run_dir),
        "arrays": arrays_from_events(events),
        "samples": [(int(e["step"]), e.get("val_loss"), e["sample"]) for e in events
                    if e.get("kind") == "eval" and e.get("sample")],
        "metrics": [(int(e["step"]), e["extra"]) for e in events
                    if e.get("kind") == "eval" and e.get("extra")],
        "results": runs.read_json(Path(run_dir) / runs.RESULTS)
        if (Path(run_dir) / runs.RESULTS).exists() else {},
    }


class TrainPage(QWidget):
    """Objective, preset and settings on the left; progress, curves and samples on the right."""

    sig_run_state = Signal(str)  # a short line for the status bar: "Training: step 12 / 200"
    sig_validated = Signal(bool)  # the form was checked: valid or not
    sig_history_loaded = Signal(object)  # Path of a run whose curves were loaded from disk
    sig_device = Signal(str)  # the device the current run trains on, described
    sig_results_shown = Signal(object)  # a fine-tuned run's test report (results.json)
    sig_comparison_shown = Signal(object)  # (pretrained, scratch) InitResults
    sig_compare_progress = Signal(object)  # CompareProgress, a few times a second
    sig_compare_done = Signal()  # the comparison's job ended (completed, stopped or failed)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.session = TrainingSession(self)
        self.data_dir: Path | None = None
        self.vocab_size = DEFAULT_VOCAB
        self.config: RunConfig | None = None  # the valid config the form describes, or None
        self.errors: dict[str, str] = {}  # field key -> reason
        self.general_error = ""
        self.samples: list[tuple[int, str]] = []
        self._jobs: list[BackgroundJob] = []
        self._start_step = 0
        self._last_eval: EvalMetrics | None = None
        self._loading = False
        self.results: dict[str, Any] = {}
        self._compare_job: BackgroundJob | None = None
        self._compare_control: Any = None
        self.comparison: tuple[Any, Any] | None = None

        self._build()
        self._connect()
        self._load_settings()
        self.validate()
        self._update_buttons()

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(splitter)

        # Left: the form.
        form_box = QWidget()
        left = QVBoxLayout(form_box)
        left.setContentsMargins(0, 0, 0, 0)

        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Mode"))
        self.mode_box = QComboBox()
        for key, label in MODES:
            self.mode_box.addItem(label, key)
        self.mode_box.setToolTip("Pretrain a model on a corpus, or fine-tune a pretrained run "
                                 "on labeled examples")
        mode_row.addWidget(self.mode_box, 1)
        left.addLayout(mode_row)

        data_group = QGroupBox("Data")
        data_row = QHBoxLayout(data_group)
        self.data_label = QLabel("No prepared data yet: prepare a corpus on the Data page.")
        self.data_label.setWordWrap(True)
        data_row.addWidget(self.data_label, 1)
        self.data_button = QPushButton("Choose…")
        self.data_button.setToolTip("A folder made by Prepare (tokens.h5 and tokenizer.model)")
        data_row.addWidget(self.data_button)
        left.addWidget(data_group)
        self.data_group = data_group
        self.ft_form = FinetuneForm(self.state.runs_root)
        self.ft_form.hide()
        left.addWidget(self.ft_form)
        self.compare_button = QPushButton("Does pretraining help?")
        self.compare_button.setToolTip(
            "Fine-tune twice with the same budget: from the chosen run and from random weights "
            "of the same shape, then compare their test scores")
        self.compare_button.hide()
        left.addWidget(self.compare_button)

        model_group = QGroupBox("Model and training")
        form = QFormLayout(model_group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.objective_box = QComboBox()
        for key, label in OBJECTIVES:
            self.objective_box.addItem(label, key)
        form.addRow("Objective", self.objective_box)
        self.preset_box = QComboBox()
        for name in PRESETS:
            self.preset_box.addItem(name, name)
        self.preset_box.setToolTip("A model shape and the training settings that suit it")
        form.addRow("Preset", self.preset_box)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic")
        self.name_edit.setToolTip("Part of the run folder's name")
        form.addRow("Run name", self.name_edit)
        self.edits: dict[str, QLineEdit] = {}
        for f in FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"field_{f.key}")
            edit.setToolTip(f.tip)
            if f.optional:
                edit.setPlaceholderText("automatic")
            self.edits[f.key] = edit
            form.addRow(f.label, edit)
        self.device_box = QComboBox()
        form.addRow("Device", self.device_box)
        self.model_form = form
        left.addWidget(model_group)

        self.size_label = QLabel(" ")
        self.size_label.setWordWrap(True)
        left.addWidget(self.size_label)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d9372b;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addWidget(self.error_label)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training (Ctrl+Return)")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop at the next step and save (Ctrl+.)")
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        left.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_box)
        # The form scrolls vertically only: it is never cut on the right (fine-tune mode is
        # the wider of the two).
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_scroll = scroll
        self._fit_form_width()
        splitter.addWidget(scroll)

        # Right: progress, curves, samples.
        right_box = QWidget()
        right = QVBoxLayout(right_box)
        right.setContentsMargins(0, 0, 0, 0)
        self.run_label = QLabel("No run yet.")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.run_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        right.addWidget(self.progress)
        self.progress_label = QLabel(" ")
        right.addWidget(self.progress_label)
        right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split = right_split
        self.curves = CurvesWidget()
        right_split.addWidget(self.curves)
        self.metrics_box = QWidget()
        mv = QVBoxLayout(self.metrics_box)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addWidget(QLabel("Validation metrics"))
        self.metrics_plot = MetricsPlot()
        self.confusion = ConfusionView()
        self.confusion.hide()
        metrics_row = QHBoxLayout()
        metrics_row.addWidget(self.metrics_plot, 1)
        metrics_row.addWidget(self.confusion, 1)
        mv.addLayout(metrics_row, 1)
        self.results_label = QLabel(" ")
        self.results_label.setWordWrap(True)
        self.results_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mv.addWidget(self.results_label)
        self.compare_table = QTableWidget(0, 2)
        self.compare_table.setHorizontalHeaderLabels(["pretrained", "scratch"])
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.compare_table.verticalHeader().setDefaultSectionSize(
            self.compare_table.fontMetrics().height() + 8)  # compact: five rows under the plots
        # The comparison keeps its verdict beside its table: a later run's test line replaces
        # results_label, not this caption.
        self.compare_caption = QLabel(" ")
        self.compare_caption.setWordWrap(True)
        self.compare_caption.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare_box = QWidget()
        cb = QVBoxLayout(self.compare_box)
        cb.setContentsMargins(0, 0, 0, 0)
        cb.addWidget(self.compare_caption)
        cb.addWidget(self.compare_table)
        self.compare_box.hide()
        mv.addWidget(self.compare_box)
        self.metrics_box.hide()
        right_split.addWidget(self.metrics_box)
        samples_box = QWidget()
        samples_layout = QVBoxLayout(samples_box)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.addWidget(QLabel("Samples at each evaluation"))
        self.samples_view = QPlainTextEdit()
        self.samples_view.setReadOnly(True)
        self.samples_view.setPlaceholderText(
            "GPT runs generate a short text at each evaluation; BERT runs fill a masked word."
        )
        samples_layout.addWidget(self.samples_view)
        right_split.addWidget(samples_box)
        self.samples_box = samples_box
        right_split.setStretchFactor(0, 3)
        right_split.setStretchFactor(1, 1)
        right_split.setSizes([520, 180])
        right.addWidget(right_split, 1)
        splitter.addWidget(right_box)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 900])

    def _fit_form_width(self) -> None:
        """Keep the left pane at least as wide as the form it shows (each mode has its own)."""
        scroll = self.form_scroll
        scroll.setMinimumWidth(max(380, scroll.widget().minimumSizeHint().width()
                                   + scroll.verticalScrollBar().sizeHint().width() + 4))

    def _connect(self) -> None:
        self.data_button.clicked.connect(self._ask_data_dir)
        self.mode_box.currentIndexChanged.connect(lambda _i: self._on_mode())
        self.ft_form.sig_changed.connect(self.validate)
        self.ft_form.sig_changed.connect(self._save_finetune_settings)
        self.compare_button.clicked.connect(self.compare_init)
        self.objective_box.currentIndexChanged.connect(self._on_preset_changed)
        self.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.device_box.currentIndexChanged.connect(self.validate)
        self.name_edit.textChanged.connect(self.validate)
        for edit in self.edits.values():
            edit.textChanged.connect(self.validate)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)

        s = self.session
        s.sig_state.connect(self._on_session_state)
        s.sig_started.connect(self._on_started)
        s.sig_steps.connect(self._on_steps)
        s.sig_evaluation.connect(self._on_evaluation)
        s.sig_checkpoint.connect(self._on_checkpoint)
        s.sig_paused.connect(self._on_paused)
        s.sig_failed.connect(self._on_failed)
        s.sig_done.connect(self._on_done)

        st = self.state
        st.sig_data_ready.connect(self.set_data_dir)
        st.sig_open_run.connect(self.open_run)
        st.sig_resume_run.connect(self.resume_run)
        st.sig_compare_run.connect(self.compare_run)
        st.sig_runs_changed.connect(self._refresh_base_runs)
        st.sig_labeled_ready.connect(self.use_labeled)

    # -- settings ------------------------------------------------------------------------------

    def _load_settings(self) -> None:
        self._loading = True
        try:
            self.device_box.clear()
            from ....core.util.device import available_devices

            for name, description in available_devices():
                self.device_box.addItem(description, name)
            saved_device = self.state.value(KEY_DEVICE, "")
            i = self.device_box.findData(saved_device)
            if i >= 0:
                self.device_box.setCurrentIndex(i)
            i = self.objective_box.findData(self.state.value(KEY_OBJECTIVE, "clm"))
            self.objective_box.setCurrentIndex(max(i, 0))
            i = self.preset_box.findData(self.state.value(KEY_PRESET, "tiny"))
            self.preset_box.setCurrentIndex(max(i, 0))
            self._fill_from_preset()
            saved = self.state.value(KEY_FIELDS, "")
            if saved:
                try:
                    for key, text in json.loads(saved).items():
                        if key in self.edits:
                            self.edits[key].setText(str(text))
                except (ValueError, AttributeError):
                    pass
            saved = self.state.value(KEY_FINETUNE, "", str)
            if saved:
                try:
                    ft_settings = json.loads(saved)
                except ValueError:
                    ft_settings = None
                if isinstance(ft_settings, dict):
                    self.ft_form.restore(ft_settings)
            i = self.mode_box.findData(self.state.value(KEY_MODE, "pretrain"))
            self.mode_box.setCurrentIndex(max(i, 0))
        finally:
            self._loading = False
        self._on_mode(validate=False)
        data = self.state.data_dir or self.state.value(KEY_DATA, "")
        if data and Path(str(data)).is_dir():
            self.set_data_dir(Path(str(data)))

    def _save_settings(self) -> None:
        self.state.set_value(KEY_MODE, self.mode())
        self._save_finetune_settings()
        self.state.set_value(KEY_OBJECTIVE, self.objective())
        self.state.set_value(KEY_PRESET, self.preset())
        self.state.set_value(KEY_DEVICE, self.device_name())
        self.state.set_value(KEY_FIELDS, json.dumps(
            {k: e.text() for k, e in self.edits.items()}))

    def _save_finetune_settings(self) -> None:
        """The fine-tune form persists as it changes (QSettings writes to disk lazily)."""
        if not self._loading:
            self.state.set_value(KEY_FINETUNE, json.dumps(self.ft_form.settings()))

    # -- the form ------------------------------------------------------------------------------

    def objective(self) -> str:
        return str(self.objective_box.currentData())

    def mode(self) -> str:
        return str(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(mode), 0))

    def _on_mode(self, validate: bool = True) -> None:
        """Pretraining shows the data and model rows; fine-tuning shows its own form instead
        (the model's shape comes from the base run)."""
        fine = self.mode() == "finetune"
        if not self._loading:
            self.state.set_value(KEY_MODE, self.mode())
        self.data_group.setVisible(not fine)
        self.ft_form.setVisible(fine)
        self.metrics_box.setVisible(fine)
        self.compare_button.setVisible(fine)
        # Fine-tuned runs write no samples; their metrics take that room.
        self.samples_box.setVisible(not fine)
        if fine:
            self.right_split.setSizes([340, 460, 0])  # the task's metrics matter most here
        for w in (self.objective_box, self.preset_box, *self.edits.values()):
            self.model_form.setRowVisible(w, not fine)
        self._fit_form_width()
        if validate:
            self.validate()

    @Slot(object)
    def use_labeled(self, choice: Any) -> None:
        """Make a checked labeled file (Data page) the fine-tuning defaults."""
        if self.session.is_running() or self._compare_job is not None:
            return
        task = "classify" if choice.task == "classification" else (
            self.ft_form.task() if self.ft_form.task().startswith("qa-") else "qa-extractive")
        self.set_mode("finetune")
        self.ft_form.set_file(choice.path, choice.columns, task,
                              getattr(choice, "encoding", None) or "utf-8")

    def _refresh_base_runs(self) -> None:
        if not self.session.is_running():
            self.ft_form.refresh_runs()

    def preset(self) -> str:
        return str(self.preset_box.currentData())

    def device_name(self) -> str:
        return str(self.device_box.currentData() or "cpu")

    def set_field(self, key: str, value: Any) -> None:
        """Type a value into a field (as the user would); the form re-validates."""
        self.edits[key].setText(str(value))

    def _fill_from_preset(self) -> None:
        """Show the preset's values; the automatic (optional) fields go blank."""
        cfg = build_run_config(self.objective(), self.preset(), self.vocab_size)
        self._loading = True
        try:
            for f in FIELDS:
                if f.optional:
                    self.edits[f.key].setText("")
                    continue
                section = cfg.model if hasattr(cfg.model, f.key) else cfg.train
                self.edits[f.key].setText(_format_value(getattr(section, f.key)))
        finally:
            self._loading = False

    def _fill_from_config(self, cfg: RunConfig) -> None:
        self._loading = True
        try:
            self.objective_box.setCurrentIndex(max(self.objective_box.findData(cfg.objective), 0))
            self.preset_box.setCurrentIndex(max(self.preset_box.findData(cfg.preset), 0))
            for f in FIELDS:
                section = cfg.model if hasattr(cfg.model, f.key) else cfg.train
                self.edits[f.key].setText(_format_value(getattr(section, f.key)))
            self.name_edit.setText(cfg.name)
        finally:
            self._loading = False
        self.validate()

    @Slot()
    def _on_preset_changed(self) -> None:
        if self._loading:
            return
        self._fill_from_preset()
        self.validate()

    def overrides(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The typed field values, and the fields that do not parse (key -> reason)."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in FIELDS:
            text = self.edits[f.key].text().strip()
            if not text:
                if not f.optional:
                    errors[f.key] = f"{f.key}: enter a value."
                continue
            try:
                values[f.key] = f.kind(text) if f.kind is float else int(text, 10)
            except ValueError:
                what = "a whole number" if f.kind is int else "a number"
                errors[f.key] = f"{f.key}={text}: expected {what}."
                continue
            if f.kind is float and not math.isfinite(values[f.key]):
                errors[f.key] = f"{f.key}={text}: expected a finite number."
        values["device"] = self.device_name()
        return values, errors

    @Slot()
    def validate(self) -> bool:
        """Check the form with the engine's rules; mark what is wrong; enable Start if valid."""
        if self._loading:
            return self.config is not None
        if self.mode() == "finetune":
            return self._validate_finetune()
        values, errors = self.overrides()
        cfg: RunConfig | None = None
        general = ""
        if not errors:
            try:
                cfg = build_run_config(self.objective(), self.preset(), self.vocab_size, values,
                                       data_dir=str(self.data_dir or ""),
                                       name=self.name_edit.text().strip())
            except UserError as exc:
                message = str(exc)
                named = _fields_named(message)
                for key in named:
                    errors[key] = message
                if not named:
                    general = message
        self.errors, self.config = errors, cfg
        for f in FIELDS:
            edit = self.edits[f.key]
            reason = errors.get(f.key)
            edit.setStyleSheet(_INVALID_STYLE if reason else "")
            edit.setToolTip(reason or f.tip)
        if not general and self.data_dir is None:
            general = "No prepared data: prepare a corpus on the Data page, or choose a folder."
        self.general_error = general
        shown = list(dict.fromkeys(errors.values())) + ([general] if general else [])
        self.error_label.setText("\n".join(shown))
        self._update_size(cfg)
        self._update_buttons()
        valid = cfg is not None
        self.sig_validated.emit(valid)
        return valid

    def _validate_finetune(self) -> bool:
        cfg: RunConfig | None = None
        try:
            cfg = self.ft_form.config(self.device_name(), self.name_edit.text().strip())
            general = ""
        except UserError as exc:
            general = str(exc)
        self.errors, self.config, self.general_error = {}, cfg, general
        for f in FIELDS:
            self.edits[f.key].setStyleSheet("")
        self.error_label.setText(general)
        self._update_size(cfg)
        self._update_buttons()
        self.sig_validated.emit(cfg is not None)
        return cfg is not None

    def _update_size(self, cfg: RunConfig | None) -> None:
        if cfg is None:
            self.size_label.setText("Parameters: –")
            return
        try:
            from ....core.models import count_parameters
            from ....core.util.device import estimate_memory_bytes

            n = count_parameters(cfg.model)
        except (ImportError, UserError, ValueError):
            self.size_label.setText("Parameters: –")
            return
        device = self.device_name()
        mixed = device.startswith("cuda")
        m, t = cfg.model, cfg.train
        mem = estimate_memory_bytes(n, t.batch_size, m.block_size, m.n_layer, m.n_embd,
                                    m.vocab_size, mixed)
        tokens = t.batch_size * m.block_size * t.grad_accum
        self.size_label.setText(
            f"Parameters: {human_count(n)} ({n:,}) · about {human_bytes(mem)} to train on "
            f"{self.device_box.currentText() or device} · {tokens:,} tokens per step"
        )
        self.parameter_count = n
        self.memory_estimate = mem

    def can_start(self) -> bool:
        return (self.config is not None and not self.session.is_running()
                and self._compare_job is None
                and (self.data_dir is not None or self.config.finetune is not None))

    def _update_buttons(self) -> None:
        state = self.session.state
        running = self.session.is_running()
        self.start_button.setEnabled(self.can_start())
        self.pause_button.setEnabled(running and state in ("starting", "running"))
        self.resume_button.setEnabled(running and state in ("pausing", "paused"))
        comparing = self._compare_job is not None
        self.stop_button.setEnabled(
            (running and state != "stopping")
            or (comparing and not self._compare_control.stop_requested))
        editable = not running and not comparing
        for w in (self.objective_box, self.preset_box, self.device_box, self.name_edit,
                  self.data_button, self.mode_box, *self.edits.values()):
            w.setEnabled(editable)
        self.ft_form.set_editable(editable)
        self.mode_box.setEnabled(editable)
        self.compare_button.setEnabled(self.can_start() and self.config is not None
                                       and self.config.finetune is not None)

    # -- data ----------------------------------------------------------------------------------

    @Slot(object)
    def set_data_dir(self, path: Path) -> None:
        """Train on this prepared folder (announced by the Data page, or chosen here)."""
        path = Path(path)
        tok = path / runs.TOKENIZER
        try:
            from ....core.data.tokenizer import Tokenizer

            self.vocab_size = Tokenizer.load(tok).vocab_size  # a small file: read at once
        except (UserError, OSError) as exc:
            self.data_dir = None
            self.data_label.setText(f"{path}: {exc}")
            self.validate()
            return
        self.data_dir = path
        self.state.set_value(KEY_DATA, str(path))
        self.data_label.setText(f"{path.name}  ·  vocabulary {self.vocab_size:,}")
        self.data_label.setToolTip(str(path))
        self.validate()

    def _ask_data_dir(self) -> None:
        start = str(self.data_dir or self.state.data_root)
        path = QFileDialog.getExistingDirectory(self, "Choose a prepared data folder", start)
        if path:
            self.set_data_dir(Path(path))

    # -- commands ------------------------------------------------------------------------------

    @Slot()
    def start(self) -> bool:
        """Start a new run with the form's settings; False when the form is not valid."""
        if not self.validate() or not self.can_start():
            return False
        cfg = self.config
        assert cfg is not None
        self._save_settings()
        run_dir = runs.new_run_dir(self.state.runs_root, cfg.name)
        self.curves.clear()
        self.samples.clear()
        self.samples_view.clear()
        self.metrics_plot.clear()
        self.results_label.setText(" ")
        self.confusion.hide()
        self._begin(cfg, run_dir, resume=False)
        return True

    def _begin(self, cfg: RunConfig, run_dir: Path, resume: bool) -> None:
        self._start_step = 0
        self._last_eval = None
        self.progress.setRange(0, max(cfg.train.max_steps, 1))
        self.progress.setValue(0)
        self.progress_label.setText("Starting…")
        self.run_label.setText(f"Run: {run_dir.name}")
        self.run_label.setToolTip(str(run_dir))
        self.error_label.setText("")
        self.session.start(cfg, run_dir, resume=resume)
        self.state.training_run = run_dir
        self.state.sig_run_started.emit(run_dir)
        self.state.sig_runs_changed.emit()
        self.state.sig_status.emit(f"Training {run_dir.name}")
        self._update_buttons()

    @Slot()
    def pause(self) -> None:
        self.session.pause()

    @Slot()
    def resume(self) -> None:
        self.session.resume()

    @Slot()
    def stop(self) -> None:
        """Stop the run, or the comparison, at the next step boundary (a run saves)."""
        if self._compare_job is not None:
            self._compare_control.stop()
            self.progress_label.setText("Stopping the comparison at the next step…")
            self.sig_run_state.emit("Comparison: stopping at the next step")
            self._update_buttons()
            return
        self.session.stop()

    def busy(self) -> str | None:
        if self.session.is_running():
            run = self.session.run_dir.name if self.session.run_dir else "a run"
            return f"training {run} (step {self.session.step}); it will stop and save"
        if self._compare_job is not None:
            return "comparing pretrained and scratch fine-tuning; it will stop"
        if any(job.is_running() for job in self._jobs):
            return None  # reading a run's history: nothing is lost by closing
        return None

    def shutdown(self) -> None:
        """Stop training at a step boundary (it saves), cancel history reads, wait for both."""
        self.session.stop()
        self.session.wait_finished()
        if self._compare_job is not None:
            self._compare_control.stop()
            self._compare_job.cancel()
            self._compare_job.wait_finished(60000)
        for job in list(self._jobs):
            job.cancel()
            job.wait_finished()

    # -- session events ------------------------------------------------------------------------

    @Slot(str)
    def _on_session_state(self, state: str) -> None:
        self._update_buttons()
        step = self.session.step
        max_steps = self.session.config.train.max_steps if self.session.config else 0
        text = {
            "starting": "Training: starting",
            "running": f"Training: step {step} / {max_steps}",
            "pausing": "Training: pausing at the next step",
            "paused": f"Paused at step {step}",
            "stopping": "Stopping at the next step and saving…",
            "idle": "Idle",
        }.get(state, state)
        if state in ("pausing", "stopping"):
            self.progress_label.setText(text)
        self.sig_run_state.emit(text)

    @Slot(object)
    def _on_started(self, info: dict) -> None:
        self._start_step = int(info.get("start_step", 0))
        self.progress.setValue(self._start_step)
        device = str(info.get("device", ""))
        params = int(info.get("parameters", 0))
        self.run_label.setText(
            f"Run: {Path(str(info.get('run_dir', ''))).name} · {human_count(params)} parameters "
            f"· {device} · {info.get('dtype', '')}"
        )
        if device:
            self.sig_device.emit(device)

    @Slot(object, int)
    def _on_steps(self, rows: np.ndarray, max_steps: int) -> None:
        self.curves.append_rows(rows)
        step = int(rows[-1, 0])
        elapsed = float(rows[-1, 5])
        tps = float(rows[-1, 4])
        self.progress.setMaximum(max(max_steps, 1))
        self.progress.setValue(min(step, max_steps))
        done = step - self._start_step
        eta = (max_steps - step) * elapsed / done if done > 0 else None
        loss = float(rows[-1, 1])
        text = (f"step {step:,} / {max_steps:,} · loss {loss:.4f} · {tps:,.0f} tokens/s · "
                f"ETA {format_duration(eta)}")
        if self._last_eval is not None:
            text += f" · val loss {self._last_eval.val_loss:.4f} @ {self._last_eval.step}"
        if self.session.state not in ("pausing", "stopping"):
            self.progress_label.setText(text)
            self.sig_run_state.emit(f"Training: step {step:,} / {max_steps:,}")

    @Slot(object)
    def _on_evaluation(self, m: EvalMetrics) -> None:
        self._last_eval = m
        self.curves.add_eval(m.step, m.val_loss)
        if m.extra:
            self.metrics_plot.add(m.step, m.extra)
        if m.sample:
            self._add_sample(m.step, m.val_loss, m.sample)

    def _add_sample(self, step: int, val_loss: float | None, sample: str) -> None:
        self.samples.append((step, sample))
        loss = f" · val loss {val_loss:.4f}" if isinstance(val_loss, float) else ""
        self.samples_view.appendPlainText(f"── step {step}{loss} ──\n{sample.rstrip()}\n")

    @Slot(int, str, bool)
    def _on_checkpoint(self, step: int, path: str, best: bool) -> None:
        self.state.sig_status.emit(f"Saved step {step}" + (" (best so far)" if best else ""))

    @Slot(int)
    def _on_paused(self, step: int) -> None:
        self.progress_label.setText(f"Paused at step {step:,} (saved). Resume to continue.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        # The engine names its command-line option; here the setting is in the form.
        message = re.sub(r"use --encoding \S+ or --encoding \S+",
                         "choose another Encoding in the fine-tuning form", message)
        self.error_label.setText(f"Training failed: {message}")
        self.state.sig_status.emit(f"Training failed: {message}")

    @Slot(object, str)
    def _on_done(self, run_dir: Path, reason: str) -> None:
        self.curves.flush()
        step = self.session.step
        if reason != "failed":
            self.progress_label.setText(f"{reason.capitalize()} at step {step:,}.")
        self.state.training_run = None
        self._update_buttons()
        self.validate()
        self.state.sig_run_finished.emit(run_dir, reason)
        self.state.sig_runs_changed.emit()
        self.state.sig_status.emit(f"{run_dir.name}: {reason} at step {step}")
        self.sig_run_state.emit(f"Idle (last run {reason} at step {step:,})")
        cfg = self.session.config
        if cfg is not None and cfg.finetune is not None and reason == "completed":
            self._read_results(Path(run_dir))

    # -- does pretraining help? ---------------------------------------------------------------

    @Slot()
    def compare_init(self) -> bool:
        """Fine-tune the form's run twice (pretrained and from scratch) in a background job."""
        if not self.validate() or not self.can_start() or self.config is None \
                or self.config.finetune is None:
            return False
        from ....core.objectives.finetune_setup import scratch_twin
        from ....core.training.compare import compare_init
        from ....core.training.control import RunControl

        cfg = self.config
        try:
            twin_name = scratch_twin(cfg).name
        except UserError as exc:
            self.error_label.setText(str(exc))
            return False
        dirs = (runs.new_run_dir(self.state.runs_root, cfg.name),
                runs.new_run_dir(self.state.runs_root, twin_name))
        control = RunControl()

        def work(report: Any, cancel: threading.Event) -> Any:
            try:
                return compare_init(cfg, dirs, lambda init: CompareSink(init, report),
                                    control=control)
            finally:
                for run_dir in dirs:  # a side that never ran leaves no empty folder behind
                    if run_dir.is_dir() and not any(run_dir.iterdir()):
                        run_dir.rmdir()

        job = BackgroundJob(work, self)
        job.sig_progress.connect(self._on_compare_progress)
        job.sig_result.connect(self._show_comparison)
        job.sig_error.connect(self._on_compare_error)
        job.sig_finished.connect(self._on_compare_finished)
        self._compare_job, self._compare_control = job, control
        self.comparison = None
        self.compare_table.setRowCount(0)
        self.compare_caption.setText("Does pretraining help? Comparing…")
        self.compare_box.show()
        self.confusion.hide()
        self.error_label.setText("")
        self.results_label.setText("Comparing: fine-tuning from the pretrained run, then from "
                                   "random weights…")
        self.progress.setRange(0, max(cfg.train.max_steps, 1))
        self.progress.setValue(0)
        self.progress_label.setText("Comparison: starting the pretrained side (1 of 2)…")
        self.run_label.setText(f"Comparing: {dirs[0].name} and {dirs[1].name}")
        self.run_label.setToolTip(f"{dirs[0]}\n{dirs[1]}")
        self.state.sig_status.emit("Comparing pretrained and scratch fine-tuning")
        self._update_buttons()
        job.start()
        return True

    @Slot(object)
    def _on_compare_progress(self, p: CompareProgress) -> None:
        if self._compare_job is None:
            return
        self.progress.setRange(0, max(p.max_steps, 1))
        self.progress.setValue(min(p.step, p.max_steps))
        if not self._compare_control.stop_requested:
            self.progress_label.setText(f"Comparison {p.side} of 2: {p.init} · step "
                                        f"{p.step:,} / {p.max_steps:,}")
            self.sig_run_state.emit(f"Comparing ({p.init}): step {p.step:,} / {p.max_steps:,}")
        self.sig_compare_progress.emit(p)

    @Slot(str)
    def _on_compare_error(self, message: str) -> None:
        self.error_label.setText(f"Comparison failed: {message}")
        self.results_label.setText("The comparison failed; see the message on the left.")
        self.progress_label.setText("Comparison failed.")
        self.state.sig_status.emit(f"Comparison failed: {message}")

    def _show_comparison(self, results: tuple[Any, Any]) -> None:
        from ....core.training.compare import headline

        self.comparison = results
        pre, scr = (headline(r.report) for r in results)
        keys = [k for k in pre if k in scr] or list(pre) or list(scr)
        rows = [*keys, "steps", "ended"]
        self.compare_table.setRowCount(len(rows))
        self.compare_table.setVerticalHeaderLabels(rows)
        # A side stopped before it began has no folder (the job removes an empty one).
        ran = [r.run_dir.is_dir() for r in results]
        for col, (r, h) in enumerate(zip(results, (pre, scr), strict=True)):
            values = [f"{h[k]:.3f}" if k in h else "–" for k in keys]
            values += [str(r.step), (r.error or r.reason) if ran[col] else "did not run"]
            for row, text in enumerate(values):
                self.compare_table.setItem(row, col, QTableWidgetItem(text))
        table = self.compare_table  # tall enough for every row: the plots above can give way
        table.setFixedHeight(table.horizontalHeader().height() + 2 * table.frameWidth()
                             + sum(table.rowHeight(r) for r in range(table.rowCount())))
        unfinished = [f"{r.init} {r.reason} at step {r.step:,}" if ran[i]
                      else f"{r.init} did not run"
                      for i, r in enumerate(results) if r.reason != "completed"]
        main = next((k for k in ("accuracy", "f1", "macro_f1", "exact_match") if k in keys), None)
        stopped = self._compare_control is not None and self._compare_control.stop_requested
        if unfinished:
            summary = (f"Comparison {'stopped' if stopped else 'incomplete'}: "
                       + "; ".join(unfinished) + ". No verdict without both test scores.")
        elif main is not None:
            diff = pre[main] - scr[main]
            summary = (f"Pretraining {'helps' if diff > 0 else 'does not help'} here: {main} "
                       f"{pre[main]:.3f} versus {scr[main]:.3f} from scratch.")
        else:
            summary = "Both runs ended; see the table."
        self.results_label.setText(summary)
        self.compare_caption.setText(f"Does pretraining help? {summary}")
        self.progress_label.setText(f"Comparison {'stopped' if stopped else 'incomplete'}."
                                    if unfinished else "Comparison completed.")
        self.state.sig_status.emit(summary)
        self.sig_comparison_shown.emit(results)

    def _on_compare_finished(self) -> None:
        job, self._compare_job = self._compare_job, None
        if job is not None:
            job.deleteLater()
        self._update_buttons()
        self.validate()
        self.sig_run_state.emit("Idle (comparison ended)")
        self.state.sig_runs_changed.emit()
        self.sig_compare_done.emit()

    # -- fine-tuning results -------------------------------------------------------------------

    def _read_results(self, run_dir: Path) -> None:
        def work(report: Any, cancel: threading.Event) -> dict[str, Any]:
            return runs.read_json(run_dir / runs.RESULTS)

        job = BackgroundJob(work, self)
        job.sig_result.connect(self._show_results)
        job.sig_error.connect(lambda msg: self.results_label.setText(f"No test results: {msg}"))
        job.sig_finished.connect(lambda j=job: self._job_done(j))
        self._jobs.append(job)
        job.start()

    def _show_results(self, report: dict[str, Any]) -> None:
        self.results = report
        keys = ("accuracy", "macro_f1", "exact_match", "f1", "loss")
        parts = [f"{k} {report[k]:.3f}" for k in keys if isinstance(report.get(k), float)]
        n = report.get("n")
        self.results_label.setText(
            f"Test split{f' ({n} examples)' if n else ''}: " + " · ".join(parts)
            if parts else "No test results were saved.")
        if has_confusion(report):
            self.confusion.set_report(report)
            self.confusion.show()
        self.sig_results_shown.emit(report)

    # -- runs from disk ------------------------------------------------------------------------

    def _read_history(self, run_dir: Path, then: Any) -> None:
        def work(report: Any, cancel: threading.Event) -> dict[str, Any]:
            return read_run_history(run_dir)

        job = BackgroundJob(work, self)
        job.sig_result.connect(then)
        job.sig_error.connect(lambda msg: self.state.sig_status.emit(f"{run_dir.name}: {msg}"))
        job.sig_finished.connect(lambda j=job: self._job_done(j))
        self._jobs.append(job)
        job.start()

    def _job_done(self, job: BackgroundJob) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        job.deleteLater()

    @Slot(object)
    def open_run(self, run_dir: Path) -> None:
        """Show a run's curves and samples, read from its folder."""
        if self.session.is_running():
            self.state.sig_status.emit("A run is training: its curves stay on the Train page.")
            return
        self._read_history(Path(run_dir), self._show_history)

    def _show_history(self, history: dict[str, Any]) -> None:
        if self.session.is_running():
            return
        run_dir: Path = history["run_dir"]
        cfg: RunConfig = history["config"]
        self.curves.load_arrays(history["arrays"])
        self.curves.flush()
        self.samples.clear()
        self.samples_view.clear()
        for step, val_loss, sample in history["samples"]:
            self._add_sample(step, val_loss, sample)
        steps = history["arrays"]["step"]
        last = int(steps[-1]) if len(steps) else 0
        self.progress.setRange(0, max(cfg.train.max_steps, 1))
        self.progress.setValue(min(last, cfg.train.max_steps))
        self.progress_label.setText(f"step {last:,} / {cfg.train.max_steps:,} (from disk)")
        self.run_label.setText(f"Run: {run_dir.name}")
        self.run_label.setToolTip(str(run_dir))
        self._fill_from_config(cfg)
        self.metrics_plot.clear()
        self.confusion.hide()
        self.compare_box.hide()
        self.results_label.setText(" ")
        if cfg.finetune is not None:
            self.set_mode("finetune")
            self.ft_form.fill_from(cfg.finetune)
            for step, extra in history.get("metrics", []):
                self.metrics_plot.add(step, extra)
            if history.get("results"):
                self._show_results(history["results"])
        else:
            self.set_mode("pretrain")
        self.sig_history_loaded.emit(run_dir)

    @Slot(object)
    def resume_run(self, run_dir: Path) -> None:
        """Continue a stopped run from its last checkpoint, its curves first loaded from disk."""
        if self.session.is_running():
            self.state.sig_status.emit("A run is already training: stop it first.")
            return
        self._read_history(Path(run_dir), self._resume_after_history)

    def _resume_after_history(self, history: dict[str, Any]) -> None:
        if self.session.is_running():
            return
        self._show_history(history)
        cfg: RunConfig = history["config"]
        self._begin(cfg, history["run_dir"], resume=True)

    @Slot(object)
    def compare_run(self, run_dir: Path) -> None:
        """Overlay a run's curves on the current ones."""
        self._read_history(Path(run_dir), lambda h: self.curves.add_overlay(
            h["run_dir"].name, h["arrays"]))


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
