"""Activation (gradient) checkpointing: keep only each transformer block's input in the forward
pass and recompute the block's activations in the backward pass (Chen et al. 2016, "Training
Deep Nets with Sublinear Memory Cost"; Hugging Face's `gradient_checkpointing`).

Activation memory drops from every block's intermediates to one block's, for about a third
more compute. Dropout draws the same masks when recomputed (torch.utils.checkpoint restores the
RNG state), so the loss and gradients are those of the plain pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def run_blocks(blocks: Iterable[nn.Module], x: Tensor, *args: Any, checkpointed: bool) -> Tensor:
    """x (B, T, C) through every block in turn (each called as block(x, *args)); with
    `checkpointed`, and only while gradients are recorded, through torch.utils.checkpoint."""
    recompute = checkpointed and torch.is_grad_enabled()
    for block in blocks:
        x = checkpoint(block, x, *args, use_reentrant=False) if recompute else block(x, *args)
    return x


@runtime_checkable
class Checkpointable(Protocol):
    """A part of a model that can recompute its blocks' activations (see `run_blocks`)."""

    gradient_checkpointing: bool


def set_gradient_checkpointing(model: nn.Module, on: bool) -> None:
    """Turn checkpointing on or off in every part of `model` that offers it (the GPT and BERT
    bodies, also inside a fine-tuning head)."""
    for module in model.modules():
        if isinstance(module, Checkpointable):
            module.gradient_checkpointing = on
