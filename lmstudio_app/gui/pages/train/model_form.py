"""The Train page's "Model and training" form: objective, preset, run name, the model and
training fields, and the device.

The fields are typed text, so a value that does not parse is found here (a form-side mistake);
everything else is the engine's rule, checked by the page with build_run_config. `marks` is the
form's one table from config field to control: it outlines the fields a UserError names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ....core.arch_fields import OPTIMIZERS
from ....core.config import ARCH_TITLES, ARCHS, PRETRAIN_OBJECTIVES, RunConfig, build_run_config
from ....core.errors import UserError
from ....core.presets import LLAMA_PRESETS, PRESETS
from ....core.util.units import human_bytes, human_count
from ...engine import DeviceInfo
from ...objectives import title
from ...widgets.field_marks import Control, FieldMarks


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


def _format_value(value: Any) -> str:
    if value is None:  # derived (a fine-tune's budget in epochs): nothing the user chose
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _section(cfg: RunConfig, key: str) -> Any:
    return cfg.model if hasattr(cfg.model, key) else cfg.train


class ModelForm(QGroupBox):
    """The pretraining settings; the run name and the device serve fine-tuning as well."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model and training", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form = form
        self.objective_box = QComboBox()
        for name in PRETRAIN_OBJECTIVES:
            self.objective_box.addItem(title(name), name)
        form.addRow("Objective", self.objective_box)
        self.arch_box = QComboBox()
        self.arch_box.addItem("automatic", None)
        for name in ARCHS:
            self.arch_box.addItem(ARCH_TITLES[name], name)
        self.arch_box.setToolTip("The network: GPT-2's (learned positions, LayerNorm, GELU), "
                                 "Llama's (RoPE, RMSNorm, SwiGLU, grouped-query attention) or "
                                 "BERT's; automatic: the objective's")
        form.addRow("Architecture", self.arch_box)
        self.optimizer_box = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer_box.addItem({"adamw": "AdamW", "muon": "Muon"}[name], name)
        self.optimizer_box.setToolTip("AdamW, or Muon on the hidden matrices with AdamW on the "
                                      "rest (optimizer); the preset picks one")
        form.addRow("Optimizer", self.optimizer_box)
        self.preset_box = QComboBox()
        for name in dict.fromkeys([*PRESETS, *LLAMA_PRESETS]):
            self.preset_box.addItem(name, name)
        self.preset_box.setToolTip("A model shape and the training settings that suit it")
        form.addRow("Preset", self.preset_box)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic")
        self.name_edit.setToolTip("Part of the run folder's name")
        form.addRow("Run name", self.name_edit)
        self.edits: dict[str, QLineEdit] = {}
        self.rows: dict[str, QWidget] = {}  # each field's row widget (the edit, or its box)
        for f in FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"field_{f.key}")
            edit.setToolTip(f.tip)
            if f.optional:
                edit.setPlaceholderText("automatic")
            self.edits[f.key] = edit
            self.rows[f.key] = self._beside_rate(edit) if f.key == "learning_rate" else edit
            form.addRow(f.label, self.rows[f.key])
            label = form.labelForField(self.rows[f.key])
            if isinstance(label, QLabel):
                label.setBuddy(edit)  # the label names the edit, even beside a button
        self.device_box = QComboBox()
        form.addRow("Device", self.device_box)
        self.tensorboard_box = QCheckBox("TensorBoard")
        self.tensorboard_box.setToolTip("Also write every metric as TensorBoard event files in "
                                        "the run folder's tensorboard/ (report_to)")
        form.addRow("Report to", self.tensorboard_box)
        self.marks = FieldMarks({
            "objective": Control("Objective", self.objective_box),
            "preset": Control("Preset", self.preset_box),
            "arch": Control("Architecture", self.arch_box),
            "optimizer": Control("Optimizer", self.optimizer_box),
            "name": Control("Run name", self.name_edit),
            **{f.key: Control(f.label, self.edits[f.key]) for f in FIELDS},
            "device": Control("Device", self.device_box),
            "report_to": Control("Report to", self.tensorboard_box),
        })

    def _beside_rate(self, edit: QLineEdit) -> QWidget:
        """The learning rate's edit with the finder's button beside it."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        self.find_lr_button = QPushButton("Find…")
        self.find_lr_button.setToolTip("The learning-rate range test: sweep the rate on a copy "
                                       "of this model, plot the loss and suggest a rate")
        row.addWidget(self.find_lr_button)
        return box

    # -- what it shows

    def objective(self) -> str:
        return str(self.objective_box.currentData())

    def preset(self) -> str:
        return str(self.preset_box.currentData())

    def arch(self) -> str | None:
        """The chosen architecture; None: the objective's."""
        data = self.arch_box.currentData()
        return None if data is None else str(data)

    def device_name(self) -> str:
        return str(self.device_box.currentData() or "cpu")

    def run_name(self) -> str:
        return self.name_edit.text().strip()

    def fill_devices(self, devices: Sequence[DeviceInfo], saved: str) -> None:
        """List `devices` (the engine's; `auto` picks the first); choose `saved` if listed."""
        self.device_box.blockSignals(True)
        self.device_box.clear()
        for d in devices:
            self.device_box.addItem(d.description, d.name)
        i = self.device_box.findData(saved)
        self.device_box.setCurrentIndex(i if i >= 0 else 0)
        self.device_box.blockSignals(False)

    def fill_from_preset(self, vocab_size: int) -> None:
        """Show the preset's values; the automatic (optional) fields go blank."""
        try:
            cfg = build_run_config(self.objective(), self.preset(), vocab_size, arch=self.arch())
        except UserError:
            return  # no such preset for this architecture: the check marks it
        for f in FIELDS:
            text = "" if f.optional else _format_value(getattr(_section(cfg, f.key), f.key))
            self.edits[f.key].setText(text)
        self.optimizer_box.setCurrentIndex(max(self.optimizer_box.findData(cfg.train.optimizer),
                                               0))

    def fill_from_config(self, cfg: RunConfig) -> None:
        """Show a run's settings (e.g. one opened from disk)."""
        self.objective_box.setCurrentIndex(max(self.objective_box.findData(cfg.objective), 0))
        self.preset_box.setCurrentIndex(max(self.preset_box.findData(cfg.preset), 0))
        self.arch_box.setCurrentIndex(max(self.arch_box.findData(cfg.model.arch), 0))
        self.optimizer_box.setCurrentIndex(max(self.optimizer_box.findData(cfg.train.optimizer),
                                               0))
        for f in FIELDS:
            value = getattr(_section(cfg, f.key), f.key)
            self.edits[f.key].setText("" if value is None else _format_value(value))
        self.name_edit.setText(cfg.name)
        self.tensorboard_box.setChecked("tensorboard" in cfg.train.report_to.lower())

    def set_pretraining_rows_visible(self, visible: bool) -> None:
        """Fine-tuning takes the model's shape from its base run: only name and device stay."""
        for w in (self.objective_box, self.preset_box, self.arch_box, self.optimizer_box,
                  self.tensorboard_box, *self.rows.values()):
            self.form.setRowVisible(w, visible)

    def set_editable(self, on: bool) -> None:
        for w in (self.objective_box, self.preset_box, self.arch_box, self.optimizer_box,
                  self.device_box, self.name_edit, self.find_lr_button, self.tensorboard_box,
                  *self.edits.values()):
            w.setEnabled(on)

    # -- what it says

    def overrides(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The typed field values, and the fields that do not parse (key -> reason)."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in FIELDS:
            text = self.edits[f.key].text().strip()
            if not text:
                if not f.optional:
                    errors[f.key] = f"{f.label}: enter a value."
                continue
            try:
                values[f.key] = f.kind(text) if f.kind is float else int(text, 10)
            except ValueError:
                what = "a whole number" if f.kind is int else "a number"
                errors[f.key] = f"{f.label} {text}: expected {what}."
                continue
            if f.kind is float and not math.isfinite(values[f.key]):
                errors[f.key] = f"{f.label} {text}: expected a finite number."
        values["device"] = self.device_name()
        values["optimizer"] = str(self.optimizer_box.currentData())
        values["report_to"] = "tensorboard" if self.tensorboard_box.isChecked() else "none"
        return values, errors


@dataclass(frozen=True)
class Size:
    """What the form says about a run's size: the line shown, and its figures."""

    text: str
    parameters: int
    memory_bytes: int
    too_big: UserError | None  # the estimate exceeds the device's memory: what to lower


def size_of(cfg: RunConfig, device: DeviceInfo) -> Size | None:
    """"Parameters: 1.2 M (1,234,567) · about 40.0 MiB to train on ... · N tokens per step",
    with the estimate's parts (core.training.memory) and a warning when they exceed the device's
    memory; None when the model cannot be sized. Needs PyTorch (the count builds the model on
    the meta device): call it once the engine has loaded."""
    from ....core.models import count_parameters
    from ....core.training.memory import estimate_training_memory, too_big

    try:
        n = count_parameters(cfg.model)
    except (UserError, ValueError):
        return None
    m, t = cfg.model, cfg.train
    estimate = estimate_training_memory(cfg, n, device.name.split(":")[0])
    tokens = t.batch_size * (cfg.finetune.max_length if cfg.finetune and
                             cfg.finetune.max_length else m.block_size) * t.grad_accum
    text = (f"Parameters: {human_count(n)} ({n:,}) · about {human_bytes(estimate.total)} to "
            f"train on {device.description} · {tokens:,} tokens per step")
    where = "on this machine" if device.name in ("cpu", "mps") else f"on {device.name}"
    return Size(text, n, estimate.total, too_big(estimate, device.memory_bytes, where))
