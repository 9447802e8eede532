"""Train / validation / test parts of a labeled set: stratified by label, duplicates kept
together, the same for the same input and seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import UserError

T = TypeVar("T")


@dataclass
class Split(Generic[T]):
    train: list[T]
    val: list[T]
    test: list[T]

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1
            and val_fraction + test_fraction < 1):
        raise UserError(
            f"validation fraction {val_fraction} and test fraction {test_fraction}: each must "
            "be at least 0 and together below 1 (e.g. 0.1 and 0.1).",
            field=("val_fraction", "test_fraction"), option="0.1"
        )


def _largest_remainder(ideal: list[float], total: int) -> list[int]:
    """Whole counts, each the floor or ceiling of its ideal, summing to `total` where the
    floors and ceilings allow."""
    counts = [int(x) for x in ideal]
    order = sorted(range(len(ideal)), key=lambda i: (-(ideal[i] - counts[i]), i))
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


def _default_key(examples: Sequence[object]) -> Callable[[object], Hashable] | None:
    if examples and all(hasattr(e, "label") for e in examples):
        return lambda e: e.label  # type: ignore[attr-defined]
    return None


def _duplicate_key(example: object) -> Hashable:
    """What makes two examples the same: a classification text, a QA question in its context."""
    if hasattr(example, "question") and hasattr(example, "context"):
        return (example.question, example.context)
    return getattr(example, "text", id(example))


def stratified_split(
    examples: Sequence[T],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 1337,
    key: Callable[[T], Hashable] | None = None,
    together: Callable[[T], Hashable] | None = _duplicate_key,
) -> Split[T]:
    """Train / validation / test parts, the same for the same input and seed.

    Examples with the same `together` key (by default duplicates: the same text, or the same
    question in the same context) always land in the same part, so a repeated text never
    scores a model on something it trained on; pass None to split them freely. Fractions then
    count such groups, which differ from example counts only by the duplicates.

    Stratified by `key` (by default the label, for examples that have one; pass
    `key=lambda e: 0` for a plain shuffle); a group is stratified by its first example: each
    class's share of every part is within one group of the fractions, and every class with at
    least three groups appears in every part (a class of two goes to train and validation, a
    class of one to train). Without a key (question answering) the groups are shuffled and cut.
    """
    check_fractions(val_fraction, test_fraction)
    rng = random.Random(seed)
    key = key or _default_key(examples)
    units: dict[Hashable, list[T]] = {}
    for i, ex in enumerate(examples):
        units.setdefault(together(ex) if together else i, []).append(ex)
    groups_in_order = list(units.values())
    n_total = len(groups_in_order)

    def expand(part: list[list[T]]) -> list[T]:
        return [ex for group in part for ex in group]

    if key is None:
        order = list(groups_in_order)
        rng.shuffle(order)
        n_val, n_test = _part_sizes(n_total, val_fraction, test_fraction)
        return Split(train=expand(order[n_val + n_test:]), val=expand(order[:n_val]),
                     test=expand(order[n_val:n_val + n_test]))

    strata: dict[Hashable, list[list[T]]] = {}
    for group in groups_in_order:
        strata.setdefault(key(group[0]), []).append(group)
    keys = sorted(strata, key=lambda k: (str(type(k)), str(k)))
    sizes = [len(strata[k]) for k in keys]
    vals = _largest_remainder([n * val_fraction for n in sizes], round(n_total * val_fraction))
    tests = _largest_remainder([n * test_fraction for n in sizes],
                               round(n_total * test_fraction))
    train: list[list[T]] = []
    val: list[list[T]] = []
    test: list[list[T]] = []
    for k, n, v, t in zip(keys, sizes, vals, tests, strict=True):
        v, t = _class_counts(n, v, t, val_fraction, test_fraction)
        members = list(strata[k])
        rng.shuffle(members)
        val += members[:v]
        test += members[v:v + t]
        train += members[v + t:]
    for part in (train, val, test):
        rng.shuffle(part)
    return Split(train=expand(train), val=expand(val), test=expand(test))


def _class_counts(n: int, v: int, t: int, vf: float, tf: float) -> tuple[int, int]:
    """Validation and test counts for one class of `n`: at least one in each part that has a
    fraction when the class can spare it, and always at least one left for training."""
    if n >= 3:
        v = max(v, 1) if vf > 0 else v
        t = max(t, 1) if tf > 0 else t
    elif n == 2 and v + t == 0 and (vf > 0 or tf > 0):
        v, t = (1, 0) if vf > 0 else (0, 1)
    while v + t > n - 1 and v + t > 0:
        if v >= t and v > 0:
            v -= 1
        else:
            t -= 1
    return v, t


def _part_sizes(n: int, vf: float, tf: float) -> tuple[int, int]:
    v, t = round(n * vf), round(n * tf)
    if n >= 3:
        v = max(v, 1) if vf > 0 else v
        t = max(t, 1) if tf > 0 else t
    while v + t > max(n - 1, 0) and v + t > 0:
        if v >= t:
            v -= 1
        else:
            t -= 1
    return v, t
