"""Metrics against figures worked out by hand, and against scikit-learn when it is installed."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from lmstudio_app.core.objectives.scores import (
    accuracy,
    classification_report,
    confusion_matrix,
    exact_match,
    macro_f1,
    normalize_answer,
    per_class_prf,
    perplexity,
    qa_report,
    token_f1,
)

LABELS = ["negative", "neutral", "positive"]
# Ten fixed predictions over three classes.
Y_TRUE = ["negative", "negative", "negative", "negative", "neutral", "neutral", "neutral",
          "positive", "positive", "positive"]
Y_PRED = ["negative", "negative", "neutral", "positive", "neutral", "neutral", "negative",
          "positive", "positive", "neutral"]


def test_confusion_matrix_by_hand() -> None:
    # Rows true, columns predicted (neg, neu, pos):
    #   true negative: predicted neg, neg, neu, pos -> [2, 1, 1]
    #   true neutral:  predicted neu, neu, neg      -> [1, 2, 0]
    #   true positive: predicted pos, pos, neu      -> [0, 1, 2]
    expected = np.array([[2, 1, 1], [1, 2, 0], [0, 1, 2]])
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, LABELS), expected)
    # Another label order permutes rows and columns the same way.
    np.testing.assert_array_equal(
        confusion_matrix(Y_TRUE, Y_PRED, ["positive", "negative", "neutral"]),
        expected[[2, 0, 1]][:, [2, 0, 1]])
    # Labels default to the sorted labels seen; pairs outside the given labels are left out.
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED), expected)
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, ["negative", "neutral"]),
                                  [[2, 1], [1, 2]])


def test_accuracy_precision_recall_f1_by_hand() -> None:
    # The diagonal holds 2 + 2 + 2 = 6 of 10.
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.6)
    # Precision = diagonal / column sum, recall = diagonal / row sum:
    #   negative: columns 2+1+0 = 3 -> P 2/3; row 4 -> R 2/4; F1 = 2PR/(P+R) = 4/7
    #   neutral:  column 1+2+1 = 4 -> P 2/4; row 3 -> R 2/3; F1 = 4/7
    #   positive: column 1+0+2 = 3 -> P 2/3; row 3 -> R 2/3; F1 = 2/3
    prf = per_class_prf(Y_TRUE, Y_PRED, LABELS)
    expected = {"negative": (2 / 3, 1 / 2, 4 / 7, 4), "neutral": (1 / 2, 2 / 3, 4 / 7, 3),
                "positive": (2 / 3, 2 / 3, 2 / 3, 3)}
    assert list(prf) == LABELS
    for label, values in expected.items():
        assert prf[label] == pytest.approx(values)
    assert macro_f1(Y_TRUE, Y_PRED, LABELS) == pytest.approx((4 / 7 + 4 / 7 + 2 / 3) / 3)


def test_zero_division_gives_zero() -> None:
    # "b" is never predicted (precision 0/0) and "c" never occurs (recall 0/0, support 0).
    prf = per_class_prf(["a", "b"], ["a", "a"], ["a", "b", "c"])
    assert prf["a"] == pytest.approx((0.5, 1.0, 2 / 3, 1))
    assert prf["b"] == (0.0, 0.0, 0.0, 1)
    assert prf["c"] == (0.0, 0.0, 0.0, 0)
    assert macro_f1(["a", "b"], ["a", "a"], ["a", "b", "c"]) == pytest.approx(2 / 9)
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        accuracy(["a", "b"], ["a"])


def test_classification_report_is_json_ready() -> None:
    report = classification_report(Y_TRUE, Y_PRED, LABELS)
    again = json.loads(json.dumps(report))
    assert again == report
    assert report["confusion"] == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["per_class"]["neutral"]["support"] == 3
    assert report["labels"] == LABELS and report["n"] == 10
    # Integer class ids become string keys.
    assert list(classification_report([0, 1], [0, 0])["per_class"]) == ["0", "1"]


def test_matches_scikit_learn_on_random_labels() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = random.Random(5)
    labels = ["negative", "neutral", "positive", "other"]
    for n in (1, 7, 50, 300):
        y_true = [rng.choice(labels[:3]) for _ in range(n)]
        y_pred = [rng.choice(labels) for _ in range(n)]
        assert accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
        np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, labels),
                                      sk.confusion_matrix(y_true, y_pred, labels=labels))
        p, r, f, s = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                        zero_division=0)
        ours = per_class_prf(y_true, y_pred, labels)
        for i, label in enumerate(labels):
            assert ours[label] == pytest.approx((p[i], r[i], f[i], s[i]))
        assert macro_f1(y_true, y_pred, labels) == pytest.approx(
            sk.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


@pytest.mark.parametrize(("raw", "normal"), [
    ("The  Cat!", "cat"),
    ("cat", "cat"),
    ("A cat, an owl and the dog.", "cat owl and dog"),
    ("Theatre", "theatre"),  # "the" only as a whole word
    ("an apple a day", "apple day"),
    ("  Mr. Darcy's\tletter\n", "mr darcys letter"),
    ("\u201cCaf\u00e9\u201d \u2014 Z\u00dcRICH", "caf\u00e9 z\u00fcrich"),
    ("Cafe\u0301", "caf\u00e9"),  # a combining accent equals the composed letter
    ("$1,000.50", "100050"),
    ("\u00bfQu\u00e9?", "qu\u00e9"),
    ("", ""),
])
def test_normalize_answer(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


def test_exact_match_and_token_f1_by_hand() -> None:
    assert exact_match("The Cat!", ["dog", "cat"]) == 1.0
    assert exact_match("a cat", "the dog") == 0.0
    assert exact_match("caf\u00e9", ["cafe"]) == 0.0  # accents are kept
    # "the quick brown fox" -> [quick, brown, fox]; truth "brown fox jumps" -> [brown, fox,
    # jumps]; 2 shared tokens: P = 2/3, R = 2/3, F1 = 2/3.
    assert token_f1("the quick brown fox", ["brown fox jumps"]) == pytest.approx(2 / 3)
    # Repeated tokens count once per occurrence: pred [to, to, to] vs [to, be]: 1 shared,
    # P = 1/3, R = 1/2, F1 = 2 * (1/6) / (5/6) = 0.4.
    assert token_f1("to to to", "to be") == pytest.approx(0.4)
    # The best reference counts.
    assert token_f1("Lyme Regis", ["Bath", "Lyme"]) == pytest.approx(2 / 3)
    assert token_f1("nothing", ["else"]) == 0.0
    # An answer that normalises to nothing only matches a reference that does too.
    assert token_f1("the", ["a"]) == 1.0 and token_f1("the", ["cat"]) == 0.0
    with pytest.raises(ValueError):
        exact_match("x", [])


def test_qa_report_fractions() -> None:
    report = qa_report(["Elizabeth", "in Bath", "Kellynch Hall"],
                       [["Elizabeth Bennet", "Elizabeth"], "Bath", ["Uppercross"]])
    # EM: 1 + 0 + 0 = 1/3. F1: 1 + (P 1/2, R 1 -> 2/3) + 0 = 5/3 over 3 = 5/9.
    assert report == {"n": 3, "exact_match": pytest.approx(1 / 3), "f1": pytest.approx(5 / 9)}
    assert qa_report([], []) == {"n": 0, "exact_match": 0.0, "f1": 0.0}


def test_perplexity() -> None:
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50.0)) == pytest.approx(50.0)
    assert perplexity(1e6) == math.inf
    assert math.isnan(perplexity(float("nan")))
