"""Supervised fine-tuning on conversations (TRL's SFTTrainer): a decoder learns to answer in
turns under a chat template and to end its reply with the end-of-turn token.

Each conversation is rendered with the run's template (`data.chat_template`) and tokenized as
transformers' `apply_chat_template` does. With `assistant_only_loss` (TRL's name, on by
default) the next-token loss counts only the assistant's tokens (its reply and the end-of-turn
token); otherwise every token. With `packing` whole conversations are packed first-fit into
windows of max_length tokens, fewer padded positions per batch. Scores: greedy replies to the
held-out conversations' last user turn, stopped at the end-of-turn token: the share that end
within the reply budget (`end_of_turn_rate`), and exact match and F1 against the gold reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ..config import RunConfig
from ..data.chat_template import CHATML, CHATML_TOKENS, TEMPLATE_FILE, ChatFormat, TemplateError
from ..data.chat_template import read_template_file as read_template_file
from ..data.chat_tokens import add_special_pieces, chat_format, chat_spans
from ..data.conversations import Conversation
from ..data.labels import LabelProblem
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..util.atomic import atomic_write_bytes
from . import scores
from .batches import IGNORE
from .chat_reply import reply
from .task import NextTokenRows, TaskObjective, finetune_of, max_length

_VAL_CONVERSATIONS = 32  # replies generated at each evaluation (the test report scores all)
REPLY_TOKENS = 64  # max_new_tokens of a scored reply


def conversation_row(fmt: ChatFormat, tokenizer: Tokenizer, messages: Sequence[Any],
                     length: int, assistant_only: bool = True) -> tuple[list[int], list[int]]:
    """Inputs (T,) and targets (T,) of one conversation, cut to `length` inputs: targets are
    the next token where it is the assistant's (every next token without `assistant_only`),
    IGNORE (-100) elsewhere. Raises TemplateError when the template does not render it."""
    text, spans = fmt.assistant_spans(messages)
    ids, char_spans = chat_spans(tokenizer, text)
    ids, char_spans = ids[:length + 1], char_spans[:length + 1]
    theirs = [any(s < b and e > a for a, b in spans) for s, e in char_spans]
    targets = [t if (mine or not assistant_only) else IGNORE
               for t, mine in zip(ids[1:], theirs[1:], strict=True)]
    return ids[:-1], targets


def pack(rows: Sequence[tuple[list[int], list[int]]], length: int,
         ) -> list[tuple[list[int], list[int]]]:
    """Rows joined first-fit (longest first) into windows of at most `length` tokens."""
    bins: list[tuple[list[int], list[int]]] = []
    for x, y in sorted(rows, key=lambda r: -len(r[0])):
        home = next((b for b in bins if len(b[0]) + len(x) <= length), None)
        if home is None:
            bins.append((list(x), list(y)))
        else:
            home[0].extend(x)
            home[1].extend(y)
    return bins


def resolve_template(cfg: RunConfig, run_dir: Path, resume: bool) -> tuple[str, str]:
    """The run's template and where it came from: the run's own file on resume, else the file
    the user named, else the base run's (an imported model's own), else ChatML."""
    ft = finetune_of(cfg)
    if resume and (run_dir / TEMPLATE_FILE).is_file():
        return read_template_file(run_dir / TEMPLATE_FILE, "run"), "run"
    if ft.chat_template:
        return read_template_file(ft.chat_template), ft.chat_template
    own = Path(ft.base_run) / TEMPLATE_FILE if ft.base_run else None
    if own is not None and own.is_file():
        return read_template_file(own, "base_run"), "model"
    return CHATML, "chatml"


class SFTObjective(NextTokenRows, TaskObjective):
    """Next-token loss on rendered conversations, the assistant's tokens only by default."""

    name = "sft"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: Any, seed: int,
                 chat: ChatFormat | None = None, **_: Any) -> None:
        self.chat = chat or chat_format(CHATML, "chatml", tokenizer)
        self.dropped = 0  # conversations with no assistant token inside max_length
        super().__init__(cfg, tokenizer, split, seed)

    @classmethod
    def adapt(cls, cfg: RunConfig, tokenizer: Tokenizer, run_dir: Path,
              resume: bool) -> tuple[Tokenizer, dict[str, Any]]:
        template, source = resolve_template(cfg, run_dir, resume)
        named = [p for p in CHATML_TOKENS if p in template]
        tokenizer = add_special_pieces(tokenizer, named)
        fmt = chat_format(template, source, tokenizer)
        ft = finetune_of(cfg)

        def check(conv: Conversation) -> None:
            try:
                conversation_row(fmt, tokenizer, conv.as_messages(), max_length(cfg),
                                 ft.assistant_only_loss)
            except TemplateError as exc:
                raise LabelProblem(str(exc).rstrip(".")) from None
        return tokenizer, {"chat": fmt, "check": check}

    def write_files(self, run_dir: Path) -> None:
        atomic_write_bytes(run_dir / TEMPLATE_FILE, self.chat.template.encode("utf-8"),
                           parents=False)

    def info(self) -> dict[str, Any]:
        return {"chat_template": self.chat.source, "end_of_turn": self.chat.end_of_turn,
                "packing": self.ft.packing, "assistant_only_loss": self.ft.assistant_only_loss,
                "conversations_without_reply_tokens": self.dropped}

    def _encode(self, examples: Sequence[Any]) -> list[Any]:
        rows = []
        for conv in examples:
            x, y = conversation_row(self.chat, self.tok, conv.as_messages(), self.max_length,
                                    self.ft.assistant_only_loss)
            if any(t != IGNORE for t in y):
                rows.append((x, y))
            else:
                self.dropped += 1
        return pack(rows, self.max_length) if self.ft.packing else rows

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        if not self.split.val:
            return {}
        report = score_replies(model, self.tok, self.chat, self.split.val[:_VAL_CONVERSATIONS])
        return {k: report[k] for k in ("end_of_turn_rate", "exact_match", "f1")}

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        report = score_replies(model, self.tok, self.chat, self.split.test)
        return {"task": self.name, **report, "loss": self._test_loss(model)}


def score_replies(model: nn.Module, tokenizer: Tokenizer, fmt: ChatFormat,
                  conversations: Sequence[Conversation],
                  max_new_tokens: int = REPLY_TOKENS) -> dict[str, Any]:
    """Greedy replies to each conversation's turns before its last assistant turn: the share
    ended by the end-of-turn token within `max_new_tokens`, and exact match / F1 (SQuAD's) of
    the reply against that assistant turn."""
    ended, preds, golds = 0, [], []
    for conv in conversations:
        msgs = conv.as_messages()
        last = max(k for k, m in enumerate(msgs) if m["role"] == "assistant")
        out = reply(model, tokenizer, fmt, msgs[:last], max_new_tokens=max_new_tokens,
                    temperature=0.0, seed=0)
        ended += out.ended
        preds.append(out.text.strip())
        golds.append(msgs[last]["content"].strip())
    report = scores.qa_report(preds, golds)
    report["end_of_turn_rate"] = ended / len(preds) if preds else 0.0
    report["examples"] = [{"reply": p, "gold": g}
                          for p, g in zip(preds[:5], golds[:5], strict=True)]
    return report

