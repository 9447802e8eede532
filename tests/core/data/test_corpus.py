"""Reading corpora: folder walks, formats, sections, encodings and the errors users see."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.corpus import (
    SECTION_CHARS,
    CorpusOptions,
    corpus_size,
    discover,
    read_documents,
)
from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.core.data.text import TextNotes
from lmstudio_app.core.errors import UserError

OPTS = CorpusOptions()


def _docs(path: Path, options: CorpusOptions = OPTS) -> list[str]:
    return list(read_documents(path, options))


def test_folder_walk_is_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for rel in ("b/two.md", "a/one.txt", "a/deep/three.txt", "c/rows.jsonl.gz", "c/t.tsv",
                "notes.pdf", ".hidden/secret.txt", "a/.cache.txt", "README.md", "LICENSE.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path], OPTS)]
    assert found == ["a/deep/three.txt", "a/one.txt", "b/two.md", "c/rows.jsonl.gz", "c/t.tsv"]

    only_txt = CorpusOptions(include=("*.txt",))
    assert [p.name for p in discover([tmp_path], only_txt)] == ["three.txt", "one.txt"]
    no_a = CorpusOptions(exclude=("a/*",))
    assert [p.name for p in discover([tmp_path], no_a)] == ["two.md", "rows.jsonl.gz", "t.tsv"]
    # Files named directly are taken as given, once each.
    one = tmp_path / "a" / "one.txt"
    assert discover([one, tmp_path / "a", one], OPTS) == [one, tmp_path / "a/deep/three.txt"]
    assert corpus_size([one]) == 1


def test_discover_errors_name_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nope.txt: no such file"):
        discover([tmp_path / "nope.txt"], OPTS)
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF")
    with pytest.raises(UserError,
                       match=r"paper\.pdf: unsupported file type; use text files \(\.txt"):
        discover([pdf], OPTS)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "image.png").write_bytes(b"")
    with pytest.raises(UserError, match="empty: no corpus files found"):
        discover([empty], OPTS)
    with pytest.raises(UserError, match="include/exclude"):
        discover([tmp_path], CorpusOptions(include=("*.csv",)))
    with pytest.raises(UserError, match="encoding 'ascii'"):
        discover([tmp_path], CorpusOptions(encoding="ascii"))


def test_sample_corpus_walk_skips_its_readme() -> None:
    folder = sample_corpus()
    assert (folder / "README.md").is_file()
    assert "janeaustenr" in (folder / "README.md").read_text("utf-8")
    assert [p.name for p in discover([folder], OPTS)] == ["persuasion.txt", "prideprejudice.txt"]


def test_novel_splits_into_sections_at_blank_lines(sample_files: list[Path]) -> None:
    path = next(f for f in sample_files if f.name == "prideprejudice.txt")
    text = path.read_text("utf-8")
    docs = _docs(path)
    assert "".join(docs) == text  # nothing lost, nothing added
    assert len(docs) > 10
    for doc, nxt in zip(docs, docs[1:], strict=False):
        assert len(doc) >= SECTION_CHARS
        assert len(doc) < 2 * SECTION_CHARS
        assert doc.endswith("\n\n")  # cut after a blank line: never inside a paragraph
        assert not nxt.startswith("\n")


def test_text_without_blank_lines_is_cut_at_line_ends(tmp_path: Path) -> None:
    line = "one sentence per line, with no blank lines between them at all\n"
    text = line * (10 * SECTION_CHARS // len(line))
    path = tmp_path / "lines.txt"
    path.write_text(text, encoding="utf-8")
    docs = _docs(path)
    assert "".join(docs) == text
    assert len(docs) >= 2
    assert all(d.endswith("\n") for d in docs)


def test_crlf_becomes_lf_and_blank_documents_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes(b"first line\r\nsecond line\r\n")
    assert _docs(path) == ["first line\nsecond line\n"]
    blank = tmp_path / "blank.md"
    blank.write_text(" \n\n\t\n", encoding="utf-8")
    assert _docs(blank) == []


def test_jsonl_rows_and_text_field(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"text": "first\ndocument", "id": 1}, {"text": ""}, {"text": None},
            {"text": "second \u00e9"}, {"body": "b", "text": "third"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert _docs(path) == ["first\ndocument", "second \u00e9", "third"]
    other = tmp_path / "other.jsonl"
    other.write_text('{"body": "x", "id": 1}\n{"body": "y"}\n', encoding="utf-8")
    assert _docs(other, CorpusOptions(text_field="body")) == ["x", "y"]


def test_jsonl_missing_field_names_line_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok"}\n\n{"body": "x", "id": 3}\n', encoding="utf-8")
    with pytest.raises(UserError) as err:
        _docs(path)
    msg = str(err.value)
    assert "rows.jsonl, line 3" in msg
    assert "'body', 'id'" in msg
    assert err.value.field == "text_field"


def test_jsonl_bad_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "unterminated}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.jsonl, line 2: not valid JSON"):
        _docs(path)
    listed = tmp_path / "list.jsonl"
    listed.write_text('["text"]\n', encoding="utf-8")
    with pytest.raises(UserError, match="line 1: expected a JSON object"):
        _docs(listed)


def test_csv_and_tsv_columns(tmp_path: Path) -> None:
    csv_path = tmp_path / "t.csv"
    csv_path.write_text('id,text\n1,"plain"\n2,"with, comma and\nnewline"\n3,\n', encoding="utf-8")
    assert _docs(csv_path) == ["plain", "with, comma and\nnewline"]
    tsv_path = tmp_path / "t.tsv"
    tsv_path.write_text('label\tbody\npos\t"Good," she said\nneg\tbad one\n', encoding="utf-8")
    # Plain TSV prose may open a field with a quotation mark: the first lines decide that the
    # quotes are text, and a note names the line that decided it. Standard quoting refuses the
    # line, with advice that reads it.
    notes = TextNotes()
    body = CorpusOptions(text_field="body")
    assert list(read_documents(tsv_path, body, notes=notes)) == ['"Good," she said', "bad one"]
    assert any("line 2" in n and "quoting none" in n for n in notes.lines())
    with pytest.raises(UserError, match=r"t\.tsv, line 2: .*quoting none") as err:
        _docs(tsv_path, CorpusOptions(text_field="body", quoting="standard"))
    assert (err.value.field, err.value.option) == ("quoting", "none")
    plain = CorpusOptions(text_field="body", quoting="none")
    assert _docs(tsv_path, plain) == ['"Good," she said', "bad one"]


def test_byte_order_mark_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\nhello,1\n")
    assert _docs(path) == ["hello"]
    txt = tmp_path / "bom.txt"
    txt.write_bytes(b"\xef\xbb\xbfOnce upon a time.\n")
    assert _docs(txt) == ["Once upon a time.\n"]


def test_missing_csv_column_lists_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(UserError) as err:
        _docs(path)
    msg = str(err.value)
    assert "t.csv, line 1" in msg and "'id', 'body'" in msg and err.value.field == "text_field"
    short = tmp_path / "short.csv"
    short.write_text('id,text\n1,"a"\n2\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"short\.csv, line 3"):
        _docs(short)


def test_gz_files_read_like_plain_ones(tmp_path: Path, austen_200k: str) -> None:
    plain = tmp_path / "p.txt"
    plain.write_text(austen_200k, encoding="utf-8")
    packed = tmp_path / "p.txt.gz"
    packed.write_bytes(gzip.compress(austen_200k.encode("utf-8")))
    assert _docs(packed) == _docs(plain)
    rows = tmp_path / "r.jsonl.gz"
    rows.write_bytes(gzip.compress(b'{"text": "a"}\n{"text": "b"}\n'))
    assert _docs(rows) == ["a", "b"]
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(b"some text " * 1000)[:50])
    with pytest.raises(UserError, match=r"broken\.txt\.gz: a damaged gzip file"):
        _docs(broken)


def test_invalid_utf8_names_file_and_byte_offset(tmp_path: Path) -> None:
    # The bad byte sits past the first read block, so the offset must be counted across blocks.
    good = ("\u00e9t\u00e9 " * 200_000).encode("utf-8")  # 1.4 MB of two-byte characters
    offset = len(good)
    path = tmp_path / "bad.txt"
    path.write_bytes(good + b"\xff rest\n")
    with pytest.raises(UserError) as err:
        _docs(path)
    msg = str(err.value)
    assert "bad.txt" in msg
    assert f"byte offset {offset}" in msg
    assert "latin-1" in msg and err.value.field == "encoding" and err.value.option == "replace"


def test_latin1_and_replace_options(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    with pytest.raises(UserError, match="byte offset 3"):
        _docs(path)
    assert _docs(path, CorpusOptions(encoding="latin-1")) == ["Caf\u00e9 cr\u00e8me\n"]
    assert _docs(path, CorpusOptions(encoding="replace")) == ["Caf\ufffd cr\ufffdme\n"]


def test_unreadable_file_names_file_and_reason(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"gone\.txt: cannot read the file"):
        _docs(tmp_path / "gone.txt")
