"""The tokenizer of a Hugging Face export: files that transformers 4.x and 5.x both load.

    tokenizer.json         the `tokenizers` pipeline giving our ids (spm_convert.py for ours,
                           an imported model's own otherwise), with the template the run's
                           inputs follow when special tokens are asked for (below)
    tokenizer_config.json  `tokenizer_class: PreTrainedTokenizerFast` (a class both versions
                           know; transformers 5 alone writes TokenizersBackend), the special
                           tokens by role and `model_input_names` (BERT's include
                           token_type_ids, so a plain call returns them).

A GPT classifier whose pad would be its end token (an imported GPT-2's one special token)
gets a pad token of its own (`EXTRA_PAD`, the next id; the model gets a zero embedding row for
it when it has none spare), so batched inputs find the end token before the padding.

Templates (single / pair):
    BERT bodies                       [CLS] A [SEP] / [CLS] A [SEP] B [SEP] (segments 0, 1)
    GPT extractive QA                 A / [CLS] A [SEP] B [SEP] (no segments: GPT-2 adds
                                      token_type_ids to its word embeddings)
    GPT classifier reading its end    A </s> / A B </s>
    token (pooling eos)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..data.hf_tokenizer import HFTokenizer, require_tokenizers
from ..data.tokenizer import Tokenizer
from ..data.tokenizer_base import BaseTokenizer
from ..models.heads import reads_end_token
from .spm_convert import ROLE_PIECES, spm_to_tokenizers, with_end_token, with_template

EXTRA_PAD = "<|pad|>"
TOKENIZER_CLASS = "PreTrainedTokenizerFast"
TOKENIZER_CONFIG = "tokenizer_config.json"


def roles(tokenizer: BaseTokenizer) -> dict[str, int]:
    """Role name -> id, for the roles the tokenizer has."""
    if isinstance(tokenizer, HFTokenizer):
        return tokenizer.roles
    return {role: tokenizer.piece_to_id(piece) for role, piece in ROLE_PIECES.items()}


def extra_pad_id(cfg: RunConfig, tokenizer: BaseTokenizer) -> int | None:
    """The id of the pad token an export adds (see the module doc), or None when it needs
    none."""
    r = roles(tokenizer)
    if reads_end_token(cfg) and r.get("pad") == r.get("eos"):
        return tokenizer.vocab_size
    return None


def export_roles(cfg: RunConfig, tokenizer: BaseTokenizer) -> dict[str, int]:
    """The role ids the exported config and tokenizer name (an added pad included)."""
    r = roles(tokenizer)
    pad = extra_pad_id(cfg, tokenizer)
    if pad is not None:
        r["pad"] = pad
    return r


def _templated(backend: Any, tokenizer: BaseTokenizer, cfg: RunConfig) -> Any:
    ft = cfg.finetune
    if isinstance(tokenizer, Tokenizer):
        cls, sep = ROLE_PIECES["cls"], ROLE_PIECES["sep"]
        ids = {cls: tokenizer.cls_id, sep: tokenizer.sep_id}
        if cfg.model.arch == "bert":
            return with_template(backend, f"{cls} $A {sep}", f"{cls} $A {sep} $B:1 {sep}:1", ids)
        if ft is not None and ft.spec.head == "span":
            return with_template(backend, "$A", f"{cls} $A {sep} $B {sep}", ids)
    if reads_end_token(cfg):
        return with_end_token(backend, tokenizer.id_to_piece(tokenizer.eos_id),
                              tokenizer.eos_id)
    return backend


def hf_tokenizer(transformers: Any, tokenizer: BaseTokenizer, cfg: RunConfig) -> Any:
    """transformers' fast tokenizer giving our ids, special tokens mapped to their roles."""
    if isinstance(tokenizer, Tokenizer):
        backend = spm_to_tokenizers(tokenizer)
    elif isinstance(tokenizer, HFTokenizer):
        backend = tokenizer.hf  # imported: its own pipeline, post-processor included
    else:
        raise TypeError(f"unknown tokenizer backend {type(tokenizer).__name__}")
    backend = _templated(backend, tokenizer, cfg)
    tokens = {f"{role}_token": tokenizer.id_to_piece(i) for role, i in roles(tokenizer).items()}
    pad = extra_pad_id(cfg, tokenizer)
    if pad is not None:
        tk = require_tokenizers()
        backend = tk.Tokenizer.from_str(backend.to_str())
        backend.add_special_tokens([tk.AddedToken(EXTRA_PAD, special=True, normalized=False)])
        if backend.token_to_id(EXTRA_PAD) != pad:
            raise RuntimeError(f"{EXTRA_PAD} took id {backend.token_to_id(EXTRA_PAD)}, not {pad}")
        tokens["pad_token"] = EXTRA_PAD
    bert = cfg.model.arch == "bert"
    names = ["input_ids", "token_type_ids", "attention_mask"] if bert else \
        ["input_ids", "attention_mask"]
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, model_max_length=cfg.model.max_positions,
        clean_up_tokenization_spaces=False, model_input_names=names, **tokens)


def save_tokenizer(hf_tok: Any, folder: Path) -> None:
    """Save `hf_tok` into `folder`, naming a tokenizer class transformers 4.x and 5.x know."""
    hf_tok.save_pretrained(folder)
    path = Path(folder) / TOKENIZER_CONFIG
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = TOKENIZER_CLASS
    if getattr(hf_tok, "chat_template", None):  # in the config too (transformers 4 reads it)
        config["chat_template"] = hf_tok.chat_template
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
