"""The Train page's left pane: what the next run will be, and whether it can start.

Pretraining shows the prepared data and the model form; fine-tuning shows its own form instead
(the model's shape comes from the base run). Either way the form is checked as it changes with
the engine's own rules (build_run_config, make_finetune_config): the controls of the fields a
UserError names are outlined with the reason, and the message says which settings to change.
The settings persist in QSettings as they change and come back on the next start. The run
buttons sit at the bottom; the page enables them (it knows whether a run is going).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.config import PRETRAIN_OBJECTIVES, RunConfig, build_run_config
from ....core.data.layout import TOKENIZER
from ....core.errors import UserError
from ...engine import placeholder
from ...objectives import tasks_of_family
from ...state import AppState, TrainingControls
from ...widgets.field_marks import FieldMarks
from .finetune_form import FinetuneForm
from .lr_find_dialog import LrFindDialog
from .method_box import MethodBox
from .model_form import ModelForm, size_of
from .nodes_box import NodesBox
from .processes_box import ProcessesBox

DEFAULT_VOCAB = 8000
LOADING = "Loading the engine (PyTorch)…"
WARNING_STYLE = "color: #b8600b;"

# Settings keys (one place).
KEY_DATA = "train/data_dir"
KEY_OBJECTIVE = "train/objective"
KEY_PRESET = "train/preset"
KEY_DEVICE = "train/device"
KEY_FIELDS = "train/fields"
KEY_MODE = "train/mode"
KEY_FINETUNE = "train/finetune"  # the fine-tune form's settings, as JSON
KEY_PROCESSES = "train/processes"
MODES = (("pretrain", "Pretrain"), ("finetune", "Fine-tune"))


def late_first_checkpoint(cfg: RunConfig) -> UserError | None:
    """The loop evaluates, and saves a checkpoint, every eval_interval steps and at the end: past
    max_steps, the run has nothing to try in the Playground (and no curve of validation loss)
    until it ends. The fields to change, and a value that gives about five checkpoints."""
    t = cfg.train
    if t.eval_interval is None or t.max_steps is None or t.eval_interval <= t.max_steps:
        return None
    return UserError(
        f"eval_interval={t.eval_interval} is more than max_steps={t.max_steps}: the run is "
        "evaluated and saved only when it ends, so the Playground has nothing to load until "
        f"then. Evaluate every {max(1, t.max_steps // 5)} steps, say.",
        field=("eval_interval", "max_steps"), option=str(max(1, t.max_steps // 5)))


def field_messages(marks: FieldMarks, errors: dict[str, str]) -> list[str]:
    """Each distinct reason once, after the labels of the fields it concerns."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in errors.items():
        by_reason.setdefault(reason, []).append(key)
    return [marks.describe(reason, keys) for reason, keys in by_reason.items()]


