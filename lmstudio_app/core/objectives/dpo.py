"""Direct Preference Optimization: the causal LM learns to prefer the chosen answer to the
rejected one, relative to the frozen model it started from.

Reference: Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is
Secretly a Reward Model"; the loss and metrics follow TRL's DPOTrainer with its default
`loss_type="sigmoid"`:

    logits = (log pi(y_w|x) - log pi(y_l|x)) - (log ref(y_w|x) - log ref(y_l|x))
    loss   = -log sigmoid(beta * logits)
    rewards/chosen   = beta * (log pi(y_w|x) - log ref(y_w|x)), likewise rewards/rejected,
    rewards/accuracies = share of pairs with rewards/chosen > rewards/rejected,
    rewards/margins  = mean of rewards/chosen - rewards/rejected,

log-probabilities summed over the answer's tokens (and its end piece). The reference is the
starting model: with LoRA the same network with its adapters disabled (PEFT's
`disable_adapter()`: no second copy), otherwise a frozen copy of the base run's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import RunConfig
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..models import build_model
from ..models.lora import is_adapted
from ..runs import checkpoint as ckpt
from ..runs.weights import weights_path
from .base import Batch
from .batches import IGNORE
from .encoding import generative_rows, pad_rows
from .task import TaskObjective, chunks, device_of, finetune_of, max_length

REWARD_KEYS = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")


def answer_logps(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """(B,) summed log-probabilities of the target tokens `y` (B, T; IGNORE elsewhere) after
    the inputs `x` (B, T)."""
    out = model(x)
    logits = (out[0] if isinstance(out, tuple) else out).float()
    mask = y != IGNORE
    picked = torch.log_softmax(logits, dim=-1).gather(-1, y.clamp(min=0).unsqueeze(-1))
    return (picked.squeeze(-1) * mask).sum(dim=-1)


class Reference:
    """The frozen starting policy's log-probabilities (no gradients)."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.model: nn.Module | None = None

    def _frozen(self, device: torch.device) -> nn.Module:
        if self.model is None:
            model = build_model(self.cfg.model)
            ckpt.load_weights(model, weights_path(Path(finetune_of(self.cfg).base_run), "best",
                                                  field="base_run"))
            self.model = model.to(device).eval().requires_grad_(False)
        return self.model

    @torch.no_grad()
    def logps(self, policy: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        inner = getattr(policy, "module", policy)  # DDP's wrapper
        if is_adapted(inner):
            with inner.disable_adapter():  # type: ignore[operator]
                return answer_logps(policy, x, y)
        return answer_logps(self._frozen(x.device), x, y)


def dpo_terms(policy: Tensor, reference: Tensor, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """From (2B,) log-probabilities, chosen first then rejected: the (B,) losses and the (B,)
    chosen and rejected rewards (detached)."""
    pc, pr = policy.chunk(2)
    rc, rr = reference.chunk(2)
    losses = -F.logsigmoid(beta * ((pc - pr) - (rc - rr)))
    return losses, beta * (pc - rc).detach(), beta * (pr - rr).detach()


def reward_figures(chosen: Tensor, rejected: Tensor) -> dict[str, float]:
    """TRL's reward metrics of (N,) chosen and rejected rewards."""
    return {"rewards/chosen": float(chosen.mean()), "rewards/rejected": float(rejected.mean()),
            "rewards/accuracies": float((chosen > rejected).float().mean()),
            "rewards/margins": float((chosen - rejected).mean())}


class DPOObjective(TaskObjective):
    """Sigmoid DPO loss on prompt / chosen / rejected rows (TRL's default)."""

    name = "dpo"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: Any, seed: int) -> None:
        self.reference = Reference(cfg)
        super().__init__(cfg, tokenizer, split, seed)

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        return encode_pairs(self.tok, examples, self.max_length)

    def _collate(self, rows: list[Any]) -> Batch:
        return collate_pairs(rows, self.tok.pad_id)

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        x, y = flat_pairs(batch)
        losses, _, _ = dpo_terms(answer_logps(model, x, y),
                                 self.reference.logps(model, x, y), self.ft.beta)
        return losses.mean()

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        if not self.split.val:
            return {}
        scores = self._scores(model, self._encode(self.split.val))
        scores.pop("loss")  # the validation loss itself, recorded beside
        return scores

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        rows = self._encode(self.split.test)
        return {"task": self.name, "n": len(rows), **(self._scores(model, rows) if rows else {})}

    @torch.no_grad()
    def _scores(self, model: nn.Module, rows: list[Any]) -> dict[str, float]:
        device = device_of(model)
        chosen, rejected, losses = [], [], []
        for r in chunks(len(rows), self.batch_size):
            x, y = (t.to(device) for t in flat_pairs(self._collate([rows[i] for i in r])))
            loss, c, w = dpo_terms(answer_logps(model, x, y), self.reference.logps(model, x, y),
                                   self.ft.beta)
            chosen.append(c)
            rejected.append(w)
            losses.append(loss)
        return {**reward_figures(torch.cat(chosen), torch.cat(rejected)),
                "loss": float(torch.cat(losses).mean())}

    @classmethod
    def score_examples(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig,
                       examples: Sequence[Any]) -> dict[str, Any]:
        rows = encode_pairs(tokenizer, examples, max_length(cfg))
        scorer = cls.__new__(cls)
        scorer.reference, scorer.ft, scorer.tok = Reference(cfg), finetune_of(cfg), tokenizer
        scorer.batch_size = cfg.train.batch_size
        return scorer._scores(model, rows)


def encode_pairs(tokenizer: Tokenizer, examples: Sequence[Any], max_length: int) -> list[Any]:
    """Per pair: the chosen and the rejected (inputs, targets), targets on the answer only."""
    return [(generative_rows(tokenizer, e.prompt, e.chosen, max_length),
             generative_rows(tokenizer, e.prompt, e.rejected, max_length)) for e in examples]


def collate_pairs(rows: list[Any], pad_id: int) -> Batch:
    """(x, y), each (B, 2, T): per pair its chosen then its rejected row, padded on the right
    (a batch's rows stay pairs however the trainer slices them)."""
    pairs = [p for r in rows for p in r]
    x, _ = pad_rows([p[0] for p in pairs], pad_id)
    y, _ = pad_rows([p[1] for p in pairs], IGNORE)
    return x.view(len(rows), 2, -1), y.view(len(rows), 2, -1)


def flat_pairs(batch: Batch) -> tuple[Tensor, Tensor]:
    """(x, y) of a (B, 2, T) batch as (2B, T): the B chosen rows first, then the rejected."""
    x, y = batch
    return x.transpose(0, 1).reshape(-1, x.shape[-1]), y.transpose(0, 1).reshape(-1, y.shape[-1])
