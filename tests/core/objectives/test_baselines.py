"""Majority-class and TF-IDF + logistic regression baselines beside a classifier's score."""

from __future__ import annotations

import json
import sys

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig
from lmstudio_app.core.data.labeled import ClassificationExample, sample_sentiment_path
from lmstudio_app.core.objectives.baselines import (
    INSTALL_HINT,
    MAJORITY,
    TFIDF,
    baseline_lines,
    classification_baselines,
    majority,
)
from lmstudio_app.core.objectives.finetune_setup import load_task_data, make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer


def _ex(pairs: list[tuple[str, str]]) -> list[ClassificationExample]:
    return [ClassificationExample(text, label, i + 2) for i, (text, label) in enumerate(pairs)]


def test_majority_answers_the_most_frequent_training_label():
    train = _ex([("a", "pos"), ("b", "pos"), ("c", "neg")])
    test = _ex([("d", "neg"), ("e", "pos"), ("f", "neg"), ("g", "neg")])
    got = majority(train, test)
    assert got["label"] == "pos" and got["accuracy"] == 0.25
    # F1 of "pos" is 2 * (1/4) * 1 / (1/4 + 1) = 0.4; "neg" is never predicted: 0.
    assert got["macro_f1"] == pytest.approx(0.2)


def test_tfidf_beats_majority_on_the_bundled_sentiment_split():
    split, _ = load_task_data(FinetuneConfig(train_file=str(sample_sentiment_path())))
    got = classification_baselines(split.train, split.val, split.test)
    assert got[MAJORITY]["accuracy"] < 0.5  # three balanced labels
    assert got[TFIDF]["accuracy"] > got[MAJORITY]["accuracy"] + 0.3
    assert got[TFIDF]["C"] in (0.3, 1.0, 3.0, 10.0, 30.0)
    lines = baseline_lines(got)
    assert lines[0].startswith("majority class: accuracy 0.")
    assert lines[1].startswith("TF-IDF + logistic regression: accuracy 0.")


def test_without_scikit_learn_majority_only_and_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed: import fails
    monkeypatch.delitem(sys.modules, "sklearn.feature_extraction.text", raising=False)
    monkeypatch.setitem(sys.modules, "sklearn.feature_extraction.text", None)
    train = _ex([("good fun", "pos"), ("bad day", "neg"), ("good", "pos")])
    got = classification_baselines(train, [], _ex([("bad", "neg")]))
    assert set(got) == {MAJORITY, "note"} and got["note"] == INSTALL_HINT
    assert baseline_lines(got)[-1] == INSTALL_HINT
    assert classification_baselines([], [], train) == {}


def test_a_finetune_writes_its_baselines_on_its_own_split(tmp_path, prepared_data):
    ft = FinetuneConfig(task="classify", train_file=str(sample_sentiment_path()),
                        scratch=True, tokenizer_from=str(prepared_data))
    cfg = make_finetune_config(ft, overrides={
        "n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "max_steps": 2,
        "eval_interval": 2, "eval_batches": 1})
    sink = RecordingSink()
    assert Trainer(cfg, tmp_path / "run", sink).run().reason == "completed", sink.failure
    results = json.loads((tmp_path / "run" / runs.RESULTS).read_text())
    split, _ = load_task_data(ft)
    assert results["baselines"] == classification_baselines(split.train, split.val, split.test)
    assert results["n"] == len(split.test)
