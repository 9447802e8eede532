"""What loading a labeled file found: rows read and used, what was skipped and why, what was
cleaned or merged on the way, and the final classes with their counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .labels import label_names

# Skipped rows listed by summary(); to_dict() keeps them all.
_SUMMARY_SKIPS = 5


@dataclass(frozen=True)
class Conflict:
    """One text given different labels on different rows."""

    text: str
    labels: tuple[str, ...]
    lines: tuple[int, ...]


@dataclass
class ValidationReport:
    """What a load found: rows read and used, what was skipped and why, and label counts.

    `labels` counts the final classes (after stripping, whole-number decimals read as
    integers, and case variants merged); `notes` are lines for a person about what was cleaned,
    merged or noticed (NUL characters, lone surrogates, rows over several lines, ...).
    """

    path: str
    task: str  # "classification" | "qa" | "conversations"
    rows_read: int = 0  # data rows seen (blank lines and the header not counted)
    rows_used: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    empty: int = 0  # rows skipped because a required value was empty
    duplicates: int = 0  # rows repeating an earlier row's text (QA: question and context)
    conflicts: list[Conflict] = field(default_factory=list)
    answers_not_found: int = 0  # QA rows skipped because the answer is not in the context
    answer_starts_found: int = 0  # QA rows without an offset, located by search
    answer_starts_corrected: list[tuple[int, int, int]] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    read_as: str = ""  # how a CSV/TSV was read: "tab-separated, standard quoting"

    def summary(self) -> str:
        """A few lines for a person."""
        name = Path(self.path).name
        how = f" ({self.read_as})" if self.read_as else ""
        lines = [f"{name}: {self.rows_used} of {self.rows_read} rows used"
                 + (f", {len(self.skipped)} skipped" if self.skipped else "") + how]
        if self.labels:
            names = label_names(list(self.labels))
            dist = ", ".join(f"{k} {self.labels[k]}" for k in names)
            lines.append(f"{len(names)} classes: {dist}")
        for line, reason in self.skipped[:_SUMMARY_SKIPS]:
            lines.append(f"  line {line}: {reason}")
        if len(self.skipped) > _SUMMARY_SKIPS:
            lines.append(f"  ... and {len(self.skipped) - _SUMMARY_SKIPS} more skipped rows")
        lines += self.notes
        if self.duplicates:
            what = {"classification": "texts", "qa": "question/context pairs"}.get(
                self.task, "conversations")
            lines.append(f"{self.duplicates} duplicate {what} (kept; copies share one split)")
        if self.conflicts:
            first = self.conflicts[0]
            lines.append(
                f"{len(self.conflicts)} texts with conflicting labels, e.g. lines "
                f"{', '.join(map(str, first.lines))} ({' / '.join(first.labels)})"
            )
        if self.task == "qa":
            if self.answers_not_found:
                lines.append(f"{self.answers_not_found} answers not found in their context "
                             "(skipped)")
            if self.answer_starts_corrected:
                lines.append(f"{len(self.answer_starts_corrected)} answer offsets corrected "
                             "to the nearest occurrence")
            if self.answer_starts_found:
                lines.append(f"{self.answer_starts_found} answer offsets located by search")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "task": self.task,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "read_as": self.read_as,
            "skipped": [{"line": ln, "reason": r} for ln, r in self.skipped],
            "empty": self.empty,
            "duplicates": self.duplicates,
            "conflicts": [{"text": c.text, "labels": list(c.labels), "lines": list(c.lines)}
                          for c in self.conflicts],
            "answers_not_found": self.answers_not_found,
            "answer_starts_found": self.answer_starts_found,
            "answer_starts_corrected": [{"line": ln, "given": g, "used": u}
                                        for ln, g, u in self.answer_starts_corrected],
            "labels": dict(self.labels),
            "notes": list(self.notes),
        }
