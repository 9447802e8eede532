"""Labeled datasets: reading, column mapping, validation reports, splits and the bundled samples."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import (
    ClassificationColumns,
    ClassificationExample,
    QAColumns,
    detect_columns,
    label_names,
    load_classification,
    load_qa,
    load_splits,
    preview_rows,
    sample_qa_path,
    sample_sentiment_path,
    stratified_split,
)
from lmstudio_app.core.errors import UserError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _jsonl(path: Path, rows: list[object | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    return _write(path, "\n".join(lines) + "\n")


# --- classification -------------------------------------------------------------------------


def test_csv_malformed_rows_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "reviews.csv", (
        "text,label\n"                          # 1
        "Lovely little hotel,positive\n"        # 2
        '"A quoted text\nover two lines",neutral\n'  # 3-4
        "too,many,fields\n"                     # 5
        "\n"                                    # 6 (blank: ignored)
        ",negative\n"                           # 7 empty text
        "No label at all,\n"                    # 8 empty label
        "only one field\n"                      # 9
        "Cold soup and a rude waiter , negative \n"  # 10 (label stripped)
    ))
    examples, report = load_classification(path)
    assert [(e.line, e.label) for e in examples] == [(2, "positive"), (3, "neutral"),
                                                     (10, "negative")]
    assert examples[1].text == "A quoted text\nover two lines"
    assert examples[2].text == "Cold soup and a rude waiter"
    assert report.skipped == [(5, "3 fields but the header has 2"), (7, "empty text"),
                              (8, "empty label"), (9, "1 fields but the header has 2")]
    assert (report.rows_read, report.rows_used, report.empty) == (7, 3, 2)
    assert report.labels == Counter(positive=1, neutral=1, negative=1)
    summary = report.summary()
    assert "reviews.csv: 3 of 7 rows used, 4 skipped" in summary
    assert "line 5: 3 fields but the header has 2" in summary
    assert json.loads(json.dumps(report.to_dict()))["skipped"][1] == {"line": 7,
                                                                       "reason": "empty text"}


def test_jsonl_malformed_rows_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "rows.jsonl", [
        {"review": "Great battery life", "stars": "positive"},   # 1
        '{"review": "broken json", ',                             # 2
        "",                                                       # 3 blank
        ["a", "list"],                                            # 4
        {"review": "No stars here"},                              # 5
        {"review": 42, "stars": "neutral"},                       # 6
        {"review": "Rated with a number", "stars": 3},            # 7
        {"review": "   ", "stars": "negative"},                   # 8
        {"review": "Fraction label", "stars": 0.5},               # 9
    ])
    cols = ClassificationColumns(text="review", label="stars")
    examples, report = load_classification(path, cols)
    assert [(e.line, e.text, e.label) for e in examples] == [
        (1, "Great battery life", "positive"), (7, "Rated with a number", "3")]
    reasons = dict(report.skipped)
    assert sorted(reasons) == [2, 4, 5, 6, 8, 9]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[4] == "expected a JSON object, found a list"
    assert reasons[5] == "no label field 'stars'"
    assert reasons[6] == "the text ('review') is a number, not text"
    assert reasons[8] == "empty text"
    assert "not a class name" in reasons[9]
    assert report.rows_read == 8


def test_tsv_and_gzip_and_header_bom(tmp_path: Path) -> None:
    tsv = _write(tmp_path / "a.tsv", "\ufeffsentence\tsentiment\nA, with comma\tpositive\n")
    (ex,), _ = load_classification(tsv, ClassificationColumns("sentence", "sentiment"))
    assert (ex.text, ex.label) == ("A, with comma", "positive")
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"text": "zipped", "label": "neutral"}\n'))
    (ex,), _ = load_classification(gz)
    assert (ex.text, ex.label, ex.line) == ("zipped", "neutral", 1)


def test_missing_column_names_file_column_and_the_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.csv", "sentence,label\nhello,positive\n")
    with pytest.raises(UserError) as err:
        load_classification(path)
    msg = str(err.value)
    assert "data.csv" in msg and "'text'" in msg and "'sentence', 'label'" in msg
    assert "map the text to one of them" in msg
    # A semicolon-separated file is read by its delimiter; told "comma", the message names the
    # delimiter the header shows.
    semi = _write(tmp_path / "semi.csv", "text;label\nhello, world;positive\nbye;negative\n")
    examples, report = load_classification(semi)
    assert [(e.text, e.label) for e in examples] == [("hello, world", "positive"),
                                                     ("bye", "negative")]
    assert "semicolon-separated" in report.summary()
    with pytest.raises(UserError, match="separated by semicolon") as err:
        load_classification(semi, delimiter="comma")
    assert (err.value.field, err.value.option) == ("delimiter", "semicolon")
    js = _jsonl(tmp_path / "data.jsonl", [{"text": "a", "sentiment": "positive"}])
    with pytest.raises(UserError, match=r"no field 'label'.*'text', 'sentiment'"):
        load_classification(js)
    with pytest.raises(UserError, match="more than one role"):
        load_classification(path, ClassificationColumns("label", "label"))


def test_no_usable_rows_is_an_error_that_says_why(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", "text,label\n,positive\nfoo,\n")
    with pytest.raises(UserError, match=r"bad\.csv: no usable rows .*line 2, empty text"):
        load_classification(path)
    with pytest.raises(UserError, match="holds no rows"):
        load_classification(_write(tmp_path / "header.csv", "text,label\n"))
    with pytest.raises(UserError, match="unsupported file type"):
        load_classification(_write(tmp_path / "x.txt", "hi"))


def test_invalid_utf8_names_the_file_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nCaf\u00e9 au lait,positive\n".encode("latin-1"))
    # "text,label\n" is 11 bytes, "Caf" 3 more: the bad byte 0xe9 is at offset 14.
    with pytest.raises(UserError, match=r"latin\.csv, line 2: not valid UTF-8 at byte offset 14"):
        load_classification(path)
    (ex,), _ = load_classification(path, encoding="latin-1")
    assert ex.text == "Caf\u00e9 au lait"
    (ex,), _ = load_classification(path, encoding="replace")
    assert ex.text == "Caf\ufffd au lait"
    (ex,), _ = load_classification(path, encoding="cp1252")
    assert ex.text == "Caf\u00e9 au lait"
    with pytest.raises(UserError, match="encoding 'ascii'"):
        load_classification(path, encoding="ascii")


def test_duplicates_and_conflicts_are_counted(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", (
        "text,label\n"
        "Fine.,neutral\n"       # 2
        "Awful.,negative\n"     # 3
        "Fine.,neutral\n"       # 4 duplicate, same label
        "Fine.,positive\n"      # 5 duplicate, conflicting
        "Awful.,negative\n"     # 6 duplicate
        "Superb.,positive\n"
    ))
    examples, report = load_classification(path)
    assert len(examples) == 6  # duplicates are kept, only counted
    assert report.duplicates == 3
    assert len(report.conflicts) == 1
    conflict = report.conflicts[0]
    assert (conflict.text, conflict.labels, conflict.lines) == ("Fine.", ("neutral", "positive"),
                                                                (2, 4, 5))
    assert "1 texts with conflicting labels, e.g. lines 2, 4, 5" in report.summary()


def test_detect_columns_and_preview(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "p.csv", "a,b,c\n1,2,3\nbroken\n4,5,6\n")
    assert detect_columns(csv_path) == ["a", "b", "c"]
    assert preview_rows(csv_path, n=5) == [{"a": "1", "b": "2", "c": "3"},
                                           {"a": "4", "b": "5", "c": "6"}]
    js = _jsonl(tmp_path / "p.jsonl", [{"x": 1}, "nope", {"y": 2, "x": 3}, {"z": 0}])
    assert detect_columns(js) == ["x", "y", "z"]
    assert preview_rows(js, n=2) == [{"x": 1}, {"y": 2, "x": 3}]


# --- question answering ----------------------------------------------------------------------


def test_qa_answer_start_is_found_corrected_or_reported(tmp_path: Path) -> None:
    ctx = "Anne walked to Lyme with Anne's friends; at Lyme the sea was grey."
    lyme_first, lyme_second = ctx.index("Lyme"), ctx.index("Lyme", ctx.index("Lyme") + 1)
    path = _jsonl(tmp_path / "qa.jsonl", [
        {"question": "Where?", "context": ctx, "answer": "Lyme"},                      # 1 found
        {"question": "Where?", "context": ctx, "answer": "Lyme", "start": lyme_second},  # 2 ok
        {"question": "Where?", "context": ctx, "answer": "Lyme", "start": lyme_second - 3},
        {"question": "Where?", "context": ctx, "answer": "Bath"},                      # 4 absent
        {"question": "", "context": ctx, "answer": "Anne"},                            # 5 empty
        {"question": "Colour?", "context": ctx, "answer": " grey", "start": ctx.index(" grey")},
        {"question": "Bad offset", "context": ctx, "answer": "sea", "start": "x"},    # 7
        {"question": "Squad style", "context": ctx,
         "answer": {"text": ["sea"], "answer_start": [ctx.index("sea")]}},            # 8
    ])
    examples, report = load_qa(path, QAColumns(answer_start="start"))
    starts = {e.line: e.answer_start for e in examples}
    assert starts == {1: lyme_first, 2: lyme_second, 3: lyme_second, 6: ctx.index("grey"),
                      8: ctx.index("sea")}
    for e in examples:
        assert e.context[e.answer_start:e.answer_start + len(e.answer)] == e.answer
    assert report.answer_starts_found == 1
    assert report.answer_starts_corrected == [(3, lyme_second - 3, lyme_second)]
    assert report.answers_not_found == 1
    assert dict(report.skipped) == {4: "answer not found in the context",
                                    5: "empty question",
                                    7: "answer_start 'x' is not a whole number"}
    assert report.duplicates == 2  # rows 2 and 3 repeat row 1's question and context
    assert "1 answer offsets corrected" in report.summary()


def test_qa_offsets_count_characters_not_bytes(tmp_path: Path) -> None:
    # Accented letters take two bytes in UTF-8 and the clef four: offsets must be characters.
    ctx = "Dvo\u0159\u00e1k heard the \U0001d11e clef in Z\u00fcrich, then went to S\u00e3o Paulo."
    path = tmp_path / "u.csv"
    path.write_text(f'question,context,answer\nWhere next?,"{ctx}",S\u00e3o Paulo\n',
                    encoding="utf-8")
    (ex,), report = load_qa(path)
    assert ex.answer_start == ctx.index("S\u00e3o Paulo") == 48
    assert report.answer_starts_found == 1


def test_qa_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", "q,context,answer\nWho?,Emma,Emma\n")
    with pytest.raises(UserError, match=r"no column 'question' for the question .*'q'"):
        load_qa(path)
    (ex,), _ = load_qa(path, QAColumns(question="q"))
    assert (ex.question, ex.answer_start) == ("Who?", 0)
    with pytest.raises(UserError, match="no column 'pos' for the answer_start"):
        load_qa(path, QAColumns(question="q", answer_start="pos"))


# --- splits and labels -----------------------------------------------------------------------


def _examples(counts: dict[str, int]) -> list[ClassificationExample]:
    out: list[ClassificationExample] = []
    for label, n in counts.items():
        for i in range(n):
            out.append(ClassificationExample(f"{label} {i}", label, len(out) + 2))
    return out


@pytest.mark.parametrize("counts", [
    {"positive": 100, "negative": 57, "neutral": 23},
    {"a": 7, "b": 3, "c": 40, "d": 11},
    {"x": 1000, "y": 9},
])
def test_stratified_split_keeps_proportions_and_is_deterministic(counts) -> None:
    examples = _examples(counts)
    split = stratified_split(examples, val_fraction=0.1, test_fraction=0.15, seed=7)
    assert sorted(split.train + split.val + split.test, key=lambda e: e.line) == examples
    for part, fraction in ((split.val, 0.1), (split.test, 0.15)):
        got = Counter(e.label for e in part)
        for label, n in counts.items():
            assert abs(got[label] - n * fraction) <= 1, (label, got[label], n * fraction)
            assert got[label] >= 1  # every label appears in every part
    again = stratified_split(list(examples), val_fraction=0.1, test_fraction=0.15, seed=7)
    assert (again.train, again.val, again.test) == (split.train, split.val, split.test)
    other = stratified_split(examples, val_fraction=0.1, test_fraction=0.15, seed=8)
    assert other.val != split.val


def test_split_of_tiny_classes_keeps_one_for_training() -> None:
    examples = _examples({"big": 30, "two": 2, "one": 1})
    split = stratified_split(examples, 0.1, 0.1, seed=1)
    train = Counter(e.label for e in split.train)
    assert train["one"] == 1 and train["two"] == 1
    assert Counter(e.label for e in split.val)["two"] == 1
    with pytest.raises(UserError, match="together below 1"):
        stratified_split(examples, 0.5, 0.5)


def test_qa_split_is_a_seeded_shuffle(tmp_path: Path) -> None:
    rows = [{"question": f"q{i}", "context": f"c{i} ans", "answer": "ans"} for i in range(50)]
    examples, _ = load_qa(_jsonl(tmp_path / "qa.jsonl", rows))
    split = stratified_split(examples, 0.1, 0.2, seed=3)
    assert split.sizes() == (35, 5, 10)
    assert stratified_split(examples, 0.1, 0.2, seed=3).test == split.test
    assert [e.line for e in split.train] != sorted(e.line for e in split.train)


def test_load_splits_splits_only_what_is_missing(tmp_path: Path) -> None:
    body = "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(40))
    train = _write(tmp_path / "train.csv", "text,label\n" + body)
    test = _write(tmp_path / "test.csv", "text,label\nheld out,a\nheld out too,b\n")
    split, reports = load_splits(train, test=test, val_fraction=0.2)
    assert split.sizes() == (32, 8, 2)
    assert [e.text for e in split.test] == ["held out", "held out too"]
    assert sorted(reports) == ["test", "train"]
    full, _ = load_splits(train)
    assert full.sizes() == (32, 4, 4)
    given, reports = load_splits(train, val=test, test=test)
    assert given.sizes() == (40, 2, 2) and sorted(reports) == ["test", "train", "val"]


def test_label_names_order() -> None:
    assert label_names(["positive", "neutral", "negative", "neutral"]) == [
        "negative", "neutral", "positive"]
    assert label_names(["Positive", "Negative", "Neutral"]) == ["Negative", "Neutral",
                                                                "Positive"]
    assert label_names(["10", "2", "1"]) == ["1", "2", "10"]
    assert label_names(["sport", "Arts", "news"]) == ["Arts", "news", "sport"]
    assert label_names(_examples({"b": 1, "a": 2})) == ["a", "b"]


# --- bundled samples -------------------------------------------------------------------------


def test_bundled_sentiment_sample_is_clean_and_balanced() -> None:
    examples, report = load_classification(sample_sentiment_path())
    assert report.skipped == [] and report.duplicates == 0 and report.conflicts == []
    assert label_names(examples) == ["negative", "neutral", "positive"]
    counts = report.labels
    assert sum(counts.values()) >= 500
    assert max(counts.values()) - min(counts.values()) <= len(examples) * 0.05


def test_bundled_qa_sample_offsets_are_exact() -> None:
    path = sample_qa_path()
    examples, report = load_qa(path, QAColumns(answer_start="answer_start"))
    assert report.skipped == [] and report.answer_starts_corrected == []
    assert report.answer_starts_found == 0 and len(examples) >= 250
    raw = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert len(raw) == len(examples)
    for row in raw:
        start = row["answer_start"]
        assert row["context"][start:start + len(row["answer"])] == row["answer"]
    assert any(not row["context"].isascii() for row in raw)
    assert any(not row["answer"].isascii() for row in raw)


def test_qa_csv_with_some_offsets_left_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "qa.csv", (
        "question,context,answer,start\n"
        "Who?,Emma and Harriet walked to Highbury.,Harriet,9\n"
        "Where?,Emma and Harriet walked to Highbury.,Highbury,\n"
        "Whom?,Emma and Harriet walked to Highbury.,Emma,12\n"
    ))
    examples, report = load_qa(path, QAColumns(answer_start="start"))
    assert [e.answer_start for e in examples] == [9, 27, 0]
    assert report.answer_starts_found == 1
    assert report.answer_starts_corrected == [(4, 12, 0)]
    assert "1 answer offsets located by search" in report.summary()


def test_bundled_sentiment_split_keeps_the_balance() -> None:
    examples, _ = load_classification(sample_sentiment_path())
    split = stratified_split(examples)
    assert split.sizes() == (480, 60, 60)
    for part in (split.val, split.test):
        assert Counter(e.label for e in part) == Counter(negative=20, neutral=20, positive=20)


def test_duplicates_never_straddle_two_parts() -> None:
    examples = [ClassificationExample(f"text {i % 40}", "ab"[i % 2], i + 2) for i in range(200)]
    examples += [ClassificationExample(f"unique {i}", "ab"[i % 2], 300 + i) for i in range(100)]
    split = stratified_split(examples, val_fraction=0.2, test_fraction=0.2, seed=5)
    parts = [{e.text for e in part} for part in (split.train, split.val, split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sum(split.sizes()) == 300
    assert all(split.sizes())
    # Without grouping, the copies of 40 texts x 5 spread over the parts.
    free = stratified_split(examples, 0.2, 0.2, seed=5, together=None)
    assert {e.text for e in free.train} & {e.text for e in free.test}
