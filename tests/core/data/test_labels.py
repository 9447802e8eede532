"""Labels that differ only in form are one class: stripped, case merged (or kept apart with a
warning when asked), whole-number decimals read as integers; the report lists the classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import load_classification, load_splits
from lmstudio_app.core.data.labels import LabelProblem, case_groups, normalize_label


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows),
                    encoding="utf-8")
    return path


def test_case_and_space_variants_are_one_class_with_a_report_line(tmp_path: Path) -> None:
    rows = ([(f"good {i}", "positive") for i in range(6)] + [("great", "Positive"),
            ("super", "POSITIVE"), ("fine", "positive ")]
            + [(f"bad {i}", "negative") for i in range(5)] + [("awful", " Negative")])
    examples, report = load_classification(_csv(tmp_path / "mixed.csv", rows))
    assert {e.label for e in examples} == {"positive", "negative"}
    assert dict(report.labels) == {"positive": 9, "negative": 6}
    summary = report.summary()
    assert "2 classes: negative 6, positive 9" in summary
    assert "labels differing only in case merged: 'POSITIVE', 'Positive' -> 'positive' " \
           "(2 rows)" in summary
    assert "'Negative' -> 'negative' (1 rows)" in summary


def test_variants_kept_apart_when_asked_with_a_warning(tmp_path: Path) -> None:
    rows = [("a", "positive"), ("b", "Positive"), ("c", "negative"), ("d", "positive")]
    examples, report = load_classification(_csv(tmp_path / "mixed.csv", rows),
                                           keep_label_case=True)
    assert [e.label for e in examples] == ["positive", "Positive", "negative", "positive"]
    assert "3 classes" in report.summary()
    assert any(n.startswith("warning: labels 'Positive', 'positive' differ only in case")
               for n in report.notes)


def test_whole_number_decimals_are_their_integers(tmp_path: Path) -> None:
    csv_rows = [("a", "1.0"), ("b", "0.0"), ("c", "1"), ("d", "0"), ("e", "1.00")]
    examples, report = load_classification(_csv(tmp_path / "nums.csv", csv_rows))
    assert [e.label for e in examples] == ["1", "0", "1", "0", "1"]
    assert dict(report.labels) == {"1": 3, "0": 2}
    assert "3 labels written as whole-number decimals" in report.summary()
    jsonl = tmp_path / "nums.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"text": "a", "label": 1.0}, {"text": "b", "label": 0.0}, {"text": "c", "label": 2},
        {"text": "d", "label": 0.5}]) + "\n", encoding="utf-8")
    examples, report = load_classification(jsonl)
    assert [e.label for e in examples] == ["1", "0", "2"]
    assert report.skipped == [(4, "the label ('label') is the fraction 0.5, not a class name")]


def test_files_of_one_split_share_the_class_names(tmp_path: Path) -> None:
    train = _csv(tmp_path / "train.csv", [(f"t{i}", "positive" if i % 2 else "negative")
                                          for i in range(20)])
    val = _csv(tmp_path / "val.csv", [("v1", "Positive"), ("v2", "NEGATIVE"), ("v3", "Positive")])
    split, reports = load_splits(train, val, val_fraction=0.0, test_fraction=0.2)
    assert {e.label for e in split.val} == {"positive", "negative"}
    assert "'NEGATIVE' -> 'negative'" in reports["val"].summary()
    assert dict(reports["val"].labels) == {"positive": 2, "negative": 1}


def test_normalize_label_rules() -> None:
    assert normalize_label("  x  ", "c") == ("x", False)
    assert normalize_label("-3.000", "c") == ("-3", True)
    assert normalize_label(True, "c") == ("true", False)
    assert normalize_label("1.5", "c") == ("1.5", False)  # a name that happens to be a number
    for bad in (None, "  ", [1], {"a": 1}, 2.5):
        with pytest.raises(LabelProblem):
            normalize_label(bad, "c")
    assert case_groups(["a", "A", "A", "b"]) == {"a": "A"}  # the most frequent form names it
