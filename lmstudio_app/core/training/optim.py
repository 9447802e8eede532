"""The optimizer and its schedule: AdamW with decay on matrices only (nanoGPT's
`configure_optimizers`), and a linear warm-up then cosine decay of the learning rate
(nanoGPT's `get_lr`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..config import RunConfig


def lr_at(step: int, lr: float, min_lr: float, warmup: int, max_steps: int) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr` at `max_steps`."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_steps:
        return min_lr
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def make_optimizer(model: nn.Module, cfg: RunConfig, device: torch.device,
                   lr_scale: Callable[[str], float] | None = None) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only; fused kernels where the device has them.

    `lr_scale(name)` gives a parameter's share of the scheduled rate (a fine-tuned body may
    learn slower than its new head); each group carries it as "lr_scale".
    """
    t = cfg.train
    buckets: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        scale = lr_scale(name) if lr_scale else 1.0
        buckets.setdefault((p.dim() >= 2, scale), []).append(p)
    groups = [
        {"params": ps, "weight_decay": t.weight_decay if decay else 0.0, "lr_scale": scale}
        for (decay, scale), ps in sorted(buckets.items(), key=lambda kv: kv[0], reverse=True)
    ]
    kwargs: dict[str, Any] = {"lr": t.learning_rate, "betas": (t.beta1, t.beta2)}
    if device.type in ("cuda", "cpu", "mps"):
        kwargs["fused"] = True
    if t.optimizer == "muon":  # Muon on the hidden matrices (muon.py)
        from .muon import make_muon_adamw

        return make_muon_adamw(model.named_parameters(), groups, t.learning_rate,
                               t.weight_decay, {k: v for k, v in kwargs.items() if k != "lr"})
    try:
        return torch.optim.AdamW(groups, **kwargs)
    except (RuntimeError, TypeError):
        kwargs.pop("fused", None)
        return torch.optim.AdamW(groups, **kwargs)
