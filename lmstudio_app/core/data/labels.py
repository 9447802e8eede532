"""Class labels as users write them: one form per class.

A label is stripped of surrounding spaces; a whole number written as a decimal ("1.0", or the
JSON number 1.0) is that integer ("1"); labels that differ only in case ("Positive",
"positive ", "POSITIVE") are one class, named by their most frequent form, unless the user asks
to keep them apart (then a warning says so).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

SENTIMENT_LABELS = ("negative", "neutral", "positive")
_WHOLE_DECIMAL = re.compile(r"^([+-]?\d+)\.0+$")


class LabelProblem(Exception):
    """A value that cannot be a class label; the message is the reason."""

    def __init__(self, reason: str, empty: bool = False) -> None:
        super().__init__(reason)
        self.empty = empty


def normalize_label(value: Any, col: str) -> tuple[str, bool]:
    """(the label, whether it was a whole-number decimal read as an integer).

    Raises LabelProblem for an empty value or one that cannot name a class (a fraction, a list).
    """
    decimal = False
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise LabelProblem(f"the label ({col!r}) is the fraction {value}, not a class name")
        value, decimal = str(int(value)), True
    elif value is None:
        raise LabelProblem("empty label", empty=True)
    elif not isinstance(value, str):
        kind = "list" if isinstance(value, list) else "object" if isinstance(value, dict) \
            else type(value).__name__
        raise LabelProblem(f"the label ({col!r}) is a {kind}, not a class name")
    value = value.strip()
    if not value:
        raise LabelProblem("empty label", empty=True)
    whole = _WHOLE_DECIMAL.match(value)
    if whole:
        value, decimal = str(int(whole.group(1))), True
    return value, decimal


def case_groups(labels: Iterable[str]) -> dict[str, str]:
    """For labels that differ only in case: each variant -> the class name it joins (the most
    frequent variant; the first seen on a tie). Labels without variants are not listed."""
    counts = Counter(labels)
    groups: dict[str, list[str]] = {}
    for name in counts:  # first-seen order
        groups.setdefault(name.casefold(), []).append(name)
    out: dict[str, str] = {}
    for variants in groups.values():
        if len(variants) > 1:
            canonical = max(variants, key=lambda v: counts[v])  # max keeps the first on a tie
            out.update({v: canonical for v in variants if v != canonical})
    return out


def case_variants(labels: Iterable[str]) -> list[list[str]]:
    """Groups of labels that differ only in case (each sorted), for a warning."""
    groups: dict[str, set[str]] = {}
    for name in labels:
        groups.setdefault(name.casefold(), set()).add(name)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def describe_merges(mapping: dict[str, str], counts: Counter[str]) -> list[str]:
    """Report lines for case variants merged into one class."""
    joined: dict[str, list[str]] = {}
    for variant, canonical in mapping.items():
        joined.setdefault(canonical, []).append(variant)
    lines = []
    for canonical, variants in joined.items():
        moved = sum(counts[v] for v in variants)
        forms = ", ".join(repr(v) for v in sorted(variants))
        lines.append(f"labels differing only in case merged: {forms} -> {canonical!r} "
                     f"({moved} rows)")
    return lines


def label_names(examples: Iterable[Any] | Iterable[str]) -> list[str]:
    """The distinct labels in a stable order: negative, neutral, positive when the labels are
    exactly those (any case), numeric order when all are whole numbers, else sorted."""
    names = {e if isinstance(e, str) else e.label for e in examples}
    if {n.lower() for n in names} == set(SENTIMENT_LABELS) and len(names) == 3:
        return sorted(names, key=lambda n: SENTIMENT_LABELS.index(n.lower()))
    if names and all(_is_int(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names, key=lambda n: (n.casefold(), n))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def match_labels(found: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """Labels of another file mapped onto a trained run's classes when they differ only in
    case ("Positive" -> "positive"); labels that match exactly or not at all are left out."""
    by_fold = {k.casefold(): k for k in known}
    return {f: by_fold[f.casefold()] for f in found
            if f not in known and f.casefold() in by_fold}
