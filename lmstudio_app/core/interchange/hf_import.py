"""Import a local Hugging Face GPT-2 or BERT folder as a run folder.

The folder needs config.json, weights (model.safetensors, sharded safetensors, or a
pytorch_model.bin read with `torch.load(weights_only=True)`, which refuses pickled code) and a
tokenizer (tokenizer.json, or the files transformers builds one from: vocab.json + merges.txt
for GPT-2, vocab.txt for BERT). The run folder gets our config.json (a clm run for GPT-2, an
mlm run for BERT), model.safetensors under our names, and the tokenizer as tokenizer.json
(the `tokenizers` backend): chat, fill-mask and fine-tuning use it like any other run.

Anything our models do not compute the same way is refused with the config field at fault:
other model types (rotary GPT-NeoX, Llama, ...), activations other than GELU, a feed-forward
width other than 4 x n_embd, other LayerNorm epsilons, cross-attention, relative positions,
untied output embeddings. The run is written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import json
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import runs
from ..config import ModelConfig, RunConfig, TrainConfig
from ..data.chat_template import TEMPLATE_FILE
from ..data.hf_tokenizer import HFTokenizer
from ..errors import UserError
from ..models import build_model
from ..presets import PRESETS, preset_part
from ..runs import checkpoint as ckpt
from . import hub, llama_hf, names
from .staging import Progress, check_weights, folder_bytes, require_transformers, staged_folder

HF_CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt")

ARCHITECTURES = {
    "gpt2": ("GPT2LMHeadModel", "GPT2Model"),
    "bert": ("BertForMaskedLM", "BertForPreTraining", "BertModel"),
}
# Hugging Face activation names -> ours (tanh approximations all compute GPT-2's gelu_new).
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_new", "gelu_pytorch_tanh": "gelu_new",
               "gelu_fast": "gelu_new"}
_ROPE_KEYS = ("rotary_dim", "rotary_pct", "rope_theta", "rope_scaling", "use_rotary")


@dataclass
class ImportResult:
    out: Path
    architecture: str  # what the folder held
    objective: str  # clm | mlm
    parameters: int
    bytes: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def _refuse(src: Path, key: str, value: Any, why: str) -> UserError:
    return UserError(f"{src / HF_CONFIG}: {key}={value!r} is not supported: {why}.", field=key)


def read_hf_config(src: Path) -> dict[str, Any]:
    """config.json of a model folder; UserError when the folder is not a model."""
    if not src.is_dir():
        raise UserError(f"{src}: no such folder.", field="hf")
    path = src / HF_CONFIG
    if not path.is_file():
        raise UserError(f"{src}: not a Hugging Face model folder (no {HF_CONFIG}).", field="hf")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}).", field="hf") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a model configuration.", field="hf")
    return data


def model_config_from_hf(src: Path, hf: dict[str, Any]) -> tuple[ModelConfig, str]:
    """Our ModelConfig for a GPT-2 / BERT config.json, and the architecture it names."""
    model_type = hf.get("model_type")
    if model_type is None:
        raise UserError(f"{src / HF_CONFIG}: not a Hugging Face model configuration (no "
                        "model_type).", field="hf")
    if model_type in llama_hf.FAMILIES:  # Llama, Mistral, Qwen2, Qwen3: llama_hf.py
        return llama_hf.llama_config_from_hf(src, hf)
    if model_type not in ARCHITECTURES:
        raise _refuse(src, "model_type", model_type, "only GPT-2 (gpt2), BERT (bert), Llama "
                      "(llama), Mistral (mistral), Qwen2 (qwen2) and Qwen3 (qwen3) models can "
                      "be imported")
    known = ARCHITECTURES[model_type]
    architecture = (hf.get("architectures") or [known[-1]])[0]
    if architecture not in known:
        raise _refuse(src, "architectures", architecture,
                      f"import takes a language model ({', '.join(known)}); fine-tune it here "
                      "for classification or question answering")
    for key in _ROPE_KEYS:
        if hf.get(key) not in (None, False):
            raise _refuse(src, key, hf[key], "rotary position embeddings are not implemented "
                          "here (positions are a learned table)")
    if hf.get("add_cross_attention"):
        raise _refuse(src, "add_cross_attention", True, "cross-attention is not implemented")
    if model_type == "gpt2":
        width, act_key, eps_key, eps = hf.get("n_embd", 768), "activation_function", \
            "layer_norm_epsilon", 1e-5
        inner_key, inner = "n_inner", hf.get("n_inner")
        if not hf.get("scale_attn_weights", True):
            raise _refuse(src, "scale_attn_weights", False, "attention here is scaled by "
                          "1/sqrt(head size)")
        if hf.get("scale_attn_by_inverse_layer_idx"):
            raise _refuse(src, "scale_attn_by_inverse_layer_idx", True,
                          "attention here is not scaled by layer")
    else:
        width, act_key, eps_key, eps = hf.get("hidden_size", 768), "hidden_act", \
            "layer_norm_eps", 1e-12
        inner_key, inner = "intermediate_size", hf.get("intermediate_size")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise _refuse(src, "position_embedding_type", hf["position_embedding_type"],
                          "positions here are an absolute learned table")
        if hf.get("is_decoder"):
            raise _refuse(src, "is_decoder", True, "BERT here is a bidirectional encoder")
    activation = hf.get(act_key, "gelu_new" if model_type == "gpt2" else "gelu")
    if activation not in ACTIVATIONS:
        raise _refuse(src, act_key, activation,
                      f"the feed-forward layers here use {' or '.join(sorted(ACTIVATIONS))}")
    if inner not in (None, 4 * width):
        raise _refuse(src, inner_key, inner, f"the feed-forward width here is 4 x {width}")
    found_eps = float(hf.get(eps_key, eps))
    if not math.isclose(found_eps, eps, rel_tol=1e-6):
        raise _refuse(src, eps_key, found_eps, f"LayerNorm here uses epsilon {eps:g}")
    if model_type == "gpt2":
        positions = int(hf.get("n_positions", 1024))
        cfg = ModelConfig(arch="gpt", vocab_size=int(hf.get("vocab_size", 50257)),
                          n_layer=int(hf.get("n_layer", 12)), n_head=int(hf.get("n_head", 12)),
                          n_embd=int(width), block_size=positions, max_positions=positions,
                          dropout=float(hf.get("resid_pdrop", 0.1)),
                          activation=ACTIVATIONS[activation])
    else:
        positions = int(hf.get("max_position_embeddings", 512))
        cfg = ModelConfig(arch="bert", vocab_size=int(hf.get("vocab_size", 30522)),
                          n_layer=int(hf.get("num_hidden_layers", 12)),
                          n_head=int(hf.get("num_attention_heads", 12)), n_embd=int(width),
                          block_size=positions, max_positions=positions,
                          dropout=float(hf.get("hidden_dropout_prob", 0.1)),
                          type_vocab_size=int(hf.get("type_vocab_size", 2)),
                          activation=ACTIVATIONS[activation])
    try:
        cfg.validate()
    except UserError as exc:
        raise UserError(f"{src / HF_CONFIG}: {exc}", field="hf") from None
    return cfg, architecture


def read_weights(src: Path) -> dict[str, torch.Tensor]:
    """The folder's tensors: safetensors (one file or shards), else pytorch_model.bin read
    weights-only (a file with pickled code is refused before any of it runs)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    files: list[Path] = []
    if (src / SAFETENSORS).is_file():
        files = [src / SAFETENSORS]
    elif (src / SAFETENSORS_INDEX).is_file():
        try:
            index = json.loads((src / SAFETENSORS_INDEX).read_text(encoding="utf-8"))
            files = [src / f for f in sorted(set(index["weight_map"].values()))]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UserError(f"{src / SAFETENSORS_INDEX}: not a safetensors index.",
                            field="hf") from None
    if files:
        state: dict[str, torch.Tensor] = {}
        for f in files:
            try:
                state.update(load_file(str(f)))
            except (SafetensorError, OSError) as exc:
                raise UserError(f"{f}: unreadable safetensors file ({exc}).", field="hf") from None
        return state
    path = src / PYTORCH_BIN
    if not path.is_file():
        raise UserError(f"{src}: no weights ({SAFETENSORS} or {PYTORCH_BIN}).", field="hf")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, TypeError,
            ValueError) as exc:
        if "weights_only" in str(exc) or isinstance(exc, pickle.UnpicklingError):
            raise UserError(
                f"{path}: refused. It carries pickled Python objects beyond plain tensors, "
                "which could run code; nothing in it was executed. Use a model.safetensors "
                "copy of these weights.", field="hf") from None
        raise UserError(f"{path}: unreadable weights ({exc}).", field="hf") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise UserError(f"{path}: not a dictionary of tensors.", field="hf")
    return state


