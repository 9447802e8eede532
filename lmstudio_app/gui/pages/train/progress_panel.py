"""Where the run stands: its name and size, a progress bar, and a line of figures (step, loss,
throughput, time left, the last validation loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from ....core.training.sinks import EvalMetrics
from ....core.util.units import format_duration, human_count


class ProgressPanel(QWidget):
    """The run's line, the progress bar and the line of figures under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.run_label = QLabel("No run yet.")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.run_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.progress_label = QLabel(" ")
        layout.addWidget(self.progress_label)

    def set_run(self, text: str, tooltip: str) -> None:
        self.run_label.setText(text)
        self.run_label.setToolTip(tooltip)

    def set_steps(self, step: int, max_steps: int) -> None:
        self.progress.setRange(0, max(max_steps, 1))
        self.progress.setValue(min(step, max_steps))

    def begin(self, run_dir: Path, max_steps: int) -> None:
        """A run is starting in `run_dir`."""
        self.set_steps(0, max_steps)
        self.progress_label.setText("Starting…")
        self.set_run(f"Run: {run_dir.name}", str(run_dir))

    def started(self, info: dict[str, Any]) -> None:
        """The trainer's start: the run's size, device and number format."""
        self.progress.setValue(int(info.get("start_step", 0)))
        params = int(info.get("parameters", 0))
        self.run_label.setText(
            f"Run: {Path(str(info.get('run_dir', ''))).name} · {human_count(params)} parameters "
            f"· {info.get('device', '')} · {info.get('dtype', '')}"
        )


def steps_text(rows: np.ndarray, max_steps: int, start_step: int,
               last_eval: EvalMetrics | None) -> str:
    """The line of figures after a batch of step rows (training.STEP_COLUMNS)."""
    step = int(rows[-1, 0])
    elapsed = float(rows[-1, 5])
    tps = float(rows[-1, 4])
    done = step - start_step
    eta = (max_steps - step) * elapsed / done if done > 0 else None
    loss = float(rows[-1, 1])
    text = (f"step {step:,} / {max_steps:,} · loss {loss:.4f} · {tps:,.0f} tokens/s · "
            f"ETA {format_duration(eta)}")
    if last_eval is not None:
        text += f" · val loss {last_eval.val_loss:.4f} @ {last_eval.step}"
    return text
