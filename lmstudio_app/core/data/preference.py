"""Preference pairs for DPO: a prompt, the answer preferred (`chosen`) and the one not
(`rejected`), in the columns TRL's DPOTrainer reads (`prompt`, `chosen`, `rejected`).

Files are .jsonl, .csv or .tsv (optionally .gz), read like the labeled sets (labeled.py): a row
that cannot be used (a field missing or empty, chosen equal to rejected) is skipped and reported
with its line; a file with none usable is one UserError. A field given as a list of messages
(`{"role": ..., "content": ...}`, Hugging Face's chat format) is read as its contents joined by
line breaks: the prompt's messages in order, the answer's assistant turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .labeled import _finish, _read_rows, _sample, _text_value
from .labeled_report import ValidationReport
from .labeled_table import ReadOptions, json_type
from .labels import LabelProblem
from .splits import Split, check_fractions, stratified_split


@dataclass(frozen=True)
class PreferenceColumns:
    """Columns of a preference set (TRL's names by default)."""

    prompt: str = "prompt"
    chosen: str = "chosen"
    rejected: str = "rejected"

    def names(self) -> dict[str, str]:
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


@dataclass(frozen=True)
class PreferenceExample:
    """One pair: `chosen` is preferred to `rejected` as the answer to `prompt`."""

    prompt: str
    chosen: str
    rejected: str
    line: int = 0


def _joined_messages(value: list[Any], role: str) -> str:
    """The contents of a list of chat messages, joined by line breaks; LabelProblem when an
    item is not a message with text content."""
    parts = []
    for item in value:
        content = item.get("content") if isinstance(item, dict) else None
        if not isinstance(content, str):
            raise LabelProblem(f"the {role} is a list whose items are not messages with a "
                               "text 'content'")
        parts.append(content)
    text = "\n".join(parts)
    if not text.strip():
        raise LabelProblem(f"empty {role}", empty=True)
    return text


def _field(values: dict[str, object], role: str, col: str) -> str:
    value = values.get(col)
    if isinstance(value, list):
        return _joined_messages(value, role)
    if value is not None and not isinstance(value, str):
        raise LabelProblem(f"the {role} ({col!r}) is a {json_type(value)}, not text")
    return _text_value(values, role, col)


def load_preference(path: str | Path, columns: PreferenceColumns | None = None,
                    encoding: str = "utf-8", *, delimiter: str = "auto",
                    quoting: str = "auto") -> tuple[list[PreferenceExample], ValidationReport]:
    """The usable pairs of a preference file and what was found on the way (skipped rows by
    line). Raises UserError when a column is missing or no row is usable."""
    path = Path(path)
    columns = columns or PreferenceColumns()
    report = ValidationReport(path=str(path), task="preference")
    examples: list[PreferenceExample] = []
    for line, values in _read_rows(path, columns.names(), ReadOptions(encoding, delimiter,
                                                                      quoting), report):
        try:
            prompt = _field(values, "prompt", columns.prompt)
            chosen = _field(values, "chosen", columns.chosen)
            rejected = _field(values, "rejected", columns.rejected)
        except LabelProblem as skip:
            report.skipped.append((line, str(skip)))
            report.empty += skip.empty
            continue
        if chosen.strip() == rejected.strip():
            report.skipped.append((line, "chosen equals rejected: nothing to prefer"))
            continue
        examples.append(PreferenceExample(prompt, chosen, rejected, line))
    _finish(path, report, len(examples))
    return examples, report


def load_preference_splits(
    train: str | Path, val: str | Path | None = None, test: str | Path | None = None, *,
    encoding: str = "utf-8", val_fraction: float = 0.1, test_fraction: float = 0.1,
    seed: int = 1337, delimiter: str = "auto", quoting: str = "auto",
) -> tuple[Split[PreferenceExample], dict[str, ValidationReport]]:
    """Train, validation and test pairs from up to three files; a missing part is carved from
    the train file (pairs of one prompt stay in one part)."""
    check_fractions(val_fraction, test_fraction)
    reports: dict[str, ValidationReport] = {}
    loaded: dict[str, list[PreferenceExample]] = {}
    for part, path in {"train": train, "val": val, "test": test}.items():
        if path is not None:
            loaded[part], reports[part] = load_preference(path, encoding=encoding,
                                                          delimiter=delimiter, quoting=quoting)
    carved = stratified_split(
        loaded["train"], val_fraction=0.0 if "val" in loaded else val_fraction,
        test_fraction=0.0 if "test" in loaded else test_fraction, seed=seed,
        key=lambda e: 0, together=lambda e: e.prompt)
    return Split(train=carved.train, val=loaded.get("val", carved.val),
                 test=loaded.get("test", carved.test)), reports


def sample_preference_path() -> Path:
    """The bundled preference set: JSONL with prompt, chosen and rejected (resources/labeled)."""
    return _sample("preference.jsonl")
