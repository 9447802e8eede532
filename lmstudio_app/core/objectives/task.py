"""What the fine-tuning tasks share: labeled rows in shuffled epochs, fixed validation batches,
the test report, and the QA tasks' exact match and F1 (SQuAD's scoring).

Batches are drawn from a private torch.Generator saved with the run, so a resumed fine-tune
continues as if it had never stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import FinetuneConfig, RunConfig
from ..data import labeled
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..errors import UserError
from . import scores
from .base import Batch, Objective
from .batches import ShuffledBatches


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def chunks(n: int, size: int) -> list[range]:
    """[0, n) in consecutive ranges of at most `size`."""
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


class TaskObjective(Objective):
    """A labeled task: encode examples to rows, collate rows to batches, score on a split.

    Subclasses give `_encode(examples) -> rows`, `_collate(rows) -> Batch`, `loss` and
    `score_examples`.
    """

    name = ""
    reports_on_test = True

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: labeled.Split[Any],
                 seed: int, **extras: Any) -> None:
        self.cfg = cfg
        self.ft: FinetuneConfig = finetune_of(cfg)
        self.tok = tokenizer
        self.split = split
        self.max_length = max_length(cfg)
        self.batch_size = cfg.train.batch_size
        self.tokens_per_batch = self.batch_size * self.max_length
        self.eval_batch_size = self.batch_size
        self._eval_cache: list[Batch] | None = None
        self.rows = self._encode(split.train)
        if not self.rows:
            raise UserError(f"{self.ft.train_file}: no training examples left to learn from.",
                            field="train_file")
        self.batches = ShuffledBatches(len(self.rows), self.batch_size, seed)

    @classmethod
    def prepare(cls, ft: FinetuneConfig, split: labeled.Split[Any], resume: bool) -> None:
        """Settle what the task learns from the data before the model is built (the classes)."""

    @classmethod
    def adapt(cls, cfg: RunConfig, tokenizer: Tokenizer, run_dir: Path,
              resume: bool) -> tuple[Tokenizer, dict[str, Any]]:
        """The tokenizer the task trains with (a chat task adds its turn markers) and what its
        data loading ("check": a row filter) and its constructor (the other keys) need."""
        return tokenizer, {}

    def write_files(self, run_dir: Path) -> None:
        """Files of the task beside the run's config (a chat template)."""

    def info(self) -> dict[str, Any]:
        """What config.json's data section records of the task beyond the common facts."""
        return {}

    @classmethod
    def score_examples(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig,
                       examples: Sequence[Any]) -> dict[str, Any]:
        """The task's scores of `model` on labeled examples (the same as its test report)."""
        raise NotImplementedError

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def _collate(self, rows: list[Any]) -> Batch:
        raise NotImplementedError

    def next_batch(self) -> Batch:
        return self.draw(self.batch_size)

    def draw(self, rows: int) -> Batch:
        return self._collate([self.rows[i] for i in self.batches.next(rows)])

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            rows = self._encode(self.split.val) or self.rows[: self.batch_size]
            self._eval_cache = [self._collate([rows[i] for i in r])
                                for r in chunks(len(rows), self.eval_batch_size)]
        return self._eval_cache

    def state_dict(self) -> dict[str, Any]:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches.load_state_dict(state)

    def _test_loss(self, model: nn.Module) -> float:
        rows = self._encode(self.split.test)
        if not rows:
            return float("nan")
        device = device_of(model)
        total, n = 0.0, 0
        for r in chunks(len(rows), self.batch_size):
            batch = tuple(b.to(device) for b in self._collate([rows[i] for i in r]))
            total += float(self.loss(model, batch)) * len(r)
            n += len(r)
        return total / n

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        if not self.split.val:
            return {}
        report = self.score_examples(model, self.tok, self.cfg, self.split.val)
        return {k: v for k, v in report.items() if k in _VAL_KEYS}

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        report = self.score_examples(model, self.tok, self.cfg, self.split.test)
        return {"task": self.name, **report, "loss": self._test_loss(model)}


_VAL_KEYS = ("accuracy", "macro_f1", "exact_match", "f1")


class NextTokenRows:
    """Rows of (inputs, targets) for the language model itself (no head): padded on the right
    (inputs with the pad id, targets with -100) and scored by its next-token loss."""

    tok: Tokenizer

    def _collate(self, rows: list[Any]) -> Batch:
        from .batches import IGNORE
        from .encoding import pad_rows

        x, _ = pad_rows([r[0] for r in rows], self.tok.pad_id)
        y, _ = pad_rows([r[1] for r in rows], IGNORE)
        return x, y

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        loss: torch.Tensor = model(x, y)[1]
        return loss


def finetune_of(cfg: RunConfig) -> FinetuneConfig:
    """The fine-tuning section of a task's config; ValueError for a pretraining config."""
    if cfg.finetune is None:
        raise ValueError("a task objective needs a fine-tuning configuration")
    return cfg.finetune


def max_length(cfg: RunConfig) -> int:
    """Tokens per example: the fine-tune's max_length, else the model's block_size."""
    ft = cfg.finetune
    return (ft.max_length if ft is not None and ft.max_length else 0) or cfg.model.block_size


class QAObjective(TaskObjective):
    """Question answering scored by exact match and token F1 (SQuAD's normalisation)."""

    @classmethod
    def answer(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig, question: str,
               context: str | None) -> dict[str, Any]:
        """{"answer": text, "score": confidence in [0, 1]}; extractive tasks add the answer's
        character "start" and "end" in `context`."""
        raise NotImplementedError

    @classmethod
    def score_examples(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig,
                       examples: Sequence[Any]) -> dict[str, Any]:
        preds = [cls.answer(model, tokenizer, cfg, e.question, e.context)["answer"]
                 for e in examples]
        return scores.qa_report(preds, [e.answer for e in examples])
