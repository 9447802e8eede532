"""Llama-family folders in and out: LlamaForCausalLM, MistralForCausalLM (no sliding window),
Qwen2ForCausalLM and Qwen3ForCausalLM, to and from runs of arch "llama".

Our Llama keeps transformers' parameter names, so the weights are copied under the same names
(the output matrix dropped when tied). The config maps field by field:

    transformers                  ours
    hidden_size                   n_embd
    num_hidden_layers             n_layer
    num_attention_heads           n_head
    num_key_value_heads           n_kv_head
    head_dim                      head_size (when not hidden_size / num_attention_heads)
    intermediate_size             intermediate_size
    max_position_embeddings       max_positions (block_size: at most 2048)
    rms_norm_eps                  norm_eps
    rope_theta, rope_scaling      rope_theta, rope_scaling (transformers 5: rope_parameters)
    tie_word_embeddings           tie_word_embeddings
    Qwen2's q/k/v biases          qkv_bias
    Qwen3's q_norm / k_norm       qk_norm

What our layers do not compute is refused with one line naming the config field: a sliding
window, mixture of experts, a vision or audio tower, biases on the output or MLP projections,
an activation other than SiLU, partial rotary embeddings, rope kinds other than default,
linear and llama3. Export writes a Qwen3 for QK-norm, a Qwen2 for q/k/v biases, else a Llama
(an imported Mistral computes the same function as a Llama).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..arch_fields import rope_scaling
from ..config import ModelConfig, RunConfig
from ..errors import UserError
from ..models.llama import Llama
from .staging import check_weights

FAMILIES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
            "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}
CONFIG_CLASSES = {"llama": "LlamaConfig", "mistral": "MistralConfig", "qwen2": "Qwen2Config",
                  "qwen3": "Qwen3Config"}
MAX_BLOCK = 2048  # training window of an imported model (its position range stays whole)
# Keys whose mere presence (with a true value) means layers we do not have.
_UNSUPPORTED = {
    "num_experts": "mixture of experts is not implemented",
    "num_local_experts": "mixture of experts is not implemented",
    "moe_intermediate_size": "mixture of experts is not implemented",
    "vision_config": "vision towers are not implemented (text models only)",
    "audio_config": "audio towers are not implemented (text models only)",
    "text_config": "multimodal models are not implemented (text models only)",
    "attention_bias": "biases on every attention projection are not implemented (Qwen2's "
                      "q/k/v biases are)",
    "mlp_bias": "biases in the MLP are not implemented",
}


def _refuse(src: Path, key: str, value: Any, why: str) -> UserError:
    return UserError(f"{src / 'config.json'}: {key}={value!r} is not supported: {why}.",
                     field=key)


def refuse_custom_code(src: Path, hf: dict[str, Any]) -> None:
    """A folder asking for its own Python code (`auto_map`) is refused: none of it is run."""
    if hf.get("auto_map"):
        raise UserError(f"{src / 'config.json'}: auto_map asks to run code that comes with the "
                        "model (trust_remote_code); this app never runs it. Use a model that "
                        "transformers implements itself.", field="auto_map")


def _sliding_window(src: Path, hf: dict[str, Any]) -> None:
    kinds = set(hf.get("layer_types") or ())
    if kinds - {"full_attention"}:
        raise _refuse(src, "layer_types", sorted(kinds), "only full attention is implemented")
    uses = hf.get("use_sliding_window", hf.get("model_type") == "mistral")
    if uses and hf.get("sliding_window") is not None:
        key = "use_sliding_window" if "use_sliding_window" in hf else "sliding_window"
        raise _refuse(src, key, hf[key], "a sliding attention window is not implemented")


def _rope(src: Path, hf: dict[str, Any]) -> tuple[float, str]:
    """rope_theta and rope_scaling (as JSON) from transformers 4's or 5's keys."""
    params = dict(hf.get("rope_parameters") or {})
    theta = float(params.pop("rope_theta", hf.get("rope_theta", 10000.0)))
    scaling = dict(hf.get("rope_scaling") or params)
    scaling.pop("rope_theta", None)
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if float(hf.get("partial_rotary_factor", 1.0)) != 1.0:
        raise _refuse(src, "partial_rotary_factor", hf["partial_rotary_factor"],
                      "rotary embeddings here turn a head's whole width")
    text = "" if kind == "default" else json.dumps({**scaling, "rope_type": kind})
    probe = ModelConfig(arch="llama", rope_scaling=text)
    try:
        rope_scaling(probe)
    except UserError as exc:
        raise _refuse(src, "rope_scaling", scaling, str(exc).rstrip(".")) from None
    return theta, text


def llama_config_from_hf(src: Path, hf: dict[str, Any]) -> tuple[ModelConfig, str]:
    """Our ModelConfig for a Llama-family config.json and the architecture it names; a
    UserError naming the field for anything our Llama does not compute."""
    family = str(hf.get("model_type"))
    architecture = (hf.get("architectures") or [FAMILIES[family]])[0]
    if architecture != FAMILIES[family]:
        raise _refuse(src, "architectures", architecture,
                      f"import takes the language model {FAMILIES[family]}")
    for key, why in _UNSUPPORTED.items():
        if hf.get(key):
            raise _refuse(src, key, hf[key], why)
    _sliding_window(src, hf)
    if hf.get("hidden_act", "silu") != "silu":
        raise _refuse(src, "hidden_act", hf["hidden_act"], "the MLP here is SwiGLU (silu)")
    theta, scaling = _rope(src, hf)
    width, heads = int(hf.get("hidden_size", 4096)), int(hf.get("num_attention_heads", 32))
    head_dim = int(hf.get("head_dim") or width // heads)
    positions = int(hf.get("max_position_embeddings", 2048))
    cfg = ModelConfig(
        arch="llama", vocab_size=int(hf.get("vocab_size", 32000)),
        n_layer=int(hf.get("num_hidden_layers", 32)), n_head=heads, n_embd=width,
        n_kv_head=int(hf.get("num_key_value_heads") or heads),
        head_size=0 if head_dim * heads == width else head_dim,
        intermediate_size=int(hf.get("intermediate_size", 11008)),
        block_size=min(positions, MAX_BLOCK), max_positions=positions,
        dropout=float(hf.get("attention_dropout", 0.0)), bias=False,
        rope_theta=theta, rope_scaling=scaling, norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        qkv_bias=family == "qwen2", qk_norm=family == "qwen3",
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)))
    try:
        cfg.validate()
    except UserError as exc:
        raise UserError(f"{src / 'config.json'}: {exc}", field="hf") from None
    return cfg, architecture


def check_shards(src: Path, index_name: str) -> None:
    """Every shard the index names is present (else one line naming the first missing)."""
    index = src / index_name
    if not index.is_file():
        return
    try:
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"{index}: not a safetensors index.", field="hf") from None
    missing = [f for f in files if not (src / f).is_file()]
    if missing:
        raise UserError(f"{src}: shard {missing[0]} listed in {index_name} is missing"
                        f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}; "
                        "download the whole folder again.", field="hf")


def llama_from_state(src: Path, state: dict[str, torch.Tensor], cfg: ModelConfig) -> Llama:
    """Our Llama holding the folder's weights (float32), built without a random init: the
    modules are made on the meta device and the tensors assigned. UserError when a tensor is
    missing or misshapen."""
    with torch.device("meta"):
        model = Llama(cfg)
    own = model.state_dict()
    if cfg.tie_word_embeddings:
        state = {k: v for k, v in state.items() if k != "lm_head.weight"}
        state["lm_head.weight"] = state.get("model.embed_tokens.weight", torch.empty(0))
    check_weights(src, own, state)
    model.load_state_dict({k: state[k].float() for k in own}, strict=True, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model.eval()


# ------------------------------------------------------------------------------------- export


def family_of(cfg: ModelConfig) -> str:
    """The transformers family a run is written as, by its layers: QK-norm, Qwen3; q/k/v
    biases, Qwen2; otherwise Llama (an imported Mistral without a sliding window computes the
    same function and is written as a Llama)."""
    return "qwen3" if cfg.qk_norm else "qwen2" if cfg.qkv_bias else "llama"


def hf_llama_config(transformers: Any, m: ModelConfig, family: str, roles: dict[str, int],
                    architecture: str) -> Any:
    """transformers' config of `family` for our Llama `m` (rope keys as the installed
    transformers spells them: rope_parameters in 5, rope_theta + rope_scaling in 4)."""
    cls = getattr(transformers, CONFIG_CLASSES[family])
    kw: dict[str, Any] = dict(
        vocab_size=m.vocab_size, hidden_size=m.n_embd, intermediate_size=m.intermediate_size
        or 4 * m.n_embd, num_hidden_layers=m.n_layer, num_attention_heads=m.n_head,
        num_key_value_heads=m.n_kv_head or m.n_head, head_dim=m.head_dim,
        max_position_embeddings=m.max_positions, rms_norm_eps=m.norm_eps,
        tie_word_embeddings=m.tie_word_embeddings, bos_token_id=roles.get("bos"),
        eos_token_id=roles.get("eos"), pad_token_id=roles.get("pad"),
        architectures=[architecture], hidden_act="silu")
    scaling = rope_scaling(m)
    if "rope_parameters" in inspect.signature(cls.__init__).parameters:
        kw["rope_parameters"] = {"rope_type": "default", **scaling, "rope_theta": m.rope_theta}
    else:
        kw.update(rope_theta=m.rope_theta, rope_scaling=scaling or None)
    if family in ("qwen2", "qwen3"):
        kw["use_sliding_window"] = False
    if family == "mistral":
        kw["sliding_window"] = None
    return cls(**kw)


def build_hf_llama(transformers: Any, model: nn.Module, cfg: RunConfig,
                   roles: dict[str, int]) -> Any:
    """The transformers *ForCausalLM equal to our Llama `model`, in eval mode. UserError for
    a task head (exported only for GPT and BERT bodies)."""
    if cfg.finetune is not None and cfg.finetune.spec.head:
        raise UserError(f"a {cfg.spec.title} run on a Llama body has no Hugging Face export "
                        "here yet: export its language model runs.", field="run")
    family = family_of(cfg.model)
    architecture = FAMILIES[family]
    config = hf_llama_config(transformers, cfg.model, family, roles, architecture)
    hf_model = getattr(transformers, architecture)(config)
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    missing, unexpected = hf_model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"{architecture}: weights do not match (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})")
    return hf_model.eval()
