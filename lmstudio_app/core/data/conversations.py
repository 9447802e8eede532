"""Conversation files for supervised fine-tuning (TRL's SFT data), in the common shapes.

    messages        {"messages": [{"role": "user", "content": "..."}, ...]}   (Hugging Face)
    conversations   {"conversations": [{"from": "human", "value": "..."}, ...]} (ShareGPT)
    alpaca          {"instruction": "...", "input": "...", "output": "..."}    (Alpaca)

JSONL or CSV/TSV (a `messages` or `conversations` cell holds the list as JSON text), detected
from the fields. Every conversation becomes a list of {"role", "content"} messages: an optional
system turn first, then user and assistant turns in turn, at least one assistant turn. Rows that
break this are skipped and reported by line, as the labeled files are (`ValidationReport`); a
file with no usable conversation is one UserError.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .labeled_report import ValidationReport
from .labeled_table import ReadOptions, Table, json_type
from .labels import LabelProblem
from .splits import Split, check_fractions, stratified_split

SHAPES = ("messages", "conversations", "alpaca")
ROLES = ("system", "user", "assistant")
# ShareGPT's speaker names, as TRL and Axolotl read them.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",
                  "system": "system"}


@dataclass(frozen=True)
class Conversation:
    """One usable conversation: its messages (role, content) and where its row starts."""

    messages: tuple[tuple[str, str], ...]
    line: int

    @property
    def text(self) -> str:
        """The conversation as one string (what makes two rows duplicates)."""
        return json.dumps(self.messages)

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


def detect_shape(fields: Sequence[str]) -> str | None:
    """Which shape these field names are: "messages", "conversations", "alpaca", or None."""
    names = set(fields)
    for shape in ("messages", "conversations"):
        if shape in names:
            return shape
    if {"instruction", "output"} <= names:
        return "alpaca"
    return None


def _listed(value: object, name: str) -> list[Any]:
    if isinstance(value, str):  # a CSV cell holds the list as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise LabelProblem(f"the {name} cell is not JSON ({exc.msg})") from None
    if not isinstance(value, list) or not value:
        raise LabelProblem(f"{name} is {'empty' if value == [] else 'a ' + json_type(value)}, "
                           "not a list of turns", empty=value == [])
    return value


def _turn(item: object, k: int, role_key: str, text_key: str,
          names: dict[str, str] | None) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise LabelProblem(f"turn {k} is a {json_type(item)}, not an object")
    role, content = item.get(role_key), item.get(text_key)
    if not isinstance(role, str):
        raise LabelProblem(f"turn {k} has no {role_key!r}")
    mapped = (names or {r: r for r in ROLES}).get(role.strip().lower())
    if mapped is None:
        raise LabelProblem(f"turn {k}: unknown role {role!r} (use system, user, assistant)")
    if not isinstance(content, str):
        raise LabelProblem(f"turn {k}: {text_key!r} is a {json_type(content)}, not text")
    return mapped, content


def _alpaca(values: dict[str, object]) -> list[tuple[str, str]]:
    parts = {}
    for key in ("instruction", "input", "output"):
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise LabelProblem(f"{key!r} is a {json_type(value)}, not text")
        parts[key] = (value or "").strip()
    if not parts["instruction"]:
        raise LabelProblem("empty instruction", empty=True)
    prompt = parts["instruction"] + (f"\n\n{parts['input']}" if parts["input"] else "")
    return [("user", prompt), ("assistant", parts["output"])]


def _turns(values: dict[str, object], shape: str) -> list[tuple[str, str]]:
    if shape == "alpaca":
        return _alpaca(values)
    raw = _listed(values.get(shape), shape)
    if shape == "messages":
        return [_turn(t, k, "role", "content", None) for k, t in enumerate(raw, 1)]
    return [_turn(t, k, "from", "value", SHAREGPT_ROLES) for k, t in enumerate(raw, 1)]


def check_order(turns: Sequence[tuple[str, str]]) -> None:
    """LabelProblem unless: one optional system turn first, then user and assistant in turn
    starting with the user, at least one assistant turn, no empty assistant turn."""
    body = list(turns[1:] if turns and turns[0][0] == "system" else turns)
    for k, (role, content) in enumerate(body):
        want = "user" if k % 2 == 0 else "assistant"
        if role != want:
            where = k + 1 + (len(turns) - len(body))
            raise LabelProblem(f"roles out of order: turn {where} is {role}, expected {want}")
        if role == "assistant" and not content.strip():
            raise LabelProblem(f"turn {k + 1 + len(turns) - len(body)}: empty assistant turn",
                               empty=True)
    if not any(role == "assistant" for role, _ in body):
        raise LabelProblem("no assistant turn")


def _stats(found: list[Conversation]) -> list[str]:
    if not found:
        return []
    turns = [len(c.messages) for c in found]
    chars = [sum(len(t) for _, t in c.messages) for c in found]
    return [f"{sum(turns)} turns ({statistics.mean(turns):.1f} per conversation); "
            f"{statistics.median(chars):.0f} characters per conversation (median), "
            f"{max(chars)} at most"]


Check = Callable[[Conversation], None]  # raises LabelProblem for a conversation to skip


def load_conversations(path: str | Path, encoding: str = "utf-8", *, delimiter: str = "auto",
                       quoting: str = "auto", check: Check | None = None,
                       ) -> tuple[list[Conversation], ValidationReport]:
    """The usable conversations of a file and what was found on the way.

    `check` (e.g. "the template renders it") may skip more rows by raising LabelProblem.
    Raises UserError when the file holds no conversation fields or no usable row.
    """
    path = Path(path)
    report = ValidationReport(path=str(path), task="conversations")
    rows: list[tuple[int, dict[str, object]]] = []
    with Table(path, ReadOptions(encoding, delimiter, quoting)) as table:
        if table.reader is not None:
            report.read_as = table.reader.describe()
        for row in table.rows():
            report.rows_read += 1
            if row.values is None:
                report.skipped.append((row.line, row.problem))
            else:
                rows.append((row.line, row.values))
    report.notes += table.notes.lines()
    fields = table.columns or list(dict.fromkeys(k for _, v in rows[:200] for k in v))
    shape = detect_shape(fields)
    if shape is None and rows:
        raise UserError(f"{path}: no conversation fields (found {', '.join(fields[:8])}); "
                        "give 'messages' (role/content), 'conversations' (from/value) or "
                        "'instruction'/'input'/'output'.", field="train_file")
    found = _usable(rows, shape or "messages", report, check)
    report.notes[:0] = [f"read as {shape} conversations"] + _stats(found)
    _finish(path, report, len(found))
    return found, report


def _usable(rows: list[tuple[int, dict[str, object]]], shape: str, report: ValidationReport,
            check: Check | None) -> list[Conversation]:
    found: list[Conversation] = []
    for line, values in rows:
        try:
            turns = _turns(values, shape)
            check_order(turns)
            conv = Conversation(tuple(turns), line)
            if check is not None:
                check(conv)
        except LabelProblem as skip:
            report.skipped.append((line, str(skip)))
            report.empty += skip.empty
            continue
        found.append(conv)
    seen: set[str] = set()
    for c in found:
        report.duplicates += c.text in seen
        seen.add(c.text)
    return found


def _finish(path: Path, report: ValidationReport, n_used: int) -> None:
    report.skipped.sort()
    report.rows_used = n_used
    if n_used:
        return
    if report.skipped:
        line, reason = report.skipped[0]
        raise UserError(f"{path}: no usable conversations ({report.rows_read} read, all "
                        f"skipped; first: line {line}, {reason}).", field="train_file")
    raise UserError(f"{path}: the file holds no conversations; add one per line.",
                    field="train_file")


def load_conversation_splits(
    train: str | Path, val: str | Path | None = None, test: str | Path | None = None, *,
    encoding: str = "utf-8", val_fraction: float = 0.1, test_fraction: float = 0.1,
    seed: int = 1337, delimiter: str = "auto", quoting: str = "auto",
    check: Check | None = None,
) -> tuple[Split[Conversation], dict[str, ValidationReport]]:
    """Train, validation and test conversations from up to three files; a missing part is
    carved from the train file with its fraction (duplicates kept in one part)."""
    check_fractions(val_fraction, test_fraction)
    loaded: dict[str, list[Conversation]] = {}
    reports: dict[str, ValidationReport] = {}
    for part, path in (("train", train), ("val", val), ("test", test)):
        if path is not None:
            loaded[part], reports[part] = load_conversations(
                path, encoding, delimiter=delimiter, quoting=quoting, check=check)
    carved = stratified_split(loaded["train"],
                              val_fraction=0.0 if "val" in loaded else val_fraction,
                              test_fraction=0.0 if "test" in loaded else test_fraction, seed=seed)
    return Split(train=carved.train, val=loaded.get("val", carved.val),
                 test=loaded.get("test", carved.test)), reports


def prompt_messages(values: dict[str, object]) -> list[dict[str, str]]:
    """The messages of one conversation to answer: {"messages": [...]} or {"conversations":
    [...]} ending with a user turn, or {"message": TEXT}. Raises LabelProblem otherwise."""
    if isinstance(values.get("message"), str):
        text = str(values["message"])
        turns = [("user", text)]
    else:
        shape = detect_shape(list(values))
        if shape not in ("messages", "conversations"):
            raise LabelProblem("no 'messages', 'conversations' or 'message' field")
        turns = _turns(values, shape)
    if turns[-1][0] != "user":
        raise LabelProblem(f"the last turn is {turns[-1][0]}, not the user's")
    check_order([*turns, ("assistant", "-")])
    return [{"role": r, "content": c} for r, c in turns]


def sample_instructions_path() -> Path:
    """The bundled instruction set (resources/chat/instructions.jsonl, messages form)."""
    import importlib.resources

    here = Path(__file__).resolve().parents[3] / "resources" / "chat" / "instructions.jsonl"
    try:
        packaged = Path(str(importlib.resources.files("lmstudio_app.resources") / "chat"
                            / "instructions.jsonl"))
    except ModuleNotFoundError:
        packaged = here
    for path in (packaged, here):  # installed, else the source tree's
        if path.is_file():
            return path
    raise UserError(f"{packaged}: the bundled instruction set is missing; reinstall the app.")
