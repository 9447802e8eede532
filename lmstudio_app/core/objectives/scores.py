"""Evaluation metrics: classification (accuracy, precision/recall/F1, confusion), extractive QA
(SQuAD-style exact match and token F1) and perplexity. Pure Python and numpy.

Conventions: rates are fractions in 0..1 (not percentages); a ratio whose denominator is zero is
0.0, as scikit-learn's `zero_division=0`.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# Classification


def _check_pair(y_true: Sequence[object], y_pred: Sequence[object]) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")


def _labels(y_true: Sequence[Hashable], y_pred: Sequence[Hashable],
            labels: Sequence[Hashable] | None) -> list[Hashable]:
    if labels is not None:
        return list(labels)
    return sorted(set(y_true) | set(y_pred), key=lambda x: (str(type(x)), x))


def confusion_matrix(y_true: Sequence[Hashable], y_pred: Sequence[Hashable],
                     labels: Sequence[Hashable] | None = None) -> np.ndarray:
    """Counts with rows the true label and columns the predicted one, in `labels` order (by
    default the sorted labels seen). Pairs with a label outside `labels` are left out."""
    _check_pair(y_true, y_pred)
    labels = _labels(y_true, y_pred, labels)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        i, j = index.get(t), index.get(p)
        if i is not None and j is not None:
            matrix[i, j] += 1
    return matrix


def accuracy(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> float:
    """The fraction of predictions equal to the truth (0.0 for no examples)."""
    _check_pair(y_true, y_pred)
    if not y_true:
        return 0.0
    return sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(y_true)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def per_class_prf(y_true: Sequence[Hashable], y_pred: Sequence[Hashable],
                  labels: Sequence[Hashable] | None = None
                  ) -> dict[Hashable, tuple[float, float, float, int]]:
    """(precision, recall, F1, support) of each label; support counts the label's true rows."""
    _check_pair(y_true, y_pred)
    labels = _labels(y_true, y_pred, labels)
    true_count = Counter(y_true)
    pred_count = Counter(y_pred)
    hits = Counter(t for t, p in zip(y_true, y_pred, strict=True) if t == p)
    out: dict[Hashable, tuple[float, float, float, int]] = {}
    for label in labels:
        tp, n_pred, n_true = hits[label], pred_count[label], true_count[label]
        precision = _ratio(tp, n_pred)
        recall = _ratio(tp, n_true)
        # 2tp / (2tp + fp + fn), the form that needs no special case when precision is 0.
        f1 = _ratio(2 * tp, n_pred + n_true)
        out[label] = (precision, recall, f1, n_true)
    return out


def macro_f1(y_true: Sequence[Hashable], y_pred: Sequence[Hashable],
             labels: Sequence[Hashable] | None = None) -> float:
    """The unweighted mean of the labels' F1 (labels absent from both count as 0.0)."""
    prf = per_class_prf(y_true, y_pred, labels)
    return float(np.mean([v[2] for v in prf.values()])) if prf else 0.0


def classification_report(y_true: Sequence[Hashable], y_pred: Sequence[Hashable],
                          labels: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Accuracy, macro F1, per-class figures and the confusion matrix, JSON-ready (labels as
    strings, the matrix as nested lists, rows true and columns predicted)."""
    labels = _labels(y_true, y_pred, labels)
    prf = per_class_prf(y_true, y_pred, labels)
    return {
        "n": len(y_true),
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, labels),
        "labels": [str(label) for label in labels],
        "per_class": {
            str(label): {"precision": p, "recall": r, "f1": f, "support": s}
            for label, (p, r, f, s) in prf.items()
        },
        "confusion": confusion_matrix(y_true, y_pred, labels).tolist(),
    }


# ---------------------------------------------------------------------------------------------
# Question answering (SQuAD v1.1 evaluation, rewritten)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_punct(ch: str) -> bool:
    # The official script removes ASCII punctuation only; curly quotes, dashes and other
    # Unicode punctuation are removed here too, so "“cat”" matches "cat".
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(s: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace.

    The text is first put in Unicode NFC form so a composed "é" equals "e" + combining accent;
    accents themselves are kept ("café" is not "cafe").
    """
    s = unicodedata.normalize("NFC", s).lower()
    s = "".join(ch for ch in s if not _is_punct(ch))
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _truths(truths: str | Sequence[str]) -> list[str]:
    out = [truths] if isinstance(truths, str) else list(truths)
    if not out:
        raise ValueError("no reference answers given")
    return out


def exact_match(prediction: str, truths: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised reference, else 0.0."""
    pred = normalize_answer(prediction)
    return max(float(pred == normalize_answer(t)) for t in _truths(truths))


def _f1_tokens(pred: list[str], truth: list[str]) -> float:
    if not pred or not truth:
        # An empty answer (after normalisation) matches only an empty reference.
        return float(pred == truth)
    same = sum((Counter(pred) & Counter(truth)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(truth)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, truths: str | Sequence[str]) -> float:
    """The best bag-of-words F1 of the normalised prediction against any reference."""
    pred = normalize_answer(prediction).split()
    return max(_f1_tokens(pred, normalize_answer(t).split()) for t in _truths(truths))


def qa_report(predictions: Sequence[str],
              truths_list: Sequence[str | Sequence[str]]) -> dict[str, Any]:
    """Mean exact match and token F1 over the examples, as fractions in 0..1 (SQuAD's
    published figures are these times 100)."""
    _check_pair(truths_list, predictions)
    n = len(predictions)
    if n == 0:
        return {"n": 0, "exact_match": 0.0, "f1": 0.0}
    em = sum(exact_match(p, t) for p, t in zip(predictions, truths_list, strict=True))
    f1 = sum(token_f1(p, t) for p, t in zip(predictions, truths_list, strict=True))
    return {"n": n, "exact_match": em / n, "f1": f1 / n}


# ---------------------------------------------------------------------------------------------
# Language modelling


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats); inf when that overflows, nan for a nan loss."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf
