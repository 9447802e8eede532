"""LoRA adapters on our models through Hugging Face's PEFT library (`peft.get_peft_model`).

The adapted model is a `peft.PeftModel` around ours: each targeted `nn.Linear` W of the blocks
computes W x + (lora_alpha / r) B A x with A (r, in) and B (out, r), B starting at zero (Hu et
al. 2021); everything else is frozen but the task head, which PEFT trains in full and saves
(`modules_to_save`). `merge` folds B A into W and gives back our own module, so every consumer
of a plain model (the Playground, the instruments, the Hugging Face and GGUF exports) reads it
unchanged.

Reference: PEFT's `LoraConfig`, `get_peft_model` and `merge_and_unload`
(https://huggingface.co/docs/peft).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import torch
from torch import nn

from ..errors import UserError
from ..lora_config import LoraSettings
from . import BODY_NAMES

HEAD = "head"  # the task head of models.heads: trained in full beside the adapters
INSTALL_HINT = 'LoRA needs the peft library: pip install "lmstudio-app[lora]".'


def require_peft() -> ModuleType:
    """The peft module; UserError (field "lora") with the install line when it is missing."""
    try:
        import peft
    except ImportError:
        raise UserError(INSTALL_HINT, field="lora") from None
    return peft


def check_4bit(lora: LoraSettings, device: torch.device) -> None:
    """QLoRA's 4-bit base needs CUDA and bitsandbytes; UserError (field "load_in_4bit") else."""
    if not lora.load_in_4bit:
        return
    if device.type != "cuda":
        raise UserError(f"QLoRA (a 4-bit base) needs a CUDA GPU and this run trains on "
                        f"{device.type}; train with plain LoRA (without --qlora).",
                        field="load_in_4bit")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError('QLoRA needs bitsandbytes: pip install "lmstudio-app[qlora]".',
                        field="load_in_4bit") from None


def target_names(model: nn.Module, lora: LoraSettings, arch: str) -> list[str]:
    """The full names of the linear layers of the blocks that get adapters (sorted)."""
    block = re.escape(BODY_NAMES[arch][1]).replace(r"\{\}", r"\d+")
    inside = re.compile(rf"(^|\.){block}")
    leaves = set(lora.targets(arch))
    return sorted(name for name, m in model.named_modules()
                  if isinstance(m, nn.Linear) and inside.search(name + ".")
                  and name.rsplit(".", 1)[-1] in leaves)


def peft_config(model: nn.Module, lora: LoraSettings, arch: str) -> Any:
    """PEFT's LoraConfig for `model` (an instance of `peft.LoraConfig`)."""
    peft = require_peft()
    heads = [HEAD] if isinstance(getattr(model, HEAD, None), nn.Module) else None
    return peft.LoraConfig(r=lora.r, lora_alpha=lora.lora_alpha, lora_dropout=lora.lora_dropout,
                           target_modules=target_names(model, lora, arch), bias="none",
                           modules_to_save=heads)


def quantize_4bit(model: nn.Module, names: list[str]) -> None:
    """Replace the named linear layers by bitsandbytes' 4-bit NF4 layers (QLoRA's frozen base;
    the weights are quantized when the model moves to the GPU)."""
    import bitsandbytes as bnb

    for name in names:
        parent_name, _, leaf = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        old = getattr(parent, leaf)
        new = bnb.nn.Linear4bit(old.in_features, old.out_features, bias=old.bias is not None,
                                compute_dtype=torch.bfloat16, quant_type="nf4")
        new.weight = bnb.nn.Params4bit(old.weight.data, requires_grad=False, quant_type="nf4")
        if old.bias is not None:
            new.bias = nn.Parameter(old.bias.data, requires_grad=False)
        setattr(parent, leaf, new)


def add_adapters(model: nn.Module, lora: LoraSettings, arch: str,
                 quantize: bool = False) -> nn.Module:
    """`model` with fresh LoRA adapters (a `peft.PeftModel`): only they and the head train.
    `quantize`: the adapted layers' base in 4 bits (QLoRA; check_4bit first)."""
    peft = require_peft()
    if quantize:
        quantize_4bit(model, target_names(model, lora, arch))
    adapted: nn.Module = peft.get_peft_model(model, peft_config(model, lora, arch))
    return adapted


def is_adapted(model: nn.Module) -> bool:
    """True for a model carrying PEFT adapters."""
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def merge(model: nn.Module) -> nn.Module:
    """Our own module with the adapters folded into its weights (W + scaling B A) and the
    trained head in place; a model without adapters as it is."""
    if not is_adapted(model):
        return model
    merged: nn.Module = model.merge_and_unload()  # type: ignore[operator]
    return merged


def trainable_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, all) parameters, as PEFT's `get_nb_trainable_parameters` counts them."""
    seen = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in seen if p.requires_grad), sum(p.numel() for p in seen)
