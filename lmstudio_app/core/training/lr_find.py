"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates for Training Neural
Networks", section 3.3), with the semantics of PyTorch Lightning's `Tuner.lr_find`.

The run's model and optimizer are built as its training would build them (the same data,
batch, clipping and precision), on a copy: a new configuration trains from its initial weights,
an existing run from its weights, loaded read-only. The learning rate grows exponentially from
`min_lr` to `max_lr` over `num_training` optimizer steps (step i at
min_lr * (max_lr / min_lr) ** (i / num_training), Lightning's `_ExponentialLR`); each step's loss
is smoothed by a debiased exponential moving average (beta 0.98); the sweep stops early when the
smoothed loss passes `early_stop_threshold` times the best one. The suggestion is the rate of
steepest descent of the smoothed loss: the most negative gradient of the loss against log10 of
the rate, after skipping the first 10 and the last point (Lightning's `suggestion(skip_begin=10,
skip_end=1)`; against log10 lr, which for an exponential sweep is np.gradient over the index, up
to a constant factor). Nothing is written to any run folder.
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import runs
from ..config import RunConfig
from ..data.layout import TOKENIZER_FILES
from ..errors import UserError
from ..lr_find_settings import (
    BETA,
    EARLY_STOP_THRESHOLD,
    MAX_LR,
    MIN_LR,
    NUM_TRAINING,
    SKIP_BEGIN,
    SKIP_END,
)
from ..runs import checkpoint as ckpt
from ..runs.weights import weights_path
from .evaluation import autocast
from .parts import Parts, build_parts
from .sinks import MetricsSink
from .step import MicroBatchSteps


@dataclass
class LrFindResult:
    """The sweep: each step's rate `lr`, its smoothed loss `loss` (nats, Lightning's
    `results`), its raw loss, and the suggested rate (None when too few points remain)."""

    lr: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    raw_loss: list[float] = field(default_factory=list)
    suggestion: float | None = None
    suggestion_index: int | None = None
    stopped_early: bool = False
    stopped: bool = False  # asked to stop before the sweep ended
    settings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep_rate(i: int, min_lr: float, max_lr: float, num_training: int) -> float:
    """The learning rate of step i (0-based) of an exponential sweep."""
    return float(min_lr * (max_lr / min_lr) ** (i / num_training))


def suggest(lrs: list[float], losses: list[float], skip_begin: int = SKIP_BEGIN,
            skip_end: int = SKIP_END) -> int | None:
    """The index of the steepest descent of `losses` against log10(lrs), skipping the first
    `skip_begin` and last `skip_end` points and non-finite losses; None with fewer than 2 left."""
    idx = np.arange(len(losses))[skip_begin:len(losses) - skip_end]
    y = np.asarray(losses, dtype=np.float64)[idx]
    x = np.log10(np.asarray(lrs, dtype=np.float64)[idx])
    finite = np.isfinite(y)
    idx, x, y = idx[finite], x[finite], y[finite]
    if len(y) < 2:
        return None
    return int(idx[int(np.argmin(np.gradient(y, x)))])


class _Smoother:
    """Lightning's `_LRCallback`: debiased moving average of the loss and the divergence rule."""

    def __init__(self, beta: float, threshold: float | None) -> None:
        self.beta, self.threshold = beta, threshold
        self.avg = 0.0
        self.best = math.inf

    def add(self, step: int, loss: float) -> tuple[float, bool]:
        """(smoothed loss, diverged) after the loss of step `step` (0-based)."""
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smoothed = self.avg / (1 - self.beta ** (step + 1))
        diverged = (self.threshold is not None and step > 1
                    and (not math.isfinite(smoothed) or smoothed > self.threshold * self.best))
        if smoothed < self.best or step == 1:
            self.best = smoothed
        return smoothed, diverged


def _copy_tokenizer(run: Path, into: Path) -> None:
    for name in TOKENIZER_FILES:
        if (run / name).is_file():
            shutil.copyfile(run / name, into / name)


def _build(cfg: RunConfig, run: Path | None, checkpoint: str | int, scratch: Path) -> Parts:
    """The run's parts, built in `scratch`; an existing run's weights loaded (read-only)."""
    if run is None:
        return build_parts(cfg, scratch, resume=False)
    weights = weights_path(run, checkpoint)  # refuses a run without weights before the build
    _copy_tokenizer(run, scratch)
    parts = build_parts(cfg, scratch, resume=True)  # the run's own tokenizer and labels
    ckpt.load_weights(parts.model, weights)
    return parts


def lr_find(cfg: RunConfig, run: Path | None = None, *, checkpoint: str | int = "latest",
            min_lr: float = MIN_LR, max_lr: float = MAX_LR, num_training: int = NUM_TRAINING,
            early_stop_threshold: float | None = EARLY_STOP_THRESHOLD,
            on_step: Callable[[int, float, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> LrFindResult:
    """Run the range test for `cfg` (a new run's settings, or `run`'s own with its
    `checkpoint` weights). `on_step(i, lr, smoothed_loss)` after each step; `should_stop()`
    checked between steps. Returns the sweep and its suggestion.

    Raises UserError for bad bounds (fields "find_min_lr" and "num_training") and
    whatever the run's set-up raises (the data, the device, a run without weights).
    """
    if not 0 < min_lr < max_lr:
        raise UserError(f"min_lr={min_lr}, max_lr={max_lr}: need 0 < min_lr < max_lr.",
                        field="find_min_lr")
    if num_training < 2:
        raise UserError(f"num_training={num_training}: at least 2 steps.", field="num_training")
    cfg = copy.deepcopy(cfg)
    cfg.validate()
    runs.absolute_paths(cfg)
    result = LrFindResult(settings={"min_lr": min_lr, "max_lr": max_lr,
                                    "num_training": num_training,
                                    "early_stop_threshold": early_stop_threshold or 0.0})
    with tempfile.TemporaryDirectory(prefix="lr-find-") as scratch:
        p = _build(cfg, None if run is None else Path(run), checkpoint, Path(scratch))
        _sweep(cfg, p, result, early_stop_threshold, on_step, should_stop)
    result.suggestion_index = suggest(result.lr, result.loss)
    if result.suggestion_index is not None:
        result.suggestion = result.lr[result.suggestion_index]
    return result


def _sweep(cfg: RunConfig, p: Parts, result: LrFindResult, threshold: float | None,
           on_step: Callable[[int, float, float], None] | None,
           should_stop: Callable[[], bool] | None) -> None:
    t, rt = cfg.train, p.rt
    settings = result.settings
    rows = t.batch_size * t.grad_accum
    passes = MicroBatchSteps(p.objective, t.batch_size, rt.device, None, MetricsSink(),
                             lambda: autocast(rt))
    smoother = _Smoother(BETA, threshold)
    p.model.train()
    n = int(settings["num_training"])
    for i in range(n):
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        lr = sweep_rate(i, settings["min_lr"], settings["max_lr"], n)
        for group in p.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        loss = float(passes.run(p.model, p.objective.draw(rows), p.scaler, p.optimizer, i))
        if t.grad_clip > 0:
            p.scaler.unscale_(p.optimizer)
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), t.grad_clip)
        p.scaler.step(p.optimizer)
        p.scaler.update()
        p.optimizer.zero_grad(set_to_none=True)
        smoothed, diverged = smoother.add(i, loss)
        result.lr.append(lr)
        result.loss.append(smoothed)
        result.raw_loss.append(loss)
        if on_step is not None:
            on_step(i, lr, smoothed)
        if diverged:
            result.stopped_early = True
            break
