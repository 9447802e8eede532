"""What a GGUF export needs to know of one model architecture (gguf_gpt2.py, llama_gguf.py).

A new architecture is a module that builds a `GGUFArchitecture` (llama_gguf.py builds one of
two, by the model's config) and an entry in gguf_export.ARCHITECTURES under our config's
`model.arch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig


@dataclass(frozen=True)
class GGUFArchitecture:
    """llama.cpp's name for the architecture (`general.architecture`), a writer of its
    hyperparameters (`writer`, the gguf module, the run's ModelConfig) and the model's tensors
    under llama.cpp's names (float32; `model`, the gguf module, the ModelConfig). `keep_f32`
    names tensors kept in float32 whatever the dtype, as convert_hf_to_gguf.py keeps them
    (vectors always are)."""

    name: str
    hparams: Callable[[Any, Any, ModelConfig], None]
    tensors: Callable[[nn.Module, Any, ModelConfig], dict[str, torch.Tensor]]
    keep_f32: tuple[str, ...] = ()
