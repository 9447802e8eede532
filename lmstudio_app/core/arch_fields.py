"""Checks of the Llama architecture's fields and of the optimizer choice, beside config.py.

The Llama fields are Hugging Face's LlamaConfig / Qwen2Config / Qwen3Config under our names
(n_kv_head = num_key_value_heads, head_size = head_dim, norm_eps = rms_norm_eps); a GPT or a
BERT keeps them at their defaults. The rope scaling kinds are those of the checkpoints import
takes: none ("default"), "linear" (position interpolation, Chen et al. 2023) and "llama3"
(Llama 3.1/3.2's frequency-dependent scaling).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import UserError

# The functions read a config.ModelConfig; it is typed Any here because config.py calls them
# (importing it back, even for types only, would close an import circle).
ModelConfig = Any

OPTIMIZERS = ("adamw", "muon")
ROPE_KINDS = ("default", "linear", "llama3")
_LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor",
                "original_max_position_embeddings")


def validate_optimizer(name: str) -> None:
    """Raises UserError (field "optimizer") for a name outside OPTIMIZERS."""
    if name not in OPTIMIZERS:
        raise UserError(f"optimizer={name!r}: choose {' or '.join(OPTIMIZERS)}.",
                        field="optimizer", option="adamw")


def rope_scaling(cfg: ModelConfig) -> dict[str, Any]:
    """cfg.rope_scaling as a dict ({} for none); UserError when it is not a known kind."""
    if not cfg.rope_scaling:
        return {}
    try:
        data = json.loads(cfg.rope_scaling)
    except json.JSONDecodeError as exc:
        raise UserError(f"rope_scaling: not JSON ({exc}).", field="rope_scaling") from None
    if not isinstance(data, dict):
        raise UserError("rope_scaling: expected a JSON object.", field="rope_scaling")
    kind = data.get("rope_type", data.get("type", "default"))
    if kind not in ROPE_KINDS:
        raise UserError(f"rope_scaling: rope_type {kind!r} is not implemented; choose "
                        f"{', '.join(ROPE_KINDS)}.", field="rope_scaling")
    needed = {"linear": ("factor",), "llama3": _LLAMA3_KEYS}.get(kind, ())
    for key in needed:
        if not isinstance(data.get(key), (int, float)) or data[key] <= 0:
            raise UserError(f"rope_scaling: {kind} needs a positive {key}.",
                            field="rope_scaling")
    return {**data, "rope_type": kind}


def validate_llama_fields(cfg: ModelConfig) -> None:
    """The Llama fields' ranges; raises UserError naming the field. A GPT or BERT must leave
    them at their defaults (its layers have no such options)."""
    for name in ("n_kv_head", "head_size", "intermediate_size"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name}={getattr(cfg, name)}: must be 0 (derived) or more.",
                            field=name)
    if cfg.arch != "llama":
        odd = [n for n in ("n_kv_head", "head_size", "intermediate_size") if getattr(cfg, n)]
        odd += [n for n in ("qkv_bias", "qk_norm") if getattr(cfg, n)]
        if odd or cfg.rope_scaling or not cfg.tie_word_embeddings:
            name = odd[0] if odd else "rope_scaling" if cfg.rope_scaling else \
                "tie_word_embeddings"
            raise UserError(f"{name}: a setting of arch=llama; arch={cfg.arch} has no such "
                            "option.", field=name)
        return
    kv = cfg.n_kv_head or cfg.n_head
    if cfg.n_head % kv:
        raise UserError(f"n_kv_head={kv} does not divide n_head={cfg.n_head}: each key/value "
                        "head serves a whole group of query heads.",
                        field=("n_kv_head", "n_head"))
    if cfg.head_dim % 2:
        raise UserError(f"head width {cfg.head_dim} is odd: rotary positions rotate pairs.",
                        field=("n_embd", "n_head"))
    if not (math.isfinite(cfg.rope_theta) and cfg.rope_theta > 1):
        raise UserError(f"rope_theta={cfg.rope_theta}: must be above 1.", field="rope_theta")
    if not (math.isfinite(cfg.norm_eps) and 0 < cfg.norm_eps < 1):
        raise UserError(f"norm_eps={cfg.norm_eps}: must be in (0, 1).", field="norm_eps")
    rope_scaling(cfg)
