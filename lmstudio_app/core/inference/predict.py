"""Predictions from trained models: fill-the-mask, classification and question answering."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import UserError
from ..models.bert import Bert
from ..models.heads import reads_end_token
from ..objectives import task_class
from ..objectives.classify import classify_probs
from ..objectives.task import QAObjective, max_length
from .loading import LoadedRun, require_task

MASK_MARKER = "[MASK]"


def readable_piece(tokenizer: Any, i: int) -> str:
    """A piece as text: SentencePiece's word-boundary marker shown as the space it stands for."""
    piece: str = tokenizer.id_to_piece(i)
    return piece.replace("\u2581", " ")


def mask_input_ids(tokenizer: Any, text: str) -> tuple[list[int], int]:
    """[CLS] left [MASK] right [SEP] as ids, and the mask's position."""
    if text.count(MASK_MARKER) != 1:
        found = text.count(MASK_MARKER)
        raise UserError(
            f"the text holds {found} {MASK_MARKER} markers: write {MASK_MARKER} exactly once, "
            f"where the missing word goes (e.g. 'She was {MASK_MARKER} to see him.').",
            field="text")
    left, right = text.split(MASK_MARKER)
    # The tokenizer attaches a word's leading space to the word ("▁cat"), so the space before
    # the marker belongs to the masked piece, not to the text on its left.
    if left.endswith(" "):
        left = left[:-1]
    ids = [tokenizer.cls_id, *tokenizer.encode(left)]
    pos = len(ids)
    ids += [tokenizer.mask_id, *tokenizer.encode(right), tokenizer.sep_id]
    return ids, pos


def fill_mask(model: nn.Module, tokenizer: Any, text: str,
              top_k: int = 5) -> list[tuple[str, float]]:
    """The `top_k` likeliest pieces for the one "[MASK]" in `text`, with their probabilities.

    Special pieces are never proposed; the probabilities are renormalised without them.
    Raises TypeError when `model` is not a masked language model (Bert).
    """
    if not isinstance(model, Bert):
        raise TypeError(f"{type(model).__name__} cannot fill a mask: it is not a BERT")
    ids, pos = mask_input_ids(tokenizer, text)
    max_positions = model.config.max_positions
    if len(ids) > max_positions:
        raise UserError(
            f"the text is {len(ids)} tokens with its markers; this model reads at most "
            f"{max_positions}: shorten it.", field="text")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            x = torch.tensor([ids], dtype=torch.long, device=device)
            h = model.hidden_states(x)[0, pos]
            logits = model.cls(h).float()
            special = [i for i in tokenizer.special_ids if i < logits.numel()]
            logits[special] = float("-inf")
            probs = torch.softmax(logits, dim=-1)
            top = torch.topk(probs, min(top_k, logits.numel() - len(special)))
    finally:
        model.train(was_training)
    return [
        (readable_piece(tokenizer, i), p)
        for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]


def classify(loaded: LoadedRun, texts: list[str]) -> list[dict[str, Any]]:
    """For each text of a classify run: its label and the probability of every label."""
    ft = require_task(loaded, "classify")
    cfg = loaded.config
    if not texts:
        return []
    probs = classify_probs(loaded.model, loaded.tokenizer, list(texts), cfg.model.arch,
                           max_length(cfg), end_token=reads_end_token(cfg))
    out = []
    for p in probs:
        values = p.tolist()
        best = max(range(len(values)), key=values.__getitem__)
        out.append({"label": ft.labels[best],
                    "probabilities": dict(zip(ft.labels, values, strict=True))})
    return out


def answer(loaded: LoadedRun, question: str, context: str | None = None) -> dict[str, Any]:
    """The answer of a QA run: text and score; an extractive run adds its character start/end
    in `context` (which it needs)."""
    ft = require_task(loaded, "qa")
    if not question.strip():
        raise UserError("the question is empty; write a question.", field="question")
    cls = task_class(ft.task)
    assert issubclass(cls, QAObjective)
    return cls.answer(loaded.model, loaded.tokenizer, loaded.config, question, context)
