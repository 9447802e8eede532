"""Sequence classification (sentiment and other labels): a linear head over a pooled body.

The head reads the last real token (GPT), [CLS] (BERT) or the mean of the real tokens; the loss
is cross-entropy over the classes, optionally weighted by inverse label frequency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import FinetuneConfig, RunConfig
from ..data import labeled
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..errors import UserError
from ..models.heads import reads_end_token
from . import scores
from .base import Batch
from .baselines import classification_baselines
from .encoding import classify_ids, pad_rows
from .task import TaskObjective, chunks, device_of, finetune_of, max_length

MAX_MISTAKES, MISTAKE_CHARS = 500, 300  # results.json keeps this many misclassified texts


class ClassifyObjective(TaskObjective):
    """Cross-entropy on the class of each text; accuracy and macro F1 on validation and test."""

    name = "classify"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: labeled.Split[Any],
                 seed: int) -> None:
        self.labels = list(finetune_of(cfg).labels)
        self.index = {name: k for k, name in enumerate(self.labels)}
        super().__init__(cfg, tokenizer, split, seed)
        self.weight: Tensor | None = None
        if self.ft.class_weights:
            self.weight = class_weights([e.label for e in split.train], self.labels)

    @classmethod
    def prepare(cls, ft: FinetuneConfig, split: labeled.Split[Any], resume: bool) -> None:
        """The classes are the training split's labels (kept as they were on resume)."""
        found = labeled.label_names(split.train)
        if resume and ft.labels and set(found) - set(ft.labels):
            raise UserError(f"{ft.train_file}: labels changed since the run started "
                            f"({', '.join(sorted(set(found) - set(ft.labels)))}).",
                            field="train_file")
        if not resume or not ft.labels:
            ft.labels = found
        if len(ft.labels) < 2:
            raise UserError(f"{ft.train_file}: classification needs at least two labels; the "
                            f"training data has {len(ft.labels)}.", field="label_col")

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        end = reads_end_token(self.cfg)
        return [(classify_ids(self.tok, e.text, self.cfg.model.arch, self.max_length, end),
                 self.index[e.label]) for e in examples if e.label in self.index]

    def _collate(self, rows: list[Any]) -> Batch:
        ids, mask = pad_rows([r[0] for r in rows], self.tok.pad_id)
        return ids, mask, torch.tensor([r[1] for r in rows], dtype=torch.long)

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        ids, mask, y = batch
        logits = model(ids, mask)
        w = self.weight.to(logits.device) if self.weight is not None else None
        return F.cross_entropy(logits.float(), y, weight=w)

    @classmethod
    def predict(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig,
                texts: Sequence[str]) -> list[str]:
        """The likeliest label of each text."""
        labels = finetune_of(cfg).labels
        probs = classify_probs(model, tokenizer, texts, cfg.model.arch, max_length(cfg),
                               end_token=reads_end_token(cfg))
        return [labels[int(p.argmax())] for p in probs]

    @classmethod
    def score_examples(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig,
                       examples: Sequence[Any]) -> dict[str, Any]:
        labels = finetune_of(cfg).labels
        pred = cls.predict(model, tokenizer, cfg, [e.text for e in examples])
        truth = [e.label for e in examples]
        out = scores.classification_report(truth, pred, labels)
        unknown = sorted(set(truth) - set(labels))
        if unknown:
            out["unknown_labels"] = unknown
        return out

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        test = self.split.test
        pred = self.predict(model, self.tok, self.cfg, [e.text for e in test])
        report = scores.classification_report([e.label for e in test], pred, self.labels)
        # The misclassified test texts (a bounded few), for a confusion matrix to show by cell.
        mistakes = [{"text": e.text[:MISTAKE_CHARS], "label": e.label, "predicted": p}
                    for e, p in zip(test, pred, strict=True) if p != e.label][:MAX_MISTAKES]
        return {"task": self.name, **report, "loss": self._test_loss(model),
                "mistakes": mistakes,
                "baselines": classification_baselines(self.split.train, self.split.val, test)}


def class_weights(train_labels: Sequence[str], labels: Sequence[str]) -> Tensor:
    """Inverse label frequency (n_labels,), scaled so a balanced set weighs 1 per class."""
    counts = Counter(train_labels)
    n, k = len(train_labels), len(labels)
    return torch.tensor([n / (k * counts[name]) if counts[name] else 0.0 for name in labels],
                        dtype=torch.float32)


@torch.no_grad()
def classify_probs(model: nn.Module, tokenizer: Tokenizer, texts: Sequence[str], arch: str,
                   max_length: int, batch_size: int = 32, end_token: bool = False
                   ) -> list[Tensor]:
    """Class probabilities, a (n_labels,) tensor for each text, in eval mode; `end_token`:
    the inputs end with eos (a pooling-eos run, reads_end_token)."""
    device = device_of(model)
    was_training = model.training
    model.eval()
    out: list[Tensor] = []
    try:
        for r in chunks(len(texts), batch_size):
            ids, mask = pad_rows([classify_ids(tokenizer, texts[i], arch, max_length,
                                               end_token) for i in r], tokenizer.pad_id)
            logits = model(ids.to(device), mask.to(device)).float()
            out += list(torch.softmax(logits, dim=-1).cpu())
    finally:
        model.train(was_training)
    return out
