"""Generative question answering: the GPT learns to continue a prompt with the answer.

The loss is next-token cross-entropy on the answer and its end piece only; answers are greedy
continuations stopped at the end piece, scored by exact match and F1 (SQuAD).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..config import RunConfig
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..models.heads import body_config
from .encoding import answer_budget, generative_rows, prompt_ids, render_prompt
from .task import NextTokenRows, QAObjective, device_of, finetune_of, max_length


class GenerativeQAObjective(NextTokenRows, QAObjective):
    """Next-token loss on the answer and its end piece only; greedy answers for the scores."""

    name = "qa-generative"

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        return [generative_rows(self.tok, render_prompt(self.ft.template, e.question, e.context),
                                e.answer, self.max_length) for e in examples]

    @classmethod
    def answer(cls, model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig, question: str,
               context: str | None) -> dict[str, Any]:
        return generate_answer(model, tokenizer, finetune_of(cfg).template,
                               question, context, max_length(cfg))


@torch.no_grad()
def generate_answer(model: nn.Module, tokenizer: Tokenizer, template: str, question: str,
                    context: str | None, max_length: int) -> dict[str, Any]:
    """A greedy answer to the prompt, stopped at the end piece, with its mean token probability
    as the score."""
    from ..models.generate import generate

    p_ids = prompt_ids(tokenizer, render_prompt(template, question, context), max_length)
    prompt = tokenizer.decode(p_ids)
    text = "".join(generate(model, tokenizer, prompt, max_new_tokens=answer_budget(max_length),
                            temperature=0.0, top_k=None, top_p=None, seed=0, stop_at_eos=True))
    answer = text.strip()
    score = 0.0
    a_ids = tokenizer.encode(text)
    if a_ids:
        device = device_of(model)
        seq = (p_ids + a_ids)[-body_config(model).max_positions:]
        was_training = model.training
        model.eval()
        try:
            logits = model(torch.tensor([seq], device=device))[0][0].float()
        finally:
            model.train(was_training)
        n = len(a_ids)
        logp = torch.log_softmax(logits[-n - 1:-1], dim=-1)
        picked = logp[torch.arange(n), torch.tensor(seq[-n:], device=device)]
        score = float(picked.mean().exp())
    return {"answer": answer, "score": score}
