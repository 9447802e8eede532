"""Baselines beside a classifier's score, on the same split: the majority class, and TF-IDF +
logistic regression (scikit-learn, an optional dependency).

"0.66 accuracy" means little alone: on a 3-label tweet set the majority class scores 0.43 and a
bag of word n-grams 0.68. Both baselines are fitted on the same training rows, tuned (the
regression's C) on the same validation rows and scored on the same test rows as the model.

The TF-IDF recipe follows scikit-learn's text classification tutorial (Pedregosa et al., 2011,
JMLR 12): word 1-2 grams, sublinear tf, min_df 2, C chosen from a small grid on validation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..data.labeled import label_names
from . import scores

MAJORITY = "majority"
TFIDF = "tfidf_logreg"
TITLES = {MAJORITY: "majority class", TFIDF: "TF-IDF + logistic regression"}
INSTALL_HINT = ("TF-IDF + logistic regression needs scikit-learn: "
                "pip install 'lmstudio-app[baselines]'")
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


def majority(train: Sequence[Any], test: Sequence[Any]) -> dict[str, Any]:
    """Always the most frequent training label (ties: the first seen). `train`, `test`:
    examples with `.label`. Returns accuracy and macro F1 on `test`, and the label."""
    top = Counter(e.label for e in train).most_common(1)[0][0]
    truth = [e.label for e in test]
    pred = [top] * len(truth)
    return {"accuracy": scores.accuracy(truth, pred),
            "macro_f1": scores.macro_f1(truth, pred, label_names(train)), "label": top}


def sklearn_available() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def tfidf_logreg(train: Sequence[Any], val: Sequence[Any], test: Sequence[Any]
                 ) -> dict[str, Any] | None:
    """TF-IDF + logistic regression: test accuracy and macro F1, the C kept and its validation
    accuracy; None without scikit-learn. With no validation rows, C = 1."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    min_df = 2 if len(train) >= 50 else 1  # a tiny set has few repeated words
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True,
                          token_pattern=r"(?u)[#@]?\b\w+\b")
    x_train = vec.fit_transform([e.text for e in train])
    y_train = [e.label for e in train]
    grid = C_GRID if val else (1.0,)
    best: tuple[float, float, Any] | None = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        score = (scores.accuracy([e.label for e in val],
                                 list(model.predict(vec.transform([e.text for e in val]))))
                 if val else float("nan"))
        if best is None or score > best[0]:
            best = (score, c, model)
    assert best is not None
    val_score, c, model = best
    truth = [e.label for e in test]
    pred = [str(p) for p in model.predict(vec.transform([e.text for e in test]))]
    return {"accuracy": scores.accuracy(truth, pred),
            "macro_f1": scores.macro_f1(truth, pred, label_names(train)),
            "C": c, "val_accuracy": val_score}


def classification_baselines(train: Sequence[Any], val: Sequence[Any],
                             test: Sequence[Any]) -> dict[str, Any]:
    """Both baselines on one split, for results.json's "baselines": {"majority": {...},
    "tfidf_logreg": {...}} or, without scikit-learn, {"majority": {...}, "note": hint}.
    Empty when there is nothing to fit or score."""
    if not train or not test:
        return {}
    out: dict[str, Any] = {MAJORITY: majority(train, test)}
    if len({e.label for e in train}) < 2:
        return out
    fitted = tfidf_logreg(train, val, test)
    if fitted is None:
        out["note"] = INSTALL_HINT
    else:
        out[TFIDF] = fitted
    return out


def baseline_lines(baselines: dict[str, Any], metric: str = "accuracy") -> list[str]:
    """What both faces print beside a score: one line per baseline, then the note if any."""
    lines = [f"{TITLES[k]}: {metric} {v[metric]:.4f}" for k, v in baselines.items()
             if k in TITLES and isinstance(v, dict) and isinstance(v.get(metric), float)]
    if isinstance(baselines.get("note"), str):
        lines.append(baselines["note"])
    return lines
