"""Masked language modelling (BERT, Devlin et al. 2019): recover selected tokens of a window.

15% of the non-special tokens are selected; of those 80% become [MASK], 10% a random token and
10% stay, and the loss is the cross-entropy on the selected positions only.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .base import Batch
from .batches import MaskedBatches, MaskingSpec, fixed_eval_batches
from .pretrain import LanguageModelObjective


class MaskedLM(LanguageModelObjective):
    """Masked-LM on [CLS] window [SEP] rows of the token stream."""

    name = "mlm"
    window_extra = -2  # a row is [CLS] + block_size - 2 tokens + [SEP]

    def _make_batches(self, tokens: np.ndarray, seed: int) -> MaskedBatches:
        tok = self.tokenizer
        return MaskedBatches(
            tokens, self.cfg.model.block_size, self.cfg.train.batch_size, seed,
            mask_id=tok.mask_id, vocab_size=tok.vocab_size, special_ids=tok.special_ids,
            cls_id=tok.cls_id, sep_id=tok.sep_id, mask_prob=self.cfg.train.mask_prob,
        )

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        inputs, labels = batch
        loss: torch.Tensor = model(inputs, labels=labels)[1]
        return loss

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            # The same masked windows, spread over the split, at every evaluation.
            tok = self.tokenizer
            spec = MaskingSpec(tok.mask_id, tok.vocab_size, tok.special_ids, tok.cls_id,
                               tok.sep_id, self.cfg.train.mask_prob)
            self._eval_cache = list(fixed_eval_batches(
                self.val, self.cfg.model.block_size, self.eval_batch_size,
                self.cfg.train.eval_batches, seed=0, masking=spec,
            ))
        return self._eval_cache

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
