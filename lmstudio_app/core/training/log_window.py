"""LogWindow: the steps since the last logged record, and the step record made of them.

The loss of each step is summed on the device (no host sync per step); the window's time
leaves out evaluations and pauses, so tokens/s is the training's own rate.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

from ..util.resources import ResourceSampler
from .device_figures import DeviceFigures
from .sinks import StepMetrics


class LogWindow:
    """Sums the steps' losses (nats, 0-dim tensors on `device`) between logged records."""

    def __init__(self, device: torch.device, tokens_per_step: int,
                 figures: DeviceFigures) -> None:
        self.tokens_per_step = tokens_per_step
        self.figures = figures
        self.resources = ResourceSampler(device)
        self.loss_sum = torch.zeros((), device=device)
        self.steps = 0
        self.run_start = self.start = time.perf_counter()

    def add(self, loss: torch.Tensor) -> None:
        """One more step, of mean loss `loss` (0-dim tensor)."""
        self.loss_sum += loss
        self.steps += 1

    def loss_total(self) -> float:
        """The summed loss of the window's steps (a host sync)."""
        return float(self.loss_sum.item())

    @contextlib.contextmanager
    def excluded(self) -> Iterator[None]:
        """Time spent inside leaves the window (an evaluation, a pause): the window keeps its
        steps and their summed loss (restarting it would divide its loss by fewer steps)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.start += time.perf_counter() - began

    def record(self, step: int, loss: float, lr: float, grad_norm: float, max_steps: int,
               tokens: int) -> StepMetrics:
        """The step record of the window ending at `step` (mean `loss`, nats), then a new
        window begins."""
        now = time.perf_counter()
        used = self.resources.sample()
        tps = self.tokens_per_step * self.steps / max(now - self.start, 1e-9)
        m = StepMetrics(
            step=step, loss=loss, lr=lr, grad_norm=grad_norm, tokens_per_s=tps,
            elapsed_s=now - self.run_start, max_steps=max_steps, tokens=tokens,
            rss_bytes=used.rss_bytes, gpu_memory_bytes=used.gpu_memory_bytes,
            gpu_utilization=used.gpu_utilization, **self.figures(tps))
        self.loss_sum.zero_()
        self.start, self.steps = time.perf_counter(), 0
        return m
