"""What GPT-2 and BERT share: the weight initialisation (N(0, 0.02) for matrices, zero biases)
and the choice of GELU."""

from __future__ import annotations

from torch import nn

from ..config import ModelConfig

INIT_STD = 0.02


def init_weights(module: nn.Module) -> None:
    """For `Module.apply`: linear and embedding weights from N(0, INIT_STD), biases zero."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)


def gelu_approximation(cfg: ModelConfig) -> str:
    """`approximate=` of torch's GELU for cfg.activation: "none" (erf) or "tanh" (gelu_new)."""
    return "tanh" if cfg.activation == "gelu_new" else "none"
