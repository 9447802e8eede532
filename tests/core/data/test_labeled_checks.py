"""Labeled data that cannot be right is refused before training, with the numbers and the fix:
a label column of free text, labels a validation or test file has and training never has,
splits too small to hold a row, a header naming a column twice, and a file whose fields make
another task than the one asked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import (
    ClassificationColumns,
    QAColumns,
    kind_of_file,
    load_classification,
    load_qa,
    load_splits,
    sample_qa_path,
    sample_sentiment_path,
)
from lmstudio_app.core.data.labeled_kinds import KINDS, kind_of_fields
from lmstudio_app.core.errors import UserError


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _sentiment_rows() -> list[dict[str, str]]:
    with sample_sentiment_path().open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_a_label_column_of_free_text_is_refused_and_the_swap_is_named(tmp_path):
    rows = _sentiment_rows()[:100]
    swapped = _csv(tmp_path / "swapped.csv", ["text", "label"],
                   [[r["label"], r["text"]] for r in rows])
    with pytest.raises(UserError) as err:
        load_splits(swapped)
    msg = str(err.value)
    assert "swapped.csv" in msg and "'label' looks like free text" in msg
    assert "100 classes in 100 rows" in msg and "map the label to 'text'" in msg
    assert err.value.field == "label_col" and err.value.option == "text"
    # The dialog's check (one file) refuses it the same way.
    with pytest.raises(UserError, match="looks like free text"):
        load_classification(swapped)


def test_a_third_column_that_looks_like_a_label_is_proposed(tmp_path):
    rows = _sentiment_rows()[:60]
    path = _csv(tmp_path / "three.csv", ["review", "notes", "sentiment"],
                [[r["text"], f"note {i} {r['text'][:30]}", r["label"]]
                 for i, r in enumerate(rows)])
    with pytest.raises(UserError) as err:
        load_splits(path, columns=ClassificationColumns("review", "notes"))
    assert err.value.option == "sentiment" and "map the label to column 'sentiment'" in str(
        err.value)


def test_many_short_classes_with_rows_each_are_not_free_text(tmp_path):
    """Thirty topics of four rows: a real many-class set is left alone."""
    rows = [[f"text number {i} about topic {i % 30}", f"topic{i % 30}"] for i in range(120)]
    split, _ = load_splits(_csv(tmp_path / "topics.csv", ["text", "label"], rows))
    assert sum(split.sizes()) == 120 and min(split.sizes()) > 0


def test_labels_training_never_has_are_refused_with_their_counts(tmp_path):
    rows = _sentiment_rows()
    val = _csv(tmp_path / "val.csv", ["text", "label"],
               [[r["text"], r["label"]] for r in rows[:20]]
               + [["so clever", "sarcastic"], ["oh great", "sarcastic"], ["hm", "unsure"]])
    with pytest.raises(UserError) as err:
        load_splits(sample_sentiment_path(), val)
    msg = str(err.value)
    assert "val.csv" in msg and "3 of 23 validation rows" in msg
    assert "'sarcastic' 2" in msg and "'unsure' 1" in msg
    assert err.value.field == "val_file"


def test_sets_too_small_to_split_are_refused_with_the_numbers(tmp_path):
    rows = _sentiment_rows()
    tiny = _csv(tmp_path / "tiny.csv", ["text", "label"],
                [[r["text"], r["label"]] for r in rows[:4]])
    with pytest.raises(UserError) as err:
        load_splits(tiny)
    msg = str(err.value)
    assert "tiny.csv: 4 usable rows are too few to split" in msg
    assert "training 3, validation 1, test 0" in msg and "test fraction 0.1" in msg
    with pytest.raises(UserError) as err:
        load_splits(sample_sentiment_path(), val_fraction=0.0)
    assert err.value.field == "val_fraction" and "validation fraction is 0" in str(err.value)
    # QA sets too: two rows cannot make three parts.
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({"question": f"q{i}", "context": f"a b {i}",
                                      "answer": "b"}) + "\n" for i in range(2)))
    with pytest.raises(UserError, match="2 usable rows are too few to split"):
        load_splits(qa, columns=QAColumns())


def test_a_header_naming_a_column_twice_is_refused_with_its_line(tmp_path):
    path = _csv(tmp_path / "dup.csv", ["text", "label", "label"], [["good day", "pos", "x"]])
    with pytest.raises(UserError) as err:
        load_classification(path)
    assert str(err.value) == (f"{path}, line 1: the header names column 'label' twice "
                              "(columns 2 and 3); rename one of them.")


def test_a_jsonl_row_giving_a_field_twice_is_skipped_with_its_line(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"text": "good", "label": "pos"}\n'
                    '{"text": "bad", "label": "neg", "label": "pos"}\n'
                    '{"text": "fine", "label": "neg"}\n', encoding="utf-8")
    examples, report = load_classification(path)
    assert [e.line for e in examples] == [1, 3]
    assert report.skipped == [(2, "the field 'label' is given twice; keep one")]


def test_the_files_fields_choose_the_task():
    assert kind_of_file(sample_qa_path()).task == "qa-extractive"
    assert kind_of_file(sample_sentiment_path()).task == "classify"
    assert kind_of_fields([" Question", "CONTEXT", "answer", "id"]).family == "qa"
    assert kind_of_fields(["review", "stars"]) is None
    assert kind_of_fields(["messages", "id"]).task == "sft"
    assert kind_of_fields(["instruction", "input", "output"]).task == "sft"
    assert kind_of_fields(["prompt", "chosen", "rejected"]).task == "dpo"
    assert {k.family for k in KINDS} >= {"classify", "qa", "chat", "preference"}


def test_a_task_that_does_not_match_the_files_fields_is_refused_with_the_task_to_use():
    with pytest.raises(UserError) as err:
        load_classification(sample_qa_path())
    assert "make a question-answering set, not a classification set" in str(err.value)
    assert err.value.field == "task" and err.value.option == "qa-extractive"
    with pytest.raises(UserError) as err:
        load_qa(sample_sentiment_path())
    assert err.value.field == "task" and err.value.option == "classify"