def read_tokenizer(transformers: Any, src: Path) -> HFTokenizer:
    """The folder's tokenizer as our `tokenizers` backend; its roles must be the ones
    transformers reads from tokenizer_config.json."""
    if not any((src / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(f"{src}: no tokenizer (tokenizer.json, vocab.json + merges.txt, or "
                        "vocab.txt); save the tokenizer into the model folder.", field="hf")
    try:
        fast = transformers.AutoTokenizer.from_pretrained(str(src), use_fast=True)
        backend = fast.backend_tokenizer
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{src}: cannot read its tokenizer ({first[:200]}).", field="hf") from None
    tok = HFTokenizer.from_tokenizer(backend, origin=str(src / "tokenizer.json"))
    for role, want in tok.roles.items():
        given = getattr(fast, f"{role}_token_id", None)
        if given is not None and given != want and role != "pad":
            raise UserError(f"{src}: its {role} token is {getattr(fast, f'{role}_token')!r}, "
                            f"a name this app does not read as {role}.", field="hf")
    return tok


def _our_state(src: Path, hf_state: dict[str, torch.Tensor], cfg: ModelConfig,
               notes: list[str]) -> torch.nn.Module:
    """Our model with the folder's weights; UserError when a tensor is missing or misshapen."""
    if cfg.arch == "llama":
        return llama_hf.llama_from_state(src, hf_state, cfg)
    model = build_model(cfg)
    if cfg.arch == "gpt":
        state = names.gpt_from_hf(hf_state)
        head, tied = "lm_head.weight", "transformer.wte.weight"
    else:
        state = names.bert_from_hf(hf_state)
        head, tied = "cls.predictions.decoder.weight", "embeddings.word_embeddings.weight"
    if head in state and tied in state and not torch.equal(state[head], state[tied]):
        raise UserError(f"{src}: its output embeddings are not tied to the input ones, as they "
                        "are here (tie_word_embeddings).", field="tie_word_embeddings")
    state.pop(head, None)
    own = model.state_dict()
    if cfg.arch == "bert" and not any(k.startswith(names.BERT_MLM_HEAD) for k in state):
        notes.append("the folder has no masked-LM head: it starts from random weights, so "
                     "fill-mask needs training first; fine-tuning uses the body alone")
        for k, v in own.items():
            if k.startswith(names.BERT_MLM_HEAD):
                state[k] = v
    state[head] = state[tied] if tied in state else own[head]
    check_weights(src, own, state)
    model.load_state_dict({k: state[k].float() for k in own}, strict=True)
    return model


def read_chat_template(src: Path) -> str | None:
    """The folder's chat template (chat_template.jinja, else tokenizer_config.json's
    "chat_template": a string, or the "default" of a list of named ones), None when none."""
    if (src / TEMPLATE_FILE).is_file():
        return (src / TEMPLATE_FILE).read_text(encoding="utf-8")
    try:
        value = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8")) \
            .get("chat_template")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, list):
        value = next((t.get("template") for t in value
                      if isinstance(t, dict) and t.get("name") == "default"), None)
    return value if isinstance(value, str) and value.strip() else None


def _preset_for(cfg: ModelConfig) -> str:
    """The preset whose training settings suit fine-tuning this model (by width)."""
    return "small" if cfg.n_embd >= PRESETS["small"]["model"]["n_embd"] else "tiny"


def import_hf(src: Path, out: Path, progress: Progress | None = None) -> ImportResult:
    """Make the run folder `out` (must not exist, or be empty) from the model folder `src`.

    Raises UserError, with nothing written, when `src` is not a GPT-2 / BERT folder, lacks
    weights or a tokenizer, holds pickled code, or uses an option not implemented here.
    """
    from ..util.versions import versions

    start = time.monotonic()
    report = progress or (lambda stage, done: None)
    src = hub.resolve_source(src, report)  # a folder, or a repo id: cached or downloaded
    report("reading the configuration", 0.0)
    hf = read_hf_config(src)
    llama_hf.refuse_custom_code(src, hf)
    cfg, architecture = model_config_from_hf(src, hf)
    transformers = require_transformers()
    tokenizer = read_tokenizer(transformers, src)
    if tokenizer.vocab_size > cfg.vocab_size:
        raise UserError(f"{src}: the tokenizer has {tokenizer.vocab_size} tokens but the model "
                        f"only {cfg.vocab_size} embeddings.", field="hf")
    report("reading the weights", 0.2)
    notes: list[str] = []
    llama_hf.check_shards(src, SAFETENSORS_INDEX)
    model = _our_state(src, read_weights(src), cfg, notes)
    objective = "mlm" if cfg.arch == "bert" else "clm"
    preset = _preset_for(cfg)
    run_cfg = RunConfig(objective=objective, preset=preset,
                        name=f"imported-{hf['model_type']}", model=cfg,
                        train=TrainConfig(**preset_part(preset, cfg.arch, "train")))
    run_cfg.validate()
    n_params = sum(p.numel() for p in model.parameters())
    report("writing the run", 0.6)
    with staged_folder(Path(out)) as tmp:
        (tmp / tokenizer.file_name).write_bytes(tokenizer.model_bytes)
        template = read_chat_template(src)
        if template is not None:  # a chat model: the Playground and `chat` apply it
            (tmp / TEMPLATE_FILE).write_text(template, encoding="utf-8")
        ckpt.save_weights(model, tmp / runs.WEIGHTS)
        runs.write_json(tmp, runs.CONFIG, {
            "run": run_cfg.to_dict(),
            "data": {"imported_from": str(src.resolve()), "hf_architecture": architecture,
                     "tokenizer_backend": tokenizer.backend,
                     "tokenizer_sha256": tokenizer.sha256, "tokenizer_kind": tokenizer.kind,
                     "notes": notes},
            "parameters": n_params,
            "versions": versions(),
        })
        runs.write_status(tmp, "completed", 0, None, imported=True)
    report("done", 1.0)
    return ImportResult(Path(out), architecture, objective, n_params, folder_bytes(Path(out)),
                        time.monotonic() - start, notes)
