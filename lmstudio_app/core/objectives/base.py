"""What every objective is to the one training loop, and what a run's set-up hands it.

An objective owns its batches and its loss, and knows how to evaluate and show a sample. The
trainer is the same for next-token prediction, masked-LM and the fine-tuning tasks; the optional
parts (validation scores beyond the loss, a sample, a test report) have defaults here, so the
trainer never asks an objective what it can do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data.tokenizer_base import BaseTokenizer as Tokenizer

Batch = tuple[torch.Tensor, ...]


class Objective:
    """The interface the trainer drives; one subclass per objective (one file each).

    `tokens_per_batch` is the number of token positions one batch feeds the model (B * T), for
    the tokens/s figure. `eval_batch_size` starts at batch_size; a job of N processes makes it
    N times that before the first evaluation (each process then scores every N-th batch), so
    it scores the very batches one process with the same global batch would.
    """

    tokens_per_batch: int = 0
    eval_batch_size: int = 0  # rows per validation batch (set by each objective)
    reports_on_test = False  # True: final_report() scores the best weights on a test split

    def next_batch(self) -> Batch:
        """The next training batch (CPU tensors), drawn from the objective's seeded stream."""
        raise NotImplementedError

    def draw(self, rows: int) -> Batch:
        """The next `rows` rows of the seeded stream as one batch (a step's global batch: the
        trainer gives each process and micro-batch its slice). This default joins whole
        next_batch() draws."""
        parts: list[Batch] = []
        while sum(len(p[0]) for p in parts) < rows:
            parts.append(self.next_batch())
        return tuple(torch.cat(ts)[:rows] for ts in zip(*parts, strict=True))

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The scalar training loss of `batch` (nats per predicted token, averaged)."""
        raise NotImplementedError

    def eval_batches(self) -> list[Batch]:
        """The fixed validation batches: the same ones at every evaluation."""
        raise NotImplementedError

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        """Validation figures beyond the loss (accuracy, F1, bits per character)."""
        return {}

    def sample(self, model: nn.Module) -> str | None:
        """A short text that shows the model at this evaluation (a generation, a filled mask)."""
        return None

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        """The finished model's scores on the test split (results.json), if reports_on_test."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The batch stream's position, saved in state.pt so a resumed run continues it."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


@dataclass
class Setup:
    """What a run trains: the model, its objective, the tokenizer, and what config.json records."""

    model: nn.Module
    objective: Objective
    tokenizer: Tokenizer
    data_info: dict[str, Any]
    lr_scale: Callable[[str], float] | None = None  # per parameter name; None: 1 everywhere
