"""A chat model's reply: the conversation rendered with its template and the generation prompt,
continued until the end-of-turn token (or the reply budget), token by token."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..data.chat_template import ChatFormat, Message
from ..data.chat_tokens import chat_ids, end_of_turn_id
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..models.generate import TokenChoice, generate_choices


def reply_choices(model: nn.Module, tokenizer: Tokenizer, fmt: ChatFormat,
                  messages: Sequence[Message], *, max_new_tokens: int = 200,
                  temperature: float = 0.7, top_k: int | None = 50, top_p: float | None = 0.95,
                  seed: int | None = None, cancel: threading.Event | None = None,
                  ) -> Iterator[TokenChoice]:
    """The assistant's next turn to `messages` (system, user, assistant... ending with a user
    turn), each token with its probability and alternatives (`generate_choices`); stops at the
    format's end-of-turn token or the end-of-text token, which are not yielded.

    Raises TemplateError when the template does not render the conversation.
    """
    prompt = chat_ids(tokenizer, fmt.render(messages, add_generation_prompt=True))
    yield from generate_choices(
        model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
        top_k=top_k, top_p=top_p, seed=seed, stop_at_eos=True, cancel=cancel,
        stop_ids=(end_of_turn_id(fmt, tokenizer),))


@dataclass
class Reply:
    """A whole reply: its text, whether it ended at the end-of-turn (or end-of-text) token
    within the budget, and its tokens."""

    text: str
    ended: bool
    choices: list[TokenChoice] = field(default_factory=list)


def reply(model: nn.Module, tokenizer: Tokenizer, fmt: ChatFormat, messages: Sequence[Message],
          **options: Any) -> Reply:
    """`reply_choices` gathered into one Reply (the options are reply_choices')."""
    budget = int(options.get("max_new_tokens", 200))
    cancel = options.get("cancel")
    choices = list(reply_choices(model, tokenizer, fmt, messages, **options))
    stopped = cancel is not None and cancel.is_set()
    return Reply("".join(c.text for c in choices), len(choices) < budget and not stopped,
                 choices)
