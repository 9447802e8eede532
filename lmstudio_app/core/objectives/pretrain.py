"""Objectives: what the one training loop optimises.

An objective owns its batches and its loss, and knows how to evaluate and show a sample. The
trainer is the same for next-token prediction, masked-LM and (later) fine-tuning tasks: each is
an `Objective`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..config import RunConfig
from ..data.store import TokenStore
from ..data.tokenizer import Tokenizer
from ..errors import UserError
from ..models import build_model
from .batches import CausalBatches, MaskedBatches, MaskingSpec, fixed_eval_batches

Batch = tuple[torch.Tensor, ...]


class Objective(Protocol):
    tokens_per_batch: int

    def next_batch(self) -> Batch: ...

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor: ...

    def eval_batches(self) -> list[Batch]: ...

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]: ...

    def sample(self, model: nn.Module) -> str | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    # Optional: `final_report(model) -> dict` scores the finished model (a fine-tuning task's
    # test split); the trainer saves it as results.json.


class _PretrainObjective:
    """Shared parts of the two pretraining objectives: train and validation token streams."""

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, train: np.ndarray,
                 val: np.ndarray, val_chars: int, seed: int) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.val = val
        self.val_chars = val_chars
        self.seed = seed
        t = cfg.train
        self.tokens_per_batch = t.batch_size * cfg.model.block_size
        self._eval_cache: list[Batch] | None = None
        self.batches = self._make_batches(train, seed)

    def _make_batches(self, tokens: np.ndarray, seed: int) -> Any:
        raise NotImplementedError

    def next_batch(self) -> Batch:
        return self.batches.next()

    def state_dict(self) -> dict[str, Any]:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches.load_state_dict(state)


class CausalLM(_PretrainObjective):
    """Next-token prediction on random windows of the token stream."""

    def _make_batches(self, tokens: np.ndarray, seed: int) -> CausalBatches:
        return CausalBatches(tokens, self.cfg.model.block_size, self.cfg.train.batch_size, seed)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        return model(x, y)[1]

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            self._eval_cache = fixed_eval_batches(
                self.val, self.cfg.model.block_size, self.cfg.train.batch_size,
                self.cfg.train.eval_batches, seed=0,
            )
        return self._eval_cache

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        # Bits per character: the loss of the whole validation text, spread over its characters.
        if not self.val_chars or not len(self.val):
            return {}
        bpc = val_loss * (len(self.val) / self.val_chars) / math.log(2)
        return {"bits_per_char": bpc}

    def sample(self, model: nn.Module) -> str | None:
        prompt = self.cfg.train.sample_prompt
        if not prompt:
            return None
        from ..models.generate import generate

        with torch.random.fork_rng(devices=[]):
            pieces = generate(model, self.tokenizer, prompt,
                              max_new_tokens=self.cfg.train.sample_tokens,
                              temperature=0.8, top_k=50, top_p=None, seed=1234)
            return prompt + "".join(pieces)


class MaskedLM(_PretrainObjective):
    """Masked-LM: 15% of non-special tokens selected (80% mask, 10% random, 10% kept)."""

    def _make_batches(self, tokens: np.ndarray, seed: int) -> MaskedBatches:
        tok = self.tokenizer
        return MaskedBatches(
            tokens, self.cfg.model.block_size, self.cfg.train.batch_size, seed,
            mask_id=tok.mask_id, vocab_size=tok.vocab_size, special_ids=tok.special_ids,
            cls_id=tok.cls_id, sep_id=tok.sep_id, mask_prob=self.cfg.train.mask_prob,
        )

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        inputs, labels = batch
        return model(inputs, labels=labels)[1]

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            # The same masked windows, spread over the split, at every evaluation.
            tok = self.tokenizer
            spec = MaskingSpec(tok.mask_id, tok.vocab_size, tok.special_ids, tok.cls_id,
                               tok.sep_id, self.cfg.train.mask_prob)
            self._eval_cache = fixed_eval_batches(
                self.val, self.cfg.model.block_size, self.cfg.train.batch_size,
                self.cfg.train.eval_batches, seed=0, masking=spec,
            )
        return self._eval_cache

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        return {}

    def sample(self, model: nn.Module) -> str | None:
        """Fill one masked word of a fixed validation sentence: shows the model improving."""
        inputs, _ = self.eval_batches()[0]
        tok = self.tokenizer
        row = inputs[0].tolist()
        ids = [i for i in row if i not in tok.special_ids][:24]
        if len(ids) < 5:
            return None
        pos = len(ids) // 2
        left, answer, right = tok.decode(ids[:pos]), ids[pos], tok.decode(ids[pos + 1:])
        x = torch.tensor([[tok.cls_id, *ids[:pos], tok.mask_id, *ids[pos + 1:], tok.sep_id]])
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(x.to(device))[0][0, pos + 1].float()
        logits[list(tok.special_ids)] = -math.inf
        probs = torch.softmax(logits, -1)
        top = torch.topk(probs, 3)
        pairs = zip(top.values.tolist(), top.indices.tolist(), strict=True)
        guesses = ", ".join(f"{tok.id_to_piece(i)!r} {p:.2f}" for p, i in pairs)
        return f"{left}[MASK]{right}\n  -> {guesses} (truth {tok.id_to_piece(answer)!r})"


@dataclass
class Setup:
    """What a run trains: the model, its objective, the tokenizer, and what config.json records."""

    model: nn.Module
    objective: Objective
    tokenizer: Tokenizer
    data_info: dict[str, Any]
    lr_scale: Callable[[str], float] | None = None  # per parameter name; None: 1 everywhere


def build_pretrain_setup(cfg: RunConfig, run_dir: Path, resume: bool, seed: int) -> Setup:
    """The token store and tokenizer of cfg.data_dir, a fresh model, and its objective."""
    data_dir = Path(cfg.data_dir)
    store = TokenStore.open(data_dir / "tokens.h5")
    # A resumed run keeps the tokenizer it started with, even if the data folder changed.
    tok_path = run_dir / "tokenizer.model" if resume else data_dir / "tokenizer.model"
    tokenizer = Tokenizer.load(tok_path)
    if store.tokenizer_sha256 != tokenizer.sha256:
        raise UserError(
            f"{data_dir}: the token store was made with another tokenizer than {tok_path}. "
            "Run `lmstudio-app prepare` again for this data."
        )
    if tokenizer.vocab_size > cfg.model.vocab_size:
        raise UserError(
            f"vocab_size={cfg.model.vocab_size} is below the tokenizer's "
            f"{tokenizer.vocab_size} pieces: remove the vocab_size override."
        )
    model = build_model(cfg.model)
    kind = {"clm": CausalLM, "mlm": MaskedLM}[cfg.objective]
    objective = kind(cfg, tokenizer, store.tokens("train"), store.tokens("val"),
                     store.n_chars("val"), seed)
    info = {
        "data_dir": str(data_dir.resolve()),
        "tokenizer_sha256": tokenizer.sha256,
        "tokenizer_kind": tokenizer.kind,
        "train_tokens": store.n_tokens("train"),
        "val_tokens": store.n_tokens("val"),
        "sources": store.sources,
    }
    return Setup(model, objective, tokenizer, info)
