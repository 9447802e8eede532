"""One optimizer step's forward and backward passes: this process's rows of the step's global
batch, in micro-batches, with recovery from running out of GPU memory.

The rows a step trains on are fixed before its passes begin, and each micro-batch's loss is
weighted by its share of the rows, so the step's gradient is the mean over all of its rows
whatever the micro-batch size. That is what lets an out-of-memory step be run again with half
the micro-batch (twice the accumulation) and give the same gradient, hence the same curve.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..objectives import Objective
from ..objectives.base import Batch
from ..util.threads import ThreadGovernor
from .distributed import micro_slices, take_rows
from .sinks import MetricsSink

OOM_ADVICE = ("Lower block_size, use fewer layers (n_layer) or a smaller preset, or turn on "
              "gradient_checkpointing (activations recomputed in the backward pass).")


def cpp_compiler() -> str | None:
    """The C++ compiler TorchInductor would build CPU kernels with ($CXX, g++, clang++ or c++
    on PATH), or None."""
    named = os.environ.get("CXX")
    if named:
        return shutil.which(named)
    return next((path for c in ("g++", "clang++", "c++") if (path := shutil.which(c))), None)


def compile_for_training(model: nn.Module, device: torch.device,
                         say: Callable[[str], None]) -> nn.Module:
    """torch.compile(model) where its kernels can be built, else `model` itself (eager).

    On the CPU, TorchInductor writes C++ kernels and needs a C++ compiler: without one the
    first step would fail, so the run trains eager instead and `say` tells why."""
    if device.type == "cpu" and cpp_compiler() is None:
        say("torch.compile needs a C++ compiler on the CPU (g++ or clang++, or one named by "
            "CXX) and none was found: training without compiling")
        return model
    return torch.compile(model)  # type: ignore[return-value]


class OutOfMemoryAtOne(Exception):
    """Out of memory with a micro-batch of one row: nothing smaller is left to try."""


class MicroBatchSteps:
    """Runs the passes of a step over `rows` rows in micro-batches of `micro` rows.

    `micro` starts at batch_size; an out-of-memory step halves it and runs again (once per
    halving), down to one row. Under DDP the gradients are all-reduced once per step, on the
    last micro-batch; a rank cannot run its step again alone there, so out of memory ends the
    run with advice.

    On the CPU, each step first lets a ThreadGovernor fit torch's thread count to the cores
    other work leaves (core/util/threads.py).
    """

    def __init__(self, objective: Objective, micro: int, device: torch.device,
                 ddp: nn.Module | None, sink: MetricsSink,
                 autocast: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.objective = objective
        self.micro = micro
        self.device = device
        self.ddp = ddp
        self.sink = sink
        self.autocast = autocast
        self.threads = ThreadGovernor() if device.type == "cpu" else None

    def run(self, step_model: nn.Module, batch: Batch, scaler: torch.amp.GradScaler,
            optimizer: torch.optim.Optimizer, step: int) -> torch.Tensor:
        """Forward and backward over every row of `batch` (rows, ...); gradients accumulate
        in the parameters. Returns the mean loss over the rows (0-dim, detached, nats).

        Raises OutOfMemoryAtOne when even one row does not fit, torch.OutOfMemoryError under
        DDP."""
        if self.threads is not None:
            self.threads.tick()
        while True:
            try:
                return self._passes(step_model, batch, scaler)
            except torch.OutOfMemoryError:
                optimizer.zero_grad(set_to_none=True)
                if self.ddp is not None:
                    raise
                if self.micro == 1:
                    raise OutOfMemoryAtOne() from None
            self._shrink(len(batch[0]), step)

    def _passes(self, step_model: nn.Module, batch: Batch,
                scaler: torch.amp.GradScaler) -> torch.Tensor:
        n = len(batch[0])
        parts = micro_slices(n, self.micro)
        total = torch.zeros((), device=self.device)
        non_blocking = self.device.type == "cuda"
        for i, rows in enumerate(parts):
            micro = tuple(b.to(self.device, non_blocking=non_blocking)
                          for b in take_rows(batch, rows))
            # Under DDP, gradients are all-reduced once, on the last micro-batch.
            no_sync = (self.ddp.no_sync()  # type: ignore[operator]
                       if self.ddp is not None and i < len(parts) - 1
                       else contextlib.nullcontext())
            with no_sync, self.autocast():
                loss = self.objective.loss(step_model, micro) * ((rows.stop - rows.start) / n)
            scaler.scale(loss).backward()
            total += loss.detach()
        return total

    def _shrink(self, rows: int, step: int) -> None:
        before = self.micro
        self.micro = max(1, before // 2)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        passes = len(micro_slices(rows, self.micro))
        self.sink.message(
            f"out of memory at step {step + 1} with micro-batches of {before} rows: continuing "
            f"with {self.micro} rows, {passes} accumulated per step (the batch of {rows} rows "
            "per step, and the curve, stay the same)")
