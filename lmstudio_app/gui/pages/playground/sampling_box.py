"""The Playground's sampling settings: temperature, top-k, top-p and the most new tokens (the
names of Hugging Face's `generate`), kept between sessions. The chat samples with them and the
comparison reads them, so both sides of a comparison sample as the chat does.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from ...state import AppState


class SamplingBox(QGroupBox):
    """The "Sampling" group: one control per setting, each saved in the settings as it changes."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Sampling", parent)
        self.state = state
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(state.value("playground/temperature", 0.8, float))
        self.temperature_spin.setToolTip("0 always picks the likeliest piece; higher is bolder")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(0, 100000)
        self.top_k_spin.setValue(state.value("playground/top_k", 50, int))
        self.top_k_spin.setSpecialValueText("off")
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(0.05, 1.0)
        self.top_p_spin.setSingleStep(0.05)
        self.top_p_spin.setValue(state.value("playground/top_p", 0.95, float))
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 4096)
        self.max_tokens_spin.setValue(state.value("playground/max_tokens", 120, int))
        self.max_tokens_spin.setToolTip("max_new_tokens: pieces generated after the prompt "
                                        "(the command line's --max-new-tokens)")
        for spin in (self.temperature_spin, self.top_k_spin, self.top_p_spin,
                     self.max_tokens_spin):
            spin.valueChanged.connect(self._save)
        form = QFormLayout(self)
        form.addRow("Temperature", self.temperature_spin)
        form.addRow("Top-k", self.top_k_spin)
        form.addRow("Top-p", self.top_p_spin)
        form.addRow("Max new tokens", self.max_tokens_spin)

    def _save(self) -> None:
        self.state.set_value("playground/temperature", self.temperature_spin.value())
        self.state.set_value("playground/top_k", self.top_k_spin.value())
        self.state.set_value("playground/top_p", self.top_p_spin.value())
        self.state.set_value("playground/max_tokens", self.max_tokens_spin.value())

    def settings(self, seed: int | None, stop_at_eos: bool) -> dict[str, Any]:
        """The keyword arguments of core.models.generate's sampling (top-k 0 is None: off)."""
        return {
            "max_new_tokens": self.max_tokens_spin.value(),
            "temperature": self.temperature_spin.value(),
            "top_k": self.top_k_spin.value() or None,
            "top_p": self.top_p_spin.value(),
            "seed": seed,
            "stop_at_eos": stop_at_eos,
        }
