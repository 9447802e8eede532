"""The network architectures: GPT-2-style and Llama-style decoders, a BERT-style encoder."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .bert import Bert
from .gpt import GPT, KVCache
from .llama import Llama

MODEL_CLASSES: dict[str, type[nn.Module]] = {"gpt": GPT, "bert": Bert, "llama": Llama}
# Parameter-name prefixes of each body: its embeddings, and one block ("{}" is its index).
BODY_NAMES: dict[str, tuple[tuple[str, ...], str]] = {
    "gpt": (("transformer.wte.", "transformer.wpe."), "transformer.h.{}."),
    "bert": (("embeddings.",), "encoder.layer.{}."),
    "llama": (("model.embed_tokens.",), "model.layers.{}."),
}

__all__ = ["GPT", "Bert", "Llama", "KVCache", "MODEL_CLASSES", "BODY_NAMES", "build_model",
           "count_parameters"]


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model `cfg.arch` names, freshly initialised (validates the config first)."""
    cfg.validate()
    return MODEL_CLASSES[cfg.arch](cfg)


def count_parameters(cfg: ModelConfig) -> int:
    """Exact parameter count (tied matrices once), built on the meta device: no memory used."""
    cfg.validate()
    with torch.device("meta"):
        model = MODEL_CLASSES[cfg.arch](cfg)
    return sum(p.numel() for p in model.parameters())