class RunForm(QWidget):
    """Mode, data or fine-tuning form, model and training settings, size, errors, buttons."""

    sig_validated = Signal(bool)  # the form was checked: valid or not
    sig_mode = Signal(bool)  # the mode changed: True for fine-tuning

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.data_dir: Path | None = None
        self.vocab_size = DEFAULT_VOCAB
        self.config: RunConfig | None = None  # the valid config the form describes, or None
        self.errors: dict[str, str] = {}  # field key -> reason
        self.general_error = ""
        self.parameter_count = 0
        self.memory_estimate = 0
        self.warnings: list[str] = []  # about a valid run, as shown (Start stays enabled)
        # Each mode has its own run name: a classifier does not inherit the pretraining
        # run's ("...-tiny-clm"). The Run name box shows the one of _name_mode.
        self._names = {key: "" for key, _ in MODES}
        self._name_mode = MODES[0][0]
        self._loading = False
        self._build()
        self.data_button.clicked.connect(self._ask_data_dir)
        self.mode_box.currentIndexChanged.connect(lambda _i: self._on_mode())
        self.ft_form.sig_changed.connect(self.validate)
        self.method_box.sig_changed.connect(self.validate)
        self.ft_form.sig_changed.connect(self._save_finetune_settings)
        self.model_form.objective_box.currentIndexChanged.connect(self._on_preset_changed)
        self.model_form.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.model_form.arch_box.currentIndexChanged.connect(self._on_preset_changed)
        self.model_form.optimizer_box.currentIndexChanged.connect(self.validate)
        self.model_form.device_box.currentIndexChanged.connect(self.validate)
        self.model_form.name_edit.textChanged.connect(self.validate)
        for edit in self.model_form.edits.values():
            edit.textChanged.connect(self.validate)
        state.sig_engine_ready.connect(self._on_engine_ready)
        self.lr_dialog: LrFindDialog | None = None
        self.model_form.find_lr_button.clicked.connect(self.find_learning_rate)
        self.model_form.tensorboard_box.toggled.connect(self.validate)

    def _build(self) -> None:
        left = QVBoxLayout(self)
        left.setContentsMargins(0, 0, 0, 0)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Mode"))
        self.mode_box = QComboBox()
        self.mode_box.setAccessibleName("Mode")
        for key, label in MODES:
            self.mode_box.addItem(label, key)
        self.mode_box.setToolTip("Pretrain a model on a corpus, or fine-tune a pretrained run "
                                 "on labeled examples")
        mode_row.addWidget(self.mode_box, 1)
        left.addLayout(mode_row)

        self.data_group = QGroupBox("Data")
        self.data_group.setAccessibleName("Data")
        data_row = QHBoxLayout(self.data_group)
        self.data_label = QLabel("No prepared data yet: prepare a corpus on the Data page.")
        self.data_label.setAccessibleName("Prepared data")
        self.data_label.setWordWrap(True)
        data_row.addWidget(self.data_label, 1)
        self.data_button = QPushButton("Choose…")
        self.data_button.setToolTip("A folder made by Prepare (tokens.h5 and tokenizer.model)")
        data_row.addWidget(self.data_button)
        left.addWidget(self.data_group)
        self.ft_form = FinetuneForm(self.state.runs_root, self.state.home)
        self.ft_form.hide()
        left.addWidget(self.ft_form)
        self.method_box = MethodBox()  # full or LoRA
        self.method_box.hide()
        left.addWidget(self.method_box)
        self.compare_button = QPushButton("Does pretraining help?")
        self.compare_button.setToolTip(
            "Fine-tune twice with the same budget: from the chosen run and from random weights "
            "of the same shape, then compare their test scores")
        self.compare_button.hide()
        left.addWidget(self.compare_button)
        self.model_form = ModelForm()
        left.addWidget(self.model_form)
        self.processes_box = ProcessesBox()
        self.model_form.form.addRow("Processes", self.processes_box)  # under Device
        self.nodes_box = NodesBox()
        self.model_form.form.addRow("Nodes", self.nodes_box)  # machines, under Processes

        self.size_label = QLabel(" ")
        self.size_label.setAccessibleName("Size")
        self.size_label.setWordWrap(True)
        left.addWidget(self.size_label)
        # Warnings (the run may not fit in memory; no checkpoint before the end) let Start go on.
        self.warning_label = QLabel("")
        self.warning_label.setAccessibleName("Warnings")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(WARNING_STYLE)
        self.warning_label.hide()
        left.addWidget(self.warning_label)
        self.error_label = QLabel("")
        self.error_label.setAccessibleName("Errors")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d9372b;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addWidget(self.error_label)

        # The run buttons are a bar of their own: the page pins it under the scrolling form, so
        # Start stays in view in a short window and never moves when a message appears.
        self.button_bar = QWidget()
        buttons = QHBoxLayout(self.button_bar)
        buttons.setContentsMargins(0, 4, 0, 0)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training (Ctrl+Return)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause at the next step; the run is saved (Ctrl+P)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Go on from where the run paused (Ctrl+R)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop at the next step and save (Ctrl+.)")
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(b)
        left.addStretch(1)

    # -- settings ------------------------------------------------------------------------------

    def load_settings(self) -> None:
        mf = self.model_form
        self._loading = True
        try:
            engine = self.state.engine()
            mf.fill_devices((engine or placeholder()).devices, self.state.value(KEY_DEVICE, ""))
            self.processes_box.set_devices((engine or placeholder()).devices)
            self.processes_box.setValue(int(self.state.value(KEY_PROCESSES, 1, int) or 1))
            i = mf.objective_box.findData(self.state.value(KEY_OBJECTIVE,
                                                            PRETRAIN_OBJECTIVES[0]))
            mf.objective_box.setCurrentIndex(max(i, 0))
            i = mf.preset_box.findData(self.state.value(KEY_PRESET, "tiny"))
            mf.preset_box.setCurrentIndex(max(i, 0))
            mf.fill_from_preset(self.vocab_size)
            saved = self.state.value(KEY_FIELDS, "")
            if saved:
                try:
                    for key, text in json.loads(saved).items():
                        if key in mf.edits:
                            mf.edits[key].setText(str(text))
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

    def save_settings(self) -> None:
        mf = self.model_form
        self.state.set_value(KEY_MODE, self.mode())
        self._save_finetune_settings()
        self.state.set_value(KEY_OBJECTIVE, mf.objective())
        self.state.set_value(KEY_PRESET, mf.preset())
        self.state.set_value(KEY_DEVICE, mf.device_name())
        self.state.set_value(KEY_PROCESSES, self.processes_box.value())
        self.state.set_value(KEY_FIELDS, json.dumps(
            {k: e.text() for k, e in mf.edits.items()}))

    def _save_finetune_settings(self) -> None:
        """The fine-tune form persists as it changes (QSettings writes to disk lazily)."""
        if not self._loading:
            self.state.set_value(KEY_FINETUNE, json.dumps(self.ft_form.settings()))

    @Slot(object)
    def _on_engine_ready(self, engine: Any) -> None:
        """The devices are known now: list them (the saved choice first), and size the run."""
        self.model_form.fill_devices(engine.devices, self.state.value(KEY_DEVICE, ""))
        self.processes_box.set_devices(engine.devices)
        self.validate()

    # -- mode and filling ----------------------------------------------------------------------

    def mode(self) -> str:
        return str(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(mode), 0))

    def _on_mode(self, validate: bool = True) -> None:
        fine = self.mode() == "finetune"
        if self.mode() != self._name_mode:
            name_edit = self.model_form.name_edit
            self._names[self._name_mode] = name_edit.text()
            self._name_mode = self.mode()
            name_edit.blockSignals(True)
            name_edit.setText(self._names[self._name_mode])
            name_edit.blockSignals(False)
        if not self._loading:
            self.state.set_value(KEY_MODE, self.mode())
        self.data_group.setVisible(not fine)
        self.ft_form.setVisible(fine)
        self.method_box.setVisible(fine)
        self.compare_button.setVisible(fine)
        self.model_form.set_pretraining_rows_visible(not fine)
        self.sig_mode.emit(fine)
        if validate:
            self.validate()

    def use_labeled(self, choice: Any) -> None:
        """Make a checked labeled file the fine-tuning defaults: the task stays when it reads
        that kind of data (choice.family), else the first task that does."""
        tasks = tasks_of_family(choice.family)
        task = self.ft_form.task() if self.ft_form.task() in tasks else tasks[0]
        self.set_mode("finetune")
        self.ft_form.set_file(choice.path, choice.columns, task,
                              getattr(choice, "encoding", None) or "utf-8")

    def _fill(self, fill: Any, *args: Any) -> None:
        """Fill the form without checking it at each field; then check it once."""
        self._loading = True
        try:
            fill(*args)
        finally:
            self._loading = False
        self.validate()

    def fill_from_config(self, cfg: RunConfig) -> None:
        """Show a run's settings (one opened from disk): its model form, and its fine-tuning
        form and mode when it is a fine-tune."""
        self.set_mode("pretrain" if cfg.finetune is None else "finetune")  # its name's mode
        self._fill(self.model_form.fill_from_config, cfg)
        if cfg.finetune is not None:
            self.ft_form.fill_from(cfg.finetune)
            self.method_box.fill_from(cfg.lora)

    @Slot()
    def _on_preset_changed(self) -> None:
        if not self._loading:
            self._fill(self.model_form.fill_from_preset, self.vocab_size)

    # -- checking ------------------------------------------------------------------------------

    @Slot()
    def validate(self) -> bool:
        """Check the form with the engine's rules; mark what is wrong; say whether it is valid."""
        if self._loading:
            return self.config is not None
        fine = self.mode() == "finetune"
        mf = self.model_form
        marks = self.ft_form.marks if fine else mf.marks
        (mf.marks if fine else self.ft_form.marks).clear()
        errors: dict[str, str] = {}
        cfg: RunConfig | None = None
        general = ""
        loading = self.state.engine() is None
        try:
            if fine and loading:  # the fine-tuning rules live beside the models: wait for them
                general = LOADING
            elif fine:
                tuned = self.ft_form.config(mf.device_name(), mf.run_name())
                tuned.lora = self.method_box.lora()
                tuned.validate()
                cfg = tuned
            else:
                values, errors = mf.overrides()
                if not errors:
                    cfg = build_run_config(mf.objective(), mf.preset(), self.vocab_size, values,
                                           data_dir=str(self.data_dir or ""),
                                           name=mf.run_name(), arch=mf.arch())
        except UserError as exc:
            named = [f for f in exc.fields if f in marks.controls]
            errors.update(dict.fromkeys(named, str(exc)))
            if not named:
                general = str(exc)
        self.errors, self.config = errors, cfg
        marks.mark(errors)
        if not fine and not general and self.data_dir is None:
            general = "No prepared data: prepare a corpus on the Data page, or choose a folder."
        self.general_error = general
        shown = field_messages(marks, errors) + ([general] if general else [])
        self.error_label.setText("\n".join(shown))
        self._update_size(cfg)
        self.sig_validated.emit(cfg is not None)
        return cfg is not None

    def _update_size(self, cfg: RunConfig | None) -> None:
        """The size line, and the warnings about a valid run (Start stays enabled): it may not
        fit in the device's memory, or it would be evaluated (and saved) only at its end."""
        engine = self.state.engine()
        device = engine.device(self.model_form.device_name()) if engine else None
        size = size_of(cfg, device) if cfg is not None and device is not None else None
        warnings: list[UserError] = []
        if size is None:
            self.parameter_count = self.memory_estimate = 0
            self.size_label.setText("Parameters: counted once the engine has loaded"
                                    if engine is None else "Parameters: –")
        else:
            self.size_label.setText(size.text)
            self.parameter_count, self.memory_estimate = size.parameters, size.memory_bytes
            warnings += [size.too_big] if size.too_big is not None else []
        if cfg is not None and cfg.finetune is None:
            warnings += [w for w in (late_first_checkpoint(cfg),) if w is not None]
        marks = self.ft_form.marks if cfg is not None and cfg.finetune else self.model_form.marks
        self.warnings = [marks.describe(str(w), w.fields) for w in warnings]
        self.warning_label.setText("\n".join(f"Warning: {w}" for w in self.warnings))
        self.warning_label.setVisible(bool(self.warnings))

    def ready(self) -> bool:
        """The form describes a valid run that has its data."""
        return self.config is not None and (self.data_dir is not None
                                            or self.config.finetune is not None)

    def first_error(self) -> str:
        """The first line the form's complaint shows ("" when it has none)."""
        lines = self.error_label.text().splitlines()
        return lines[0] if lines else ""

    def show_error(self, text: str) -> None:
        """Say what went wrong under the form (a run or a comparison that failed)."""
        self.error_label.setText(text)

    def show_controls(self, controls: TrainingControls, stop: bool, editable: bool) -> None:
        """Enable the buttons as the run allows (`stop`: the run's or a comparison's), and the
        settings while nothing trains; the comparison's button wants a valid fine-tune form."""
        self.start_button.setEnabled(controls.start)
        self.pause_button.setEnabled(controls.pause)
        self.resume_button.setEnabled(controls.resume)
        self.stop_button.setEnabled(stop)
        self.set_editable(editable)
        self.compare_button.setEnabled(controls.start and self.config is not None
                                       and self.config.finetune is not None)

    def set_editable(self, on: bool) -> None:
        self.model_form.set_editable(on)
        self.processes_box.setEnabled(on)
        self.nodes_box.set_editable(on)
        self.data_button.setEnabled(on)
        self.ft_form.set_editable(on)
        self.method_box.setEnabled(on)
        self.mode_box.setEnabled(on)

    # -- the learning-rate finder ----------------------------------------------------------------

    @Slot()
    def find_learning_rate(self) -> None:
        """The range test on the form's run, in a dialog; its suggestion fills Learning rate."""
        if self.config is None or self.data_dir is None:
            self.show_error(self.first_error() or "Fill in the form first: the finder tests the "
                            "run it describes.")
            return
        if self.lr_dialog is not None and self.lr_dialog.job.is_running():
            self.lr_dialog.show()
            return
        self.lr_dialog = LrFindDialog(self.config, self)
        self.lr_dialog.sig_apply.connect(
            lambda lr: self.model_form.edits["learning_rate"].setText(f"{lr:.3g}"))
        self.lr_dialog.start()
        self.lr_dialog.show()

    # -- data ----------------------------------------------------------------------------------

    @Slot(object)
    def set_data_dir(self, path: Path) -> None:
        """Train on this prepared folder (announced by the Data page, or chosen here)."""
        path = Path(path)
        try:
            from ....core.data.tokenizer import Tokenizer

            # A small file: read at once.
            self.vocab_size = Tokenizer.load(path / TOKENIZER).vocab_size
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
