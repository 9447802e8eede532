"""Which kind of labeled data a file's fields mean: the one owner of "these fields are a
question-answering set" (or a classification set, ...).

`KINDS` is a table read top to bottom: the first kind whose fields are all among the file's
(names compared without case or surrounding spaces) is the file's. A kind names the task family
it feeds (FinetuneConfig's families: "classify", "qa") and the task chosen for it when none is
asked for. To teach the app a new kind of file (conversations, preference pairs), add its row;
more specific rows (more fields) go first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldKind:
    """One kind of labeled file: the fields that make it, the family and task they mean."""

    family: str  # the task family that reads it ("classify", "qa")
    task: str  # the task chosen for it when none is asked for
    fields: tuple[str, ...]  # every one of these is a field (CSV/TSV column, JSONL key)
    title: str  # for a person: "a question-answering set"


KINDS: tuple[FieldKind, ...] = (
    # Conversations (conversations.py reads each shape): Hugging Face's chat format, ShareGPT's,
    # Alpaca's instruction rows.
    FieldKind("chat", "sft", ("messages",), "a conversation set (Hugging Face messages)"),
    FieldKind("chat", "sft", ("conversations",), "a conversation set (ShareGPT)"),
    FieldKind("chat", "sft", ("instruction", "output"), "an instruction set (Alpaca)"),
    FieldKind("preference", "dpo", ("prompt", "chosen", "rejected"), "a preference set"),
    FieldKind("qa", "qa-extractive", ("question", "context", "answer"),
              "a question-answering set"),
    FieldKind("classify", "classify", ("text", "label"), "a classification set"),
)


def has_fields(kind: FieldKind, names: Iterable[str]) -> bool:
    """Whether every field of `kind` is among `names` (without case or surrounding spaces)."""
    found = {n.strip().lower() for n in names}
    return all(f in found for f in kind.fields)


def kind_of_fields(names: Iterable[str]) -> FieldKind | None:
    """The kind of labeled data a file with these field names holds; None when no row of
    `KINDS` matches (the mapping then says which column is which)."""
    found = list(names)
    return next((k for k in KINDS if has_fields(k, found)), None)


def kind_of_family(family: str) -> FieldKind:
    """The row of `KINDS` of a task family (its fields are the family's column roles)."""
    return next(k for k in KINDS if k.family == family)
