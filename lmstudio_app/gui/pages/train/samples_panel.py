"""The samples a run writes at each evaluation: a short generation (GPT) or a filled mask (BERT)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget


class SamplesPanel(QWidget):
    """Each evaluation's sample under a line with its step and validation loss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Samples at each evaluation"))
        self.view = QPlainTextEdit()
        self.view.setAccessibleName("Samples")
        self.view.setReadOnly(True)
        self.view.setPlaceholderText(
            "GPT runs generate a short text at each evaluation; BERT runs fill a masked word."
        )
        self.view.setMinimumHeight(3 * self.view.fontMetrics().lineSpacing())
        layout.addWidget(self.view)
        self.samples: list[tuple[int, str]] = []  # (step, sample), in the order shown

    def add(self, step: int, val_loss: float | None, sample: str) -> None:
        self.samples.append((step, sample))
        loss = f" · val loss {val_loss:.4f}" if isinstance(val_loss, float) else ""
        self.view.appendPlainText(f"── step {step}{loss} ──\n{sample.rstrip()}\n")

    def clear(self) -> None:
        self.samples.clear()
        self.view.clear()
