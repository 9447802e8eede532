"""Labeled data that cannot be right, refused before anything trains: a label column that holds
free text, labels in a validation or test file that the training file never has, and splits too
small to hold an example. Each refusal is a UserError naming the file, the column or setting at
fault (as `field`) and the fix, with the numbers that show it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median
from typing import Any

from ..errors import UserError
from .splits import Split

# A label column is free text when it has at least this many classes, most of them of one row,
# and either more classes than half the rows or labels of this many characters (median).
FREE_TEXT_MIN_CLASSES = 10
LONG_LABEL_CHARS = 20
PART_NAMES = {"train": "training", "val": "validation", "test": "test"}


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def check_label_column(path: Path, labels: Sequence[str], columns: tuple[str, str],
                       other_column: Callable[[], str | None]) -> None:
    """Refuse a label column that looks like free text (most classes of one row, long or
    unique values): it is almost always the text column mapped as the label.

    `columns` are the (text, label) columns mapped; `other_column` is asked, only then, for
    the file's column that looks most like a label. Raises UserError(field="label_col",
    option=that column).
    """
    text_col, label_col = columns
    counts = Counter(labels)
    k, n = len(counts), len(labels)
    singles = sum(1 for c in counts.values() if c == 1)
    if k < FREE_TEXT_MIN_CLASSES or 2 * singles <= k:
        return
    long = median(len(label) for label in counts) >= LONG_LABEL_CHARS
    if not long and 2 * k <= n:
        return
    example = next(label for label, c in counts.items() if c == 1)
    other = other_column()
    if other == text_col:
        fix = (f"the text and label columns look swapped: map the label to {other!r} and the "
               f"text to {label_col!r}")
    elif other:
        fix = f"map the label to column {other!r}"
    else:
        fix = "map the label to the column that names each row's class"
    raise UserError(
        f"{path}: the label column {label_col!r} looks like free text ({k} classes in {n} rows, "
        f"{singles} of them of one row, e.g. {_shorten(example)!r}); {fix}.",
        field="label_col", option=other)


def label_like_column(values: dict[str, Counter[str]], label_col: str) -> str | None:
    """Of a file's columns other than `label_col` (their values counted), the one that looks
    most like a label: the fewest distinct values (at least two, at most half its rows), short
    ones."""
    found = [(len(c), name) for name, c in values.items()
             if name != label_col and 2 <= len(c) <= sum(c.values()) / 2
             and median(len(v) for v in c) < LONG_LABEL_CHARS]
    return min(found)[1] if found else None


def check_unseen_labels(path: Path, part: str, labels: Sequence[str],
                        train_labels: set[str]) -> None:
    """Refuse a validation or test file whose labels the training data never has: the model
    cannot predict them, so they would be dropped or scored as errors without a word.
    Raises UserError(field="val_file" or "test_file")."""
    unseen = Counter(label for label in labels if label not in train_labels)
    if not unseen:
        return
    shown = ", ".join(f"{_shorten(label, 20)!r} {c}" for label, c in unseen.most_common(5))
    more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
    raise UserError(
        f"{path}: {sum(unseen.values())} of {len(labels)} {PART_NAMES[part]} rows have labels "
        f"the training data never has ({shown}{more}); add training rows with these labels, or "
        "remove these rows.", field=f"{part}_file")


def check_split_sizes(path: Path, split: Split[Any], given: Sequence[str],
                      fractions: dict[str, float]) -> None:
    """Refuse a split with an empty part, with the numbers: a part of no rows gives no
    validation loss, or a test score of 0 over nothing.

    `given` names the parts read from their own files; `fractions` are the validation and
    test fractions. Raises UserError naming the fraction to set (0 asked for no rows) or the
    training file (too few rows to carve a part from).
    """
    sizes = dict(zip(("train", "val", "test"), split.sizes(), strict=True))
    for part in ("val", "test"):
        if sizes[part] == 0 and part not in given and fractions[part] == 0:
            name = PART_NAMES[part]
            raise UserError(
                f"{path}: no {name} rows: the {name} fraction is 0 and no {name} file is given; "
                f"set a {name} fraction above 0 or give a {name} file.",
                field=f"{part}_fraction", option="0.1")
    if min(sizes.values()) > 0:
        return
    parts = ", ".join(f"{PART_NAMES[p]} {sizes[p]}" for p in ("train", "val", "test"))
    carved = [p for p in ("val", "test") if p not in given]
    asked = " and ".join(f"{PART_NAMES[p]} fraction {fractions[p]:g}" for p in carved)
    rows = sizes["train"] + sum(sizes[p] for p in carved)
    raise UserError(
        f"{path}: {rows} usable rows are too few to split ({parts}"
        f"{', at ' + asked if asked else ''}); every part needs at least one row: add rows "
        "(three of a class put one in each part) or give validation and test files.",
        field="train_file")
