"""A Llama run as one GGUF file, as llama.cpp's convert_hf_to_gguf.py writes a Llama or Qwen3.

Architecture "llama" (llama.cpp's; Qwen2's q/k/v biases are optional tensors of it), or
"qwen3" for a model with QK-norm (the llama graph has no norm on queries and keys). Tensor
names come from the gguf package's map (token_embd, blk.N.attn_norm / attn_q / attn_k / attn_v
/ attn_output / ffn_norm / ffn_gate / ffn_up / ffn_down, output_norm, output when untied).

The q/k layout: llama.cpp's "llama" rotates adjacent pairs (GPT-J style) while transformers'
weights are laid out for the half split (rotate_half), so the script permutes the rows of
attn_q and attn_k (and their biases) within each head: `LlamaModel.permute`, done here the
same way. Qwen3 keeps the NeoX half split in llama.cpp and is written unpermuted. Rope metadata:
rope_freq_base, rope_dimension_count; "linear" scaling as rope.scaling.type/factor; "llama3"
scaling as the rope_freqs tensor of per-frequency divisors, as the script writes it.
"""

from __future__ import annotations

from typing import Any

import torch

from ..arch_fields import rope_scaling
from ..config import ModelConfig
from ..models.llama import rope_inv_freq
from .gguf_arch import GGUFArchitecture


def permute_rows(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """Rows of a q or k projection (n_head * D, ...) from the half-split to the interleaved
    rotary layout (convert_hf_to_gguf.py's LlamaModel.permute)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama_tensors(model: torch.nn.Module, gguf: Any, m: ModelConfig) -> dict[str, torch.Tensor]:
    """GGUF name -> float32 tensor for our Llama (permuted q/k for arch llama, rope_freqs for
    llama3 scaling; the output matrix only when untied)."""
    arch = gguf.MODEL_ARCH.QWEN3 if m.qk_norm else gguf.MODEL_ARCH.LLAMA
    names = gguf.get_tensor_name_map(arch, m.n_layer)
    kv = m.n_kv_head or m.n_head
    out: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight" and m.tie_word_embeddings:
            continue
        value = value.detach().float().cpu()
        if not m.qk_norm and ".self_attn.q_proj." in name:
            value = permute_rows(value, m.n_head)
        elif not m.qk_norm and ".self_attn.k_proj." in name:
            value = permute_rows(value, kv)
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise RuntimeError(f"no GGUF name for {name}")
        out[new] = value
    if rope_scaling(m).get("rope_type") == "llama3":
        plain = rope_inv_freq(ModelConfig(**{**m.__dict__, "rope_scaling": ""}))
        out[gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight"] = \
            plain / rope_inv_freq(m)
    return out


def write_llama_metadata(writer: Any, gguf: Any, m: ModelConfig) -> None:
    """The hyperparameters llama.cpp reads for arch llama / qwen3."""
    writer.add_context_length(m.max_positions)
    writer.add_embedding_length(m.n_embd)
    writer.add_feed_forward_length(m.intermediate_size or 4 * m.n_embd)
    writer.add_block_count(m.n_layer)
    writer.add_head_count(m.n_head)
    writer.add_head_count_kv(m.n_kv_head or m.n_head)
    writer.add_rope_freq_base(m.rope_theta)
    writer.add_layer_norm_rms_eps(m.norm_eps)
    writer.add_rope_dimension_count(m.head_dim)
    writer.add_vocab_size(m.vocab_size)
    if m.head_size:
        writer.add_key_length(m.head_dim)
        writer.add_value_length(m.head_dim)
    scaling = rope_scaling(m)
    if scaling.get("rope_type") == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))


LLAMA = GGUFArchitecture(name="llama", hparams=write_llama_metadata, tensors=llama_tensors)
QWEN3 = GGUFArchitecture(name="qwen3", hparams=write_llama_metadata, tensors=llama_tensors)


def architecture(m: ModelConfig) -> GGUFArchitecture:
    """llama.cpp's architecture for the model: qwen3 where queries and keys are normed."""
    return QWEN3 if m.qk_norm else LLAMA
