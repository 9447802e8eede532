"""Export a run as a Hugging Face folder that transformers loads with its own classes.

    clm, qa-generative          GPT2LMHeadModel
    mlm                         BertForMaskedLM
    classify on a GPT body      GPT2ForSequenceClassification (last real token, as ours; with
                                pooling eos the tokenizer appends the end token, as ours)
    classify on a BERT body     BertForSequenceClassification ([CLS], as ours; see below)
    qa-extractive on a BERT     BertForQuestionAnswering
    qa-extractive on a GPT      GPT2ForQuestionAnswering

The folder is written with transformers' own config and model classes (`save_pretrained`:
config.json, model.safetensors), the tokenizer with its fast tokenizer class (tokenizer.json,
tokenizer_config.json; hf_vocab.py), so `AutoTokenizer` / `AutoModelFor...` of transformers
4.x and 5.x load it, and a model card (README.md; model_card.py).

Two heads differ in form from transformers' while computing the same function:
- GPT2ForSequenceClassification's `score` has no bias. Ours has one; it moves into the final
  LayerNorm's bias, which feeds only the score: b_ln' = b_ln + pinv(W) b, so W b_ln' =
  W b_ln + b exactly when W (n_labels, n_embd) has full row rank (checked; refused otherwise).
- BertForSequenceClassification passes [CLS] through a pooler, tanh(W_p h + b_p), that our
  head lacks. The pooler is set to eps * I and the classifier to W / eps: tanh(eps h) / eps
  = h (1 - (eps h)^2 / 3 + ...). The final LayerNorm bounds |h| <= M = max|gamma| *
  sqrt(n_embd - 1) + max|beta|, and eps = 1e-3 / M keeps the relative error under 4e-7, within
  float32 rounding. Fine-tuning the export further in transformers starts from that pooler.
Mean pooling, and a pooling that differs from transformers' for that body, are refused.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import RunConfig
from ..data.tokenizer_base import BaseTokenizer
from ..errors import UserError
from ..inference.chat import chat_format_of
from ..inference.loading import load_run
from ..models.heads import pooling_for
from . import llama_hf, names
from .chat_export import hf_chat
from .hf_vocab import export_roles, extra_pad_id, hf_tokenizer, save_tokenizer
from .model_card import model_card
from .staging import Progress, folder_bytes, require_transformers, staged_folder

GPT_LN_EPS = 1e-5  # nn.LayerNorm's default, which our GPT uses; GPT-2's layer_norm_epsilon
BERT_LN_EPS = 1e-12
POOLER_ERROR = 1e-3  # eps * M: the pooler's tanh works at this fraction of its linear range


@dataclass
class ExportResult:
    out: Path
    architecture: str  # the transformers class written
    bytes: int
    seconds: float


def hf_architecture(cfg: RunConfig) -> str:
    """The transformers class a run becomes; UserError when its head has no equivalent."""
    arch = cfg.model.arch
    ft = cfg.finetune
    head = ft.spec.head if ft is not None else None
    if head is None:
        return "GPT2LMHeadModel" if arch == "gpt" else "BertForMaskedLM"
    if head == "span":
        return "GPT2ForQuestionAnswering" if arch == "gpt" else "BertForQuestionAnswering"
    assert ft is not None
    pooling = pooling_for(arch, ft.pooling)
    wanted = "eos" if arch == "gpt" else "cls"
    if pooling != wanted and not (arch == "gpt" and pooling == "last"):
        cls = "GPT2ForSequenceClassification" if arch == "gpt" else \
            "BertForSequenceClassification"
        reads = "the last real token" if arch == "gpt" else "[CLS]"
        raise UserError(
            f"pooling={pooling} has no Hugging Face equivalent: {cls} reads {reads}. "
            f"Fine-tune with pooling {wanted} (auto) to export this classifier.",
            field="pooling", option=wanted)
    return "GPT2ForSequenceClassification" if arch == "gpt" else "BertForSequenceClassification"


def hf_config(transformers: Any, cfg: RunConfig, tokenizer: BaseTokenizer,
              architecture: str) -> Any:
    """transformers' GPT2Config or BertConfig for the run's model (with one more embedding row
    when the export adds a pad token past the model's vocabulary: hf_vocab.py)."""
    m = cfg.model
    roles = export_roles(cfg, tokenizer)
    vocab_size = max(m.vocab_size, roles["pad"] + 1) if "pad" in roles else m.vocab_size
    labels: dict[str, Any] = {}
    if cfg.finetune is not None and cfg.finetune.spec.family == "classify":
        names_ = list(cfg.finetune.labels)
        labels = {"id2label": dict(enumerate(names_)),
                  "label2id": {n: i for i, n in enumerate(names_)}}
    if m.arch == "gpt":
        return transformers.GPT2Config(
            vocab_size=vocab_size, n_positions=m.max_positions, n_embd=m.n_embd,
            n_layer=m.n_layer, n_head=m.n_head, n_inner=None, activation_function=m.activation,
            resid_pdrop=m.dropout, embd_pdrop=m.dropout, attn_pdrop=m.dropout,
            layer_norm_epsilon=GPT_LN_EPS, bos_token_id=roles.get("bos"),
            eos_token_id=roles.get("eos"), pad_token_id=roles.get("pad"),
            tie_word_embeddings=True, architectures=[architecture], **labels)
    return transformers.BertConfig(
        vocab_size=m.vocab_size, hidden_size=m.n_embd, num_hidden_layers=m.n_layer,
        num_attention_heads=m.n_head, intermediate_size=4 * m.n_embd, hidden_act=m.activation,
        hidden_dropout_prob=m.dropout, attention_probs_dropout_prob=m.dropout,
        max_position_embeddings=m.max_positions, type_vocab_size=m.type_vocab_size,
        layer_norm_eps=BERT_LN_EPS, pad_token_id=roles.get("pad"),
        tie_word_embeddings=True, architectures=[architecture], **labels)


def _fold_bias_into_ln_f(state: dict[str, torch.Tensor], weight: torch.Tensor,
                         bias: torch.Tensor) -> None:
    """Move a score bias b into ln_f's bias: b_ln' = b_ln + pinv(W) b (see the module doc)."""
    w = weight.double()
    key = "transformer.ln_f.bias"
    ln_bias = state[key].double()
    shifted = ln_bias + torch.linalg.pinv(w) @ bias.double()
    error = (w @ shifted - w @ ln_bias - bias.double()).abs().max().item()
    if error > 1e-6 * (1.0 + bias.abs().max().item()):
        raise UserError(
            f"this classifier's bias cannot be carried by GPT2ForSequenceClassification, whose "
            f"score has none ({weight.shape[0]} labels on a width of {weight.shape[1]}).",
            field="run")
    state[key] = shifted.to(state[key].dtype)


def _linear_pooler(state: dict[str, torch.Tensor], body: nn.Module, weight: torch.Tensor,
                   bias: torch.Tensor) -> None:
    """pooler = eps * I, classifier = W / eps, so classifier(pooler(h)) = W h + b (module doc)."""
    ln = body.encoder.layer[-1].output.LayerNorm  # type: ignore[union-attr,index]
    n = weight.shape[1]
    gamma = ln.weight.detach().abs().max().item()
    beta = ln.bias.detach().abs().max().item() if ln.bias is not None else 0.0
    bound = gamma * math.sqrt(max(n - 1, 1)) + beta
    eps = POOLER_ERROR / max(bound, 1e-6)
    state["bert.pooler.dense.weight"] = torch.eye(n, dtype=weight.dtype) * eps
    state["bert.pooler.dense.bias"] = torch.zeros(n, dtype=weight.dtype)
    state["classifier.weight"] = weight / eps
    state["classifier.bias"] = bias.clone()


# Tensors transformers ties to another (loaded through that one).
_TIED = frozenset({"lm_head.weight", "cls.predictions.decoder.weight",
                   "cls.predictions.decoder.bias"})


def _complete_biases(state: dict[str, torch.Tensor], hf_model: nn.Module) -> None:
    """A model trained with bias=False gets zero biases (transformers' GPT-2 and BERT always
    have them): the same function."""
    for name, p in hf_model.state_dict().items():
        if name not in state and name.endswith(".bias") and name not in _TIED:
            state[name] = torch.zeros_like(p)


def hf_state_dict(model: nn.Module, cfg: RunConfig, architecture: str) -> dict[str, torch.Tensor]:
    """Our model's weights under the names (and layout) of `architecture`."""
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    if architecture in ("GPT2LMHeadModel",):
        return names.gpt_to_hf(sd)
    if architecture == "BertForMaskedLM":
        return names.bert_to_hf(sd, with_mlm_head=True)
    body = {k.removeprefix("body."): v for k, v in sd.items() if k.startswith("body.")}
    weight, bias = sd["head.weight"], sd["head.bias"]
    if architecture == "GPT2ForSequenceClassification":
        out = names.gpt_to_hf(body)
        out["score.weight"] = weight.clone()
        if "transformer.ln_f.bias" not in out:
            out["transformer.ln_f.bias"] = torch.zeros(cfg.model.n_embd)
        _fold_bias_into_ln_f(out, weight, bias)
        return out
    if architecture == "GPT2ForQuestionAnswering":
        out = names.gpt_to_hf(body)
        out["qa_outputs.weight"], out["qa_outputs.bias"] = weight.clone(), bias.clone()
        return out
    out = names.bert_to_hf(body, with_mlm_head=False)
    if architecture == "BertForQuestionAnswering":
        out["qa_outputs.weight"], out["qa_outputs.bias"] = weight.clone(), bias.clone()
        return out
    _linear_pooler(out, model.body, weight, bias)  # type: ignore[arg-type]
    return out


def build_hf_model(transformers: Any, model: nn.Module, cfg: RunConfig,
                   tokenizer: BaseTokenizer) -> Any:
    """The transformers model equal to ours, in eval mode (a UserError for heads it lacks)."""
    if cfg.model.arch == "llama":  # Llama, Qwen2, Qwen3: llama_hf.py
        return llama_hf.build_hf_llama(transformers, model, cfg,
                                        export_roles(cfg, tokenizer))
    architecture = hf_architecture(cfg)
    config = hf_config(transformers, cfg, tokenizer, architecture)
    hf_model = getattr(transformers, architecture)(config)
    state = hf_state_dict(model, cfg, architecture)
    wte = "transformer.wte.weight"
    if extra_pad_id(cfg, tokenizer) is not None and wte in state:
        rows = config.vocab_size - state[wte].shape[0]  # a zero row for the added pad
        state[wte] = torch.cat([state[wte], state[wte].new_zeros(rows, state[wte].shape[1])])
    _complete_biases(state, hf_model)
    missing, unexpected = hf_model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - _TIED:
        raise RuntimeError(f"{architecture}: weights do not match (missing "
                           f"{sorted(set(missing) - _TIED)[:3]}, unexpected {unexpected[:3]})")
    return hf_model.eval()


def export_hf(run_dir: Path, out: Path, checkpoint: str = "best",
              progress: Progress | None = None, license_: str = "other") -> ExportResult:
    """Write the run `run_dir` as a Hugging Face folder `out` (must not exist, or be empty).

    Raises UserError when transformers is missing, the run has no weights or its head has no
    transformers equivalent; nothing is written then.
    """
    start = time.monotonic()
    report = progress or (lambda stage, done: None)
    transformers = require_transformers()
    report("loading the run", 0.0)
    loaded = load_run(Path(run_dir), checkpoint, "cpu")
    report("converting the weights", 0.3)
    hf_model = build_hf_model(transformers, loaded.model, loaded.config, loaded.tokenizer)
    hf_tok = hf_tokenizer(transformers, loaded.tokenizer, loaded.config)
    hf_chat(hf_model, hf_tok, chat_format_of(Path(run_dir), loaded.tokenizer), loaded.tokenizer)
    report("writing", 0.6)
    card = model_card(Path(run_dir), loaded.config, type(hf_model).__name__,
                      sum(p.numel() for p in loaded.model.parameters()),
                      loaded.tokenizer.kind, loaded.tokenizer.vocab_size, license_)
    with staged_folder(Path(out)) as tmp:
        hf_model.save_pretrained(tmp, safe_serialization=True)
        save_tokenizer(hf_tok, tmp)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    report("done", 1.0)
    return ExportResult(Path(out), type(hf_model).__name__, folder_bytes(Path(out)),
                        time.monotonic() - start)
