"""Extractive question answering (SQuAD-style, as BERT fine-tunes it): start and end logits
over the context tokens of "[CLS] question [SEP] context [SEP]" windows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import RunConfig
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..errors import UserError
from .base import Batch
from .encoding import best_span, pad_rows, qa_windows
from .task import QAObjective, device_of, finetune_of, max_length


class ExtractiveQAObjective(QAObjective):
    """Start/end cross-entropy over every window of every training example."""

    name = "qa-extractive"

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        rows = []
        for e in examples:
            span = (e.answer_start, e.answer_start + len(e.answer))
            rows += qa_windows(self.tok, e.question, e.context, self.max_length,
                               self.ft.stride, span)
        return rows

    def _collate(self, rows: list[Any]) -> Batch:
        ids, mask = pad_rows([w.ids for w in rows], self.tok.pad_id)
        types, _ = pad_rows([w.type_ids for w in rows], 0)
        starts = torch.tensor([w.start for w in rows], dtype=torch.long)
        ends = torch.tensor([w.end for w in rows], dtype=torch.long)
        return ids, mask, types, starts, ends

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        ids, mask, types, starts, ends = batch
        s, e = model(ids, mask, types)
        neg = torch.finfo(torch.float32).min
        s = s.float().masked_fill(mask == 0, neg)
        e = e.float().masked_fill(mask == 0, neg)
        return (F.cross_entropy(s, starts) + F.cross_entropy(e, ends)) / 2

    @classmethod
    def answer(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig, question: str,
               context: str | None) -> dict[str, Any]:
        if not context or not context.strip():
            raise UserError("an extractive QA run picks its answer from a context: give the "
                            "text that holds the answer.", field="context")
        return extract_answer(model, tokenizer, question, context, max_length(cfg),
                              finetune_of(cfg).stride)


@torch.no_grad()
def extract_answer(model: nn.Module, tokenizer: Tokenizer, question: str, context: str,
                   max_length: int, stride: int) -> dict[str, Any]:
    """The best answer span of `context`: its text, character start/end and score, where the
    score is P(start) * P(end) in the chosen window."""
    windows = qa_windows(tokenizer, question, context, max_length, stride)
    device = device_of(model)
    was_training = model.training
    model.eval()
    try:
        ids, mask = pad_rows([w.ids for w in windows], tokenizer.pad_id)
        types, _ = pad_rows([w.type_ids for w in windows], 0)
        s, e = model(ids.to(device), mask.to(device), types.to(device))
    finally:
        model.train(was_training)
    return best_span(windows, list(s.cpu()), list(e.cpu()), context)
