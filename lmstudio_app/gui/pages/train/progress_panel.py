"""Where the run stands: its name and size, a progress bar, and a line of figures (step, loss,
throughput, time left, the last validation loss).

The bar and the step move with every step (the page polls the loop's step counter a few times
a second); the loss and throughput are those of the last log point. Before the first step, and
while the loop evaluates, the line says what it is doing. Both lines are cut to the pane's
width (ElidedLabel): a long run name never widens the window."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from ....core.training.sinks import EvalMetrics
from ....core.util.units import format_duration, human_bytes, human_count
from ...training import row_values
from ...widgets.elided_label import ElidedLabel


class ProgressPanel(QWidget):
    """The run's line, the progress bar and the line of figures under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.run_label = ElidedLabel("No run yet.")
        self.run_label.setAccessibleName("Run")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.run_label)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Training progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.progress_label = ElidedLabel(" ")
        self.progress_label.setAccessibleName("Progress")
        layout.addWidget(self.progress_label)
        self._reset(0, 0)

    def say(self, text: str) -> None:
        """The line under the bar says `text` (a pause, a stop, a comparison's side)."""
        self.progress_label.setText(text)

    def _reset(self, start_step: int, max_steps: int) -> None:
        self.step, self.max_steps, self.start_step = start_step, max_steps, start_step
        self.row: np.ndarray | None = None  # the last logged row (training.STEP_COLUMNS)
        self.last_eval: EvalMetrics | None = None
        self.doing = ""  # what the loop does between steps ("" while it steps)

    def set_run(self, text: str, tooltip: str) -> None:
        self.run_label.setText(text)
        self.run_label.setToolTip(tooltip)

    def set_steps(self, step: int, max_steps: int) -> None:
        self.progress.setRange(0, max(max_steps, 1))
        self.progress.setValue(min(step, max_steps))

    def begin(self, run_dir: Path, max_steps: int) -> None:
        """A run is starting in `run_dir`."""
        self._reset(0, max_steps)
        self.set_steps(0, max_steps)
        self.say("Starting…")
        self.set_run(f"Run: {run_dir.name}", str(run_dir))

    def started(self, info: dict[str, Any]) -> None:
        """The trainer's start: the run's size, device and number format."""
        self._reset(int(info.get("start_step", 0)), int(info.get("max_steps", self.max_steps)))
        self.set_steps(self.step, self.max_steps)
        self.doing = "the first step"
        self._show()
        params = int(info.get("parameters", 0))
        self.set_run(
            f"Run: {Path(str(info.get('run_dir', ''))).name} · {human_count(params)} parameters "
            f"· {info.get('device', '')} · {info.get('dtype', '')}", str(info.get("run_dir", "")))

    def phase(self, text: str) -> None:
        """The loop is loading, compiling or evaluating: say so until the next step."""
        self.doing = text
        self._show()

    def logged(self, rows: np.ndarray, max_steps: int, say: bool = True) -> None:
        """A batch of logged step rows arrived (`say`: update the line of figures too)."""
        self.row, self.max_steps = rows[-1], max_steps
        self.live(int(rows[-1, 0]), say)

    def evaluated(self, m: EvalMetrics) -> None:
        self.last_eval = m
        self.doing = ""
        self._show()

    def live(self, step: int, say: bool = True) -> bool:
        """The loop's step counter (polled): True when it moved. `say`: update the line of
        figures too (not while it says that the run pauses or stops)."""
        if step <= self.step:
            return False
        self.step, self.doing = step, ""
        self.set_steps(step, self.max_steps)
        if say:
            self._show()
        return True

    def _show(self) -> None:
        if self.row is None and self.step == self.start_step and self.doing:
            self.progress_label.setText(f"{self.doing[:1].upper()}{self.doing[1:]}…")
            return
        text = steps_text(self.step, self.max_steps, self.row, self.start_step, self.last_eval)
        self.progress_label.setText(text + (f" · {self.doing}…" if self.doing else ""))


def device_text(row: np.ndarray) -> str:
    """" · MFU 41% · GPU 12.3 GiB (peak 13.0 GiB of 14.0 GiB reserved)" where the row has
    them (a CUDA run), else ""."""
    values = row_values(row)
    mfu, allocated, reserved, peak = (values.get(k, math.nan) for k in (
        "mfu", "memory_allocated", "memory_reserved", "max_memory_allocated"))
    text = f" · MFU {mfu:.0%}" if math.isfinite(mfu) else ""
    if math.isfinite(allocated):
        text += (f" · GPU {human_bytes(allocated)} (peak {human_bytes(peak)} of "
                 f"{human_bytes(reserved)} reserved)")
    return text


def steps_text(step: int, max_steps: int, row: np.ndarray | None, start_step: int,
               last_eval: EvalMetrics | None) -> str:
    """The line of figures at `step`: the last logged row's loss and throughput (a row of
    training.STEP_COLUMNS, logged at or before `step`), the time left, the last validation."""
    text = f"step {step:,} / {max_steps:,}"
    if row is not None:
        logged, tps, elapsed = int(row[0]), float(row[4]), float(row[5])
        done = logged - start_step
        eta = (max_steps - step) * elapsed / done if done > 0 else None
        at = "" if logged == step else f" @ {logged:,}"
        text += (f" · loss {float(row[1]):.4f}{at} · {tps:,.0f} tokens/s"
                 f"{device_text(row)} · ETA {format_duration(eta)}")
    if last_eval is not None:
        bpb = f" ({last_eval.val_bpb:.3f} bits/byte)" if last_eval.val_bpb is not None else ""
        text += f" · val loss {last_eval.val_loss:.4f}{bpb} @ {last_eval.step:,}"
    return text
