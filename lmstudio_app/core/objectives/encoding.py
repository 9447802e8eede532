"""How fine-tuning examples become token ids: spans, padding, QA windows and prompts.

Character spans let an extractive answer be mapped between text and tokens; QA windows follow
BERT's SQuAD recipe (Devlin et al. 2019): "[CLS] question [SEP] context-part [SEP]" windows that
overlap by a stride over a long context, the answer's start and end marked in the window that
holds it (or [CLS] when none does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..errors import UserError
from .batches import IGNORE

MAX_ANSWER_TOKENS = 30  # extractive answers longer than this are never proposed
GEN_ANSWER_TOKENS = 32  # generative answers are cut here


def char_spans(tokenizer: Tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of `text` and each token's [start, end) in characters of `text` (the tokenizer
    backend knows how its tokens map to characters)."""
    return tokenizer.char_spans(text)


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding whitespace (a token carries its leading space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def classify_ids(tokenizer: Tokenizer, text: str, arch: str, max_length: int,
                 end_token: bool = False) -> list[int]:
    """GPT: the text's tokens, then the end token (eos) with `end_token` (the position a
    pooling-eos head reads); BERT: [CLS] text [SEP]. Longer texts are cut so that the whole
    input is at most max_length tokens."""
    if arch == "bert":
        return [tokenizer.cls_id, *tokenizer.encode(text)[:max_length - 2], tokenizer.sep_id]
    if end_token:
        return [*tokenizer.encode(text)[:max(max_length - 1, 0)], tokenizer.eos_id]
    return tokenizer.encode(text)[:max_length] or [tokenizer.bos_id]


def pad_rows(rows: Sequence[Sequence[int]], pad: int) -> tuple[Tensor, Tensor]:
    """(ids, attention mask) padded on the right to the longest row."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[k, :len(r)] = 1
    return ids, mask


@dataclass
class QAWindow:
    """One "[CLS] question [SEP] context-part [SEP]" input and where its context lies."""

    ids: list[int]
    type_ids: list[int]
    ctx_start: int  # index in `ids` of the first context token
    spans: list[tuple[int, int]]  # character spans of the window's context tokens
    start: int = 0  # answer token positions in `ids`; 0 ([CLS]) when not in this window
    end: int = 0


def qa_windows(tokenizer: Tokenizer, question: str, context: str, max_length: int,
               stride: int, answer: tuple[int, int] | None = None) -> list[QAWindow]:
    """Windows over a long context, overlapping by `stride` tokens (at most half a window).

    With `answer` (character start, end) each window points at the answer's tokens, or at
    [CLS] when the answer is not wholly inside it.
    """
    q_ids = tokenizer.encode(question)[: max(1, max_length // 2)]
    ctx_ids, spans = char_spans(tokenizer, context)
    budget = max_length - len(q_ids) - 3
    if budget < 1:
        raise UserError(f"max_length={max_length} leaves no room for the context after the "
                        "question: raise max_length.", field="max_length")
    step = max(1, budget - min(stride, budget // 2))
    head = [tokenizer.cls_id, *q_ids, tokenizer.sep_id]
    a_tok: tuple[int, int] | None = None
    if answer is not None:
        s, e = answer
        first = next((k for k, (_, b) in enumerate(spans) if b > s), None)
        last = next((k for k in range(len(spans) - 1, -1, -1) if spans[k][0] < e), None)
        if first is not None and last is not None and first <= last:
            a_tok = (first, last)
    out: list[QAWindow] = []
    begin = 0
    while True:
        stop = min(begin + budget, len(ctx_ids))
        ids = head + ctx_ids[begin:stop] + [tokenizer.sep_id]
        types = [0] * len(head) + [1] * (stop - begin + 1)
        w = QAWindow(ids, types, len(head), spans[begin:stop])
        if a_tok is not None and begin <= a_tok[0] and a_tok[1] < stop:
            w.start = a_tok[0] - begin + len(head)
            w.end = a_tok[1] - begin + len(head)
        out.append(w)
        if stop >= len(ctx_ids):
            return out
        begin += step


def best_span(windows: Sequence[QAWindow], starts: Sequence[Tensor], ends: Sequence[Tensor],
              context: str, max_tokens: int = MAX_ANSWER_TOKENS) -> dict[str, Any]:
    """The best start <= end (within max_tokens) over all windows, as text of `context`."""
    best: tuple[float, int, int] | None = None
    for w, s_log, e_log in zip(windows, starts, ends, strict=True):
        n = len(w.spans)
        if n == 0:
            continue
        # Log-probabilities over the window's real positions, so windows compare.
        s = torch.log_softmax(s_log[:len(w.ids)].float(), 0)[w.ctx_start:w.ctx_start + n]
        e = torch.log_softmax(e_log[:len(w.ids)].float(), 0)[w.ctx_start:w.ctx_start + n]
        scores = s[:, None] + e[None, :]
        allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(max_tokens - 1)
        scores = scores.masked_fill(~allowed, -math.inf)
        flat = int(torch.argmax(scores))
        i, j = divmod(flat, n)
        value = float(scores[i, j])
        if best is None or value > best[0]:
            best = (value, w.spans[i][0], w.spans[j][1])
    if best is None:
        return {"answer": "", "start": 0, "end": 0, "score": 0.0}
    start, end = trim_span(context, best[1], best[2])
    return {"answer": context[start:end], "start": start, "end": end,
            "score": math.exp(best[0])}


def render_prompt(template: str, question: str, context: str | None) -> str:
    """The prompt for a generative answer; without a context, template lines naming it go."""
    if not context:
        template = "\n".join(line for line in template.split("\n") if "{context}" not in line)
    return template.format(question=question, context=context or "")


def answer_budget(max_length: int) -> int:
    """Tokens an answer (with its end piece) may take; the prompt gets the rest of the window.

    Training and generation cut the prompt the same way, so the answer starts at the positions
    the model learned it at.
    """
    return max(2, min(GEN_ANSWER_TOKENS, max_length // 4))


def prompt_ids(tokenizer: Tokenizer, prompt: str, max_length: int) -> list[int]:
    """The prompt's tokens, cut from the left (its end, "Answer:", is what matters)."""
    return tokenizer.encode(prompt)[-(max_length + 1 - answer_budget(max_length)):]


def generative_rows(tokenizer: Tokenizer, prompt: str, answer: str,
                    max_length: int) -> tuple[list[int], list[int]]:
    """Inputs and targets: prompt + " answer" + end; targets only on the answer and the end."""
    a_ids = [*tokenizer.encode(" " + answer.strip()), tokenizer.eos_id]
    a_ids = a_ids[:answer_budget(max_length)]
    p_ids = prompt_ids(tokenizer, prompt, max_length)
    seq = p_ids + a_ids
    targets = [IGNORE] * (len(p_ids) - 1) + a_ids
    return seq[:-1], targets
