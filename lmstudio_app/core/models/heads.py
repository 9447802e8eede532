"""Task heads on a pretrained body: sequence classification and extractive question answering.

A head model holds the pretrained network as `body` and its new layer as `head`, so parameter
names read body.* / head.* and the body's names stay those of GPT-2 or BERT underneath. The
generative QA task needs no head: it fine-tunes the GPT itself.
"""

from __future__ import annotations

from typing import Protocol, cast

import torch
from torch import Tensor, nn

from ..config import ModelConfig, RunConfig
from . import build_model
from .bert import Bert
from .init import init_weights


class CausalBody(Protocol):
    """A decoder body (the GPT): hidden states (B, T, C) of token ids (B, T)."""

    def hidden_states(self, idx: Tensor) -> Tensor: ...


def body_config(body: nn.Module) -> ModelConfig:
    """The ModelConfig a body (or a head model around one) was built from; TypeError if none."""
    cfg = body.config
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"{type(body).__name__} has no model configuration")
    return cfg


def body_hidden_states(body: nn.Module, input_ids: Tensor, attention_mask: Tensor | None = None,
                       token_type_ids: Tensor | None = None) -> Tensor:
    """(B, T, C) final hidden states of a BERT body, or of a causal one (the GPT)."""
    if isinstance(body, Bert):
        return body.hidden_states(input_ids, attention_mask, token_type_ids)
    # A causal body: right padding never reaches the real tokens before it, so no mask. (A cast,
    # not an isinstance check of the protocol: this runs inside torch.compile's graph.)
    return cast(CausalBody, body).hidden_states(input_ids)


class SequenceClassifier(nn.Module):
    """A linear layer over a pooled representation: the last real token (GPT; with pooling
    "eos" that is the end token the inputs end with, GPT-1's extract token), [CLS] (BERT), or
    the mean of the real tokens (either)."""

    def __init__(self, body: nn.Module, n_labels: int, pooling: str) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
        self.body = body
        self.pooling = pooling
        self.config = body_config(body)
        self.head = nn.Linear(self.config.n_embd, n_labels)
        init_weights(self.head)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits (B, n_labels); attention_mask is 1 on tokens, 0 on right padding."""
        h = body_hidden_states(self.body, input_ids, attention_mask, None)
        if self.pooling == "cls":
            pooled = h[:, 0]
        elif self.pooling == "mean":
            weights = attention_mask.to(h.dtype).unsqueeze(-1)
            pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:  # last, eos: the last real token
            last = attention_mask.long().sum(dim=1).clamp(min=1) - 1
            pooled = h[torch.arange(h.shape[0], device=h.device), last]
        logits: Tensor = self.head(pooled)
        return logits


class SpanExtractor(nn.Module):
    """Start and end logits over the positions of a BERT or GPT body (SQuAD-style extractive QA;
    a GPT reads the question first, so every context position has seen it)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.config = body_config(body)
        self.head = nn.Linear(self.config.n_embd, 2)
        init_weights(self.head)

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(start_logits, end_logits), each (B, T)."""
        h = body_hidden_states(self.body, input_ids, attention_mask, token_type_ids)
        logits: Tensor = self.head(h)
        return logits[..., 0], logits[..., 1]


POOLINGS = ("last", "cls", "mean", "eos")


END_TOKEN_MIN_ROWS = 1000  # training rows from which a GPT classifier reads an end token


def default_pooling(arch: str, train_rows: int) -> str:
    """What a new classifier reads (pooling "auto", resolved when the run starts): [CLS] for
    a BERT body; for a GPT body, with at least END_TOKEN_MIN_ROWS training rows, an end token
    appended to each text (Radford et al., 2018, "Improving Language Understanding by
    Generative Pre-Training": the extract token), else the text's last token. The end token's
    state must be learned from the labels: on 1,802 tweets it gave the pretrained side +1
    point, on 405 bundled rows -3 (bench/results/finetune_defaults.md)."""
    if arch == "bert":
        return "cls"
    return "eos" if train_rows >= END_TOKEN_MIN_ROWS else "last"


def pooling_for(arch: str, requested: str = "auto") -> str:
    """The pooling a stored config means. `auto` is written out when a run starts
    (default_pooling); an `auto` still stored is a run made before that: the last real token
    for a GPT body, [CLS] for a BERT body."""
    if requested != "auto":
        return requested
    return "cls" if arch == "bert" else "last"


def reads_end_token(cfg: RunConfig) -> bool:
    """Whether a classify run's inputs end with the end token its head reads (pooling eos)."""
    ft = cfg.finetune
    return ft is not None and pooling_for(cfg.model.arch, ft.pooling) == "eos"


def build_task_model(cfg: RunConfig, body: nn.Module | None = None) -> nn.Module:
    """The network a fine-tuning run trains: its body (fresh unless given) plus the task's head."""
    ft = cfg.finetune
    if ft is None:
        raise ValueError("not a fine-tuning configuration")
    body = body if body is not None else build_model(cfg.model)
    head = ft.spec.head
    if head == "sequence-classification":
        return SequenceClassifier(body, max(len(ft.labels), 1),
                                  pooling_for(cfg.model.arch, ft.pooling))
    if head == "span":
        return SpanExtractor(body)
    return body  # no head: the task trains the language model itself
