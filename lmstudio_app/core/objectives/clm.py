"""Causal language modelling (GPT): predict each next token of random windows of the corpus."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .base import Batch
from .batches import CausalBatches, fixed_eval_batches
from .pretrain import LanguageModelObjective


class CausalLM(LanguageModelObjective):
    """Next-token cross-entropy on (B, T) windows; validation also in bits per character and
    bits per byte (val_loss in nats per token × tokens / (ln 2 × characters or bytes))."""

    name = "clm"
    window_extra = 1  # a window and its targets, shifted by one

    def _make_batches(self, tokens: np.ndarray, seed: int) -> CausalBatches:
        return CausalBatches(tokens, self.cfg.model.block_size, self.cfg.train.batch_size, seed)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x, y = batch
        loss: torch.Tensor = model(x, y)[1]
        return loss

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            self._eval_cache = list(fixed_eval_batches(
                self.val, self.cfg.model.block_size, self.eval_batch_size,
                self.cfg.train.eval_batches, seed=0,
            ))
        return self._eval_cache

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        # Bits per character: the loss of the whole validation text, spread over its characters.
        if not self.val_chars or not len(self.val):
            return {}
        nats = val_loss * len(self.val)  # the validation text's loss, in nats
        out = {"bits_per_char": nats / self.val_chars / math.log(2)}
        n_bytes = self.val_bytes()
        if n_bytes:  # bits per byte: comparable across tokenizers (nanochat's val_bpb)
            out["val_bpb"] = nats / n_bytes / math.log(2)
        return out

    def sample(self, model: nn.Module) -> str | None:
        """A short generation from the configured prompt (temperature 0.8, top-k 50, seeded)."""
        prompt = self.cfg.train.sample_prompt
        if not prompt:
            return None
        from ..models.generate import generate

        with torch.random.fork_rng(devices=[]):
            pieces = generate(model, self.tokenizer, prompt,
                              max_new_tokens=self.cfg.train.sample_tokens,
                              temperature=0.8, top_k=50, top_p=None, seed=1234)
            return prompt + "".join(pieces)
