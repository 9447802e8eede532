"""One reader of delimited files for corpora and labeled sets: the same rows, the same count,
the same message for a quote that opens and never closes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.core.data.corpus import CorpusOptions, read_documents
from lmstudio_app.core.data.labeled import detect_columns, load_classification
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.text import TextNotes
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.errors import UserError

LABELS = ("positive", "negative")


def _reviews(n: int = 80) -> list[tuple[str, str]]:
    words = ["lovely", "awful", "fine, really", "dull; slow", "bright", "grim"]
    return [(f"Review {i}: {words[i % 6]} stay, would {'' if i % 2 else 'not '}return",
             LABELS[i % 2]) for i in range(n)]


def _write_tsv(path: Path, rows: list[tuple[str, str]], bad_line: int) -> Path:
    lines = ["text\tlabel"] + [f"{t}\t{label}" for t, label in rows]
    lines[bad_line - 1] = '"' + lines[bad_line - 1]  # a quote that opens and never closes
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_tsv_with_an_unclosed_quote_reads_the_same_everywhere(tmp_path: Path) -> None:
    rows = _reviews()
    path = _write_tsv(tmp_path / "reviews.tsv", rows, bad_line=7)
    # The first lines show quotes used as text: both readers read 80 rows, and say why.
    examples, report = load_classification(path)
    assert report.rows_read == report.rows_used == 80
    assert examples[5].text == '"' + rows[5][0]
    assert any("line 7: a quote opens and never closes" in n for n in report.notes)
    notes = TextNotes()
    docs = list(read_documents(path, CorpusOptions(), notes=notes))
    assert len(docs) == 80 and docs == [e.text for e in examples]
    assert any("line 7: a quote opens and never closes" in n for n in notes.lines())
    # Read with standard quoting, both refuse at the line where the quote opens.
    for read in (lambda: load_classification(path, quoting="standard"),
                 lambda: list(read_documents(path, CorpusOptions(quoting="standard")))):
        with pytest.raises(UserError, match=r"reviews\.tsv, line 7: a quote opens here and "
                                            r"never closes") as err:
            read()
        assert (err.value.field, err.value.option) == ("quoting", "none")


def test_an_unclosed_quote_deep_in_a_csv_is_refused_at_its_line(tmp_path: Path) -> None:
    rows = [(t.replace(",", ""), label) for t, label in _reviews()]
    lines = ["text,label"] + [f"{t},{label}" for t, label in rows]
    lines[60] = '"' + rows[59][0] + ",positive"  # opens on line 61, never closes
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for read in (lambda: load_classification(path),
                 lambda: list(read_documents(path, CorpusOptions()))):
        with pytest.raises(UserError, match=r"reviews\.csv, line 61: a quote opens here and "
                                            r"never closes \(the rest of the file, 21 lines"):
            read()
    # One that closes lines later, followed by text, names both lines.
    lines[60] = '"' + rows[59][0] + ",positive"
    lines[64] = 'then "it closes" here,negative'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"line 61: a quote opens here and closes only at line "
                                        r"65"):
        load_classification(path)


def test_a_semicolon_csv_keeps_its_commas(tmp_path: Path) -> None:
    rows = _reviews(30)
    path = tmp_path / "excel-de.csv"
    quoted = [(f'"{t}"' if ";" in t else t, label) for t, label in rows]
    path.write_text("text;label\r\n" + "".join(f"{t};{label}\r\n" for t, label in quoted),
                    encoding="utf-8")
    docs = list(read_documents(path, CorpusOptions()))
    assert docs == [t for t, _ in rows]  # not cut at their commas
    with pytest.raises(UserError, match="looks separated by semicolon") as err:
        list(read_documents(path, CorpusOptions(delimiter="comma")))
    assert (err.value.field, err.value.option) == ("delimiter", "semicolon")
    forced = CorpusOptions(delimiter="comma", text_field="text;label")  # the old advice
    with pytest.raises(UserError, match="line 2: the row has 2 fields but the header has 1"):
        list(read_documents(path, forced))  # refused, not texts cut at their first comma
    examples, report = load_classification(path)
    assert [(e.text, e.label) for e in examples] == rows
    assert "semicolon-separated (detected)" in report.summary()
    assert detect_columns(path) == ["text", "label"]
    result = prepare(PrepareConfig(sources=[str(path)], out_dir=str(tmp_path / "out"),
                                   tokenizer=TokenizerSpec("char", 400)))
    assert result.train_documents + result.val_documents == 30


def test_unquoted_delimiters_in_a_text_column_are_a_line_not_a_cut(tmp_path: Path) -> None:
    path = tmp_path / "texts.csv"
    path.write_text("text\nplain text\nHello, world, twice\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"texts\.csv, line 3: the row has 3 fields but the "
                                        r"header has 1") as err:
        list(read_documents(path, CorpusOptions()))
    assert err.value.field == "delimiter"
    path.write_text('text\nplain text\n"Hello, world, twice"\n', encoding="utf-8")  # advice
    assert list(read_documents(path, CorpusOptions())) == ["plain text", "Hello, world, twice"]


def test_row_counts_can_be_checked_by_a_person(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('text,label\n"two\nlines",positive\nshort,negative\n"three\nmore\nlines",'
                    'positive\n', encoding="utf-8")
    examples, report = load_classification(path)
    assert [e.line for e in examples] == [2, 4, 5]
    assert report.rows_read == 3 and "2 rows span several lines" in report.summary()


def test_stated_delimiter_and_quoting_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "pipes.csv"
    path.write_text("text|label\na, b|positive\nc|negative\n", encoding="utf-8")
    examples, _ = load_classification(path, delimiter="pipe")
    assert [e.text for e in examples] == ["a, b", "c"]
    with pytest.raises(UserError, match="delimiter 'colon'") as err:
        load_classification(path, delimiter="colon")
    assert err.value.field == "delimiter"
    with pytest.raises(UserError, match="quoting 'minimal'"):
        list(read_documents(path, CorpusOptions(quoting="minimal")))
