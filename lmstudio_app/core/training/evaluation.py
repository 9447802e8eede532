"""The loop's evaluation: the validation loss over the objective's fixed batches (shared out
over the processes of a job), the objective's own figures and a sample; and the final report
of a task on its test split."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import runs
from ..objectives import Objective
from ..runs import checkpoint as ckpt
from ..runs.weights import weights_path
from ..util.device import Runtime
from . import distributed as dist
from .record import NonFiniteLoss
from .sinks import EvalMetrics, MetricsSink

# What a non-finite value says, true to what is on disk (RunRecord.non_finite, bound to a step).
NonFinite = Callable[[str], str]


def autocast(rt: Runtime) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision in `rt`'s dtype (nothing in float32)."""
    if rt.dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(rt.device.type, dtype=rt.dtype)


def check_finite(model: nn.Module, non_finite: NonFinite, before: str) -> None:
    """Raises NonFiniteLoss when a weight of `model` is NaN or infinite."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise NonFiniteLoss(non_finite(f"the weights became NaN or infinite {before}"))


def _sample(model: nn.Module, objective: Objective, non_finite: NonFinite) -> str | None:
    try:
        return objective.sample(model)
    except RuntimeError as exc:  # sampling from logits that overflowed
        if "inf" not in str(exc) and "nan" not in str(exc):
            raise
        raise NonFiniteLoss(non_finite("the model's outputs became NaN or infinite")) from None


@torch.no_grad()
def evaluate(model: nn.Module, objective: Objective, rt: Runtime, step: int,
             train_loss: float | None, non_finite: NonFinite) -> EvalMetrics:
    """Score `model` on the objective's evaluation batches at `step`: each rank scores its share
    and the sums are reduced over ranks; rank 0 draws the sample. Raises NonFiniteLoss when the
    weights, the validation loss or the sample are NaN or infinite."""
    check_finite(model, non_finite, "before the evaluation")
    model.eval()
    try:
        total, n = 0.0, 0
        for batch in objective.eval_batches()[rt.rank::rt.world_size]:
            batch = tuple(b.to(rt.device) for b in batch)
            with autocast(rt):
                total += float(objective.loss(model, batch))
            n += 1
        total, count = dist.reduce_sums([total, float(n)], rt.device)
        val_loss = total / max(count, 1)
        if not math.isfinite(val_loss):
            raise NonFiniteLoss(non_finite(f"the validation loss became {val_loss}"))
        extra = objective.eval_extra(model, val_loss)
        sample = _sample(model, objective, non_finite) if rt.is_main else None
    finally:
        model.train()
    return EvalMetrics(
        step=step, val_loss=val_loss, val_ppl=math.exp(min(val_loss, 50.0)),
        bits_per_char=extra.pop("bits_per_char", None), val_bpb=extra.pop("val_bpb", None),
        train_loss=train_loss, extra=extra, sample=sample,
    )


@torch.no_grad()
def final_report(model: nn.Module, objective: Objective, run_dir: Path,
                 sink: MetricsSink) -> None:
    """Score the best weights on the task's test split; save results.json."""
    ckpt.load_weights(model, weights_path(run_dir, "best"))
    model.eval()
    report = objective.final_report(model)
    runs.write_json(run_dir, runs.RESULTS, report)
    headline = ", ".join(f"{k} {v:.4f}" for k, v in report.items() if isinstance(v, float))
    sink.message(f"test: {headline}")
