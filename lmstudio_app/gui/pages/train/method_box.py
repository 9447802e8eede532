"""The fine-tuning Method: every weight (full), or LoRA adapters with their settings (PEFT's
r, lora_alpha, lora_dropout, target_modules; the engine's LoraSettings checks them)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ....core.lora_config import LoraSettings

METHODS = (("full", "Full: every weight"), ("lora", "LoRA: low-rank adapters"))


class MethodBox(QGroupBox):
    """Full fine-tuning or LoRA; the LoRA rows show only for LoRA."""

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Method", parent)
        self.setAccessibleName("Method")
        form = QFormLayout(self)
        self.method_box = QComboBox()
        self.method_box.setAccessibleName("Method")
        for key, text in METHODS:
            self.method_box.addItem(text, key)
        self.method_box.setToolTip("LoRA trains small adapters on the blocks' linear layers "
                                   "(and the task head) and keeps the base frozen: its "
                                   "checkpoints are megabytes")
        defaults = LoraSettings()
        self.r = QSpinBox()
        self.r.setRange(1, 1024)
        self.r.setValue(defaults.r)
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.01, 4096.0)
        self.alpha.setValue(defaults.lora_alpha)
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.95)
        self.dropout.setSingleStep(0.05)
        self.dropout.setValue(defaults.lora_dropout)
        self.target = QLineEdit()
        self.target.setPlaceholderText("all linear layers of the blocks")
        self.target.setToolTip("Comma-separated layer names, e.g. c_attn,c_fc (GPT), "
                               "q_proj,v_proj (Llama), query,value (BERT)")
        form.addRow("Method", self.method_box)
        self._rows = [(label, w) for label, w in (("Rank r", self.r), ("Alpha", self.alpha),
                                                  ("Dropout", self.dropout),
                                                  ("Target layers", self.target))]
        for label, widget in self._rows:
            form.addRow(label, widget)
        self.form = form
        self.method_box.currentIndexChanged.connect(lambda _i: self._on_method())
        for spin in (self.r, self.alpha, self.dropout):
            spin.valueChanged.connect(lambda _v: self.sig_changed.emit())
        self.target.textChanged.connect(lambda _t: self.sig_changed.emit())
        self._on_method()

    def is_lora(self) -> bool:
        return bool(self.method_box.currentData() == "lora")

    def set_method(self, method: str) -> None:
        self.method_box.setCurrentIndex(max(self.method_box.findData(method), 0))

    def _on_method(self) -> None:
        for _label, widget in self._rows:
            self.form.setRowVisible(widget, self.is_lora())
        self.sig_changed.emit()

    def lora(self) -> LoraSettings | None:
        """The LoRA settings chosen; None for full fine-tuning."""
        if not self.is_lora():
            return None
        targets = [t.strip() for t in self.target.text().split(",") if t.strip()]
        return LoraSettings(r=self.r.value(), lora_alpha=self.alpha.value(),
                            lora_dropout=self.dropout.value(), target_modules=targets)

    def fill_from(self, lora: LoraSettings | None) -> None:
        """Show a run's method (its LoRA section, or None)."""
        self.set_method("lora" if lora is not None else "full")
        if lora is not None:
            self.r.setValue(lora.r)
            self.alpha.setValue(lora.lora_alpha)
            self.dropout.setValue(lora.lora_dropout)
            self.target.setText(",".join(lora.target_modules))
