"""The Train page's "Processes" count: how many data-parallel processes a run trains in.

One trains in the window's own process (a worker thread). More launch the run under PyTorch's
launcher as a subprocess the page follows through the run folder (gui/process_session.py). The
most offered: the CUDA GPUs when there are several (one process each), else the CPU cores (each
process takes its share of them; useful to try data parallelism anywhere).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from PySide6.QtWidgets import QSpinBox, QWidget

TOOLTIP = ("Train with this many data-parallel processes (PyTorch's launcher, torchrun). "
           "Each step's batch is shared out among them (batch_size is per process, so the "
           "step's batch grows with the count); the curve is the one a single process with that "
           "batch would draw. More than one runs outside the window; Pause, Resume and Stop "
           "reach it through the run folder.")


def max_processes(device_names: Iterable[str]) -> int:
    """The CUDA GPUs when there are several, else the CPU cores (at least 1)."""
    gpus = sum(1 for name in device_names if name.startswith("cuda"))
    return gpus if gpus > 1 else max(1, os.cpu_count() or 1)


class ProcessesBox(QSpinBox):
    """1 up to max_processes of the machine's devices (the form shows it beside Device)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(1, max_processes(()))
        self.setValue(1)
        self.setToolTip(TOOLTIP)

    def set_devices(self, devices: Iterable[Any]) -> None:
        """The engine's devices (DeviceInfo: .name) are known: offer as many as they allow."""
        self.setMaximum(max_processes(d.name for d in devices))
