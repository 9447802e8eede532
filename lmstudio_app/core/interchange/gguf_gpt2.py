"""Our GPT as llama.cpp's "gpt2" architecture: hyperparameters and tensor names.

As llama.cpp's convert_hf_to_gguf.py writes a GPT-2: its metadata (context_length,
embedding_length, feed_forward_length, block_count, head_count, layer_norm_epsilon) and tensor
names (token_embd, position_embd, blk.N.attn_norm / attn_qkv / attn_output / ffn_norm /
ffn_up / ffn_down, output_norm; the output matrix is tied to token_embd and not stored, as for
GPT-2). Our projections are nn.Linear, already the (out, in) layout the script produces by
transposing GPT-2's Conv1D weights. A model trained without biases gets zero ones (llama.cpp's
gpt2 graph reads them).

llama.cpp's gpt2 graph uses the tanh approximation of GELU; our GPT's default is the exact
one, a difference of at most ~1e-3 per activation (the client suite measures the logits).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config import ModelConfig
from .gguf_arch import GGUFArchitecture

GPT_LN_EPS = 1e-5


def _hparams(writer: Any, gguf: Any, m: ModelConfig) -> None:
    writer.add_context_length(m.max_positions)
    writer.add_embedding_length(m.n_embd)
    writer.add_feed_forward_length(4 * m.n_embd)
    writer.add_block_count(m.n_layer)
    writer.add_head_count(m.n_head)
    writer.add_layer_norm_eps(GPT_LN_EPS)


def _tensors(model: nn.Module, gguf: Any, m: ModelConfig) -> dict[str, torch.Tensor]:
    """GGUF name -> float32 tensor, for our GPT's weights (zero biases where it has none)."""
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, m.n_layer)
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if name == "lm_head.weight":
            continue  # tied to token_embd: llama.cpp uses that matrix for the output
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise RuntimeError(f"no GGUF name for {name}")
        out[new] = value
        bias = name[: -len("weight")] + "bias"
        if name.endswith(".weight") and value.dim() >= 1 and bias not in state \
                and "wte" not in name and "wpe" not in name:
            out[names.get_name(bias, try_suffixes=(".bias",))] = torch.zeros(value.shape[0])
    return out


GPT2 = GGUFArchitecture(name="gpt2", hparams=_hparams, tensors=_tensors,
                        keep_f32=("position_embd.weight",))
