"""The weight initialisation GPT-2 and BERT share: N(0, 0.02) for matrices, zero biases."""

from __future__ import annotations

from torch import nn

INIT_STD = 0.02


def init_weights(module: nn.Module) -> None:
    """For `Module.apply`: linear and embedding weights from N(0, INIT_STD), biases zero."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
