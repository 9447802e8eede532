"""Talking to a run: whether it is a chat model (it keeps a chat template) and its replies.

A run fine-tuned with `--task sft`, or imported with a tokenizer that has a chat template, keeps
the template in chat_template.jinja (transformers' file name); such a run answers in turns.
Any other decoder run continues text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.chat_template import TEMPLATE_FILE, ChatFormat, read_template_file
from ..data.chat_tokens import chat_format
from ..data.tokenizer_base import BaseTokenizer
from .loading import LoadedRun


@dataclass(frozen=True)
class ChatMode:
    """How a run is talked to: `format` None means it continues text; `why` says so."""

    format: ChatFormat | None
    why: str

    @property
    def conversation(self) -> bool:
        return self.format is not None


def chat_format_of(run_dir: Path, tokenizer: BaseTokenizer) -> ChatFormat | None:
    """The run's chat format, None when it keeps no chat template.

    Raises UserError when its chat_template.jinja is unreadable or does not compile.
    """
    path = Path(run_dir) / TEMPLATE_FILE
    if not path.is_file():
        return None
    return chat_format(read_template_file(path, "run"), "run", tokenizer)


def chat_mode(loaded: LoadedRun) -> ChatMode:
    """Conversation for a chat-tuned run, continue-text otherwise, and why."""
    fmt = chat_format_of(loaded.run_dir, loaded.tokenizer)
    if fmt is not None:
        return ChatMode(fmt, f"chat-tuned: its template is applied and each reply stops at "
                             f"{fmt.end_of_turn}")
    return ChatMode(None, "a base model (no chat template): it continues the text you give; "
                          "fine-tune it with task sft to chat")
