"""A source looked at before it is prepared: counts, the first screen of text, a sample line,
and the reasons a file is no corpus source, read by the engine's one corpus reader."""

from __future__ import annotations

import codecs
import gzip
import threading
from pathlib import Path

import pytest

from lmstudio_app.core.data.corpus import CorpusOptions, read_documents
from lmstudio_app.core.data.inspect import (
    PREVIEW_BYTES,
    SAMPLE_FALLBACK,
    CountCancelled,
    count_source,
    not_text,
    read_preview,
    sample_sentence,
)
from lmstudio_app.core.errors import UserError
from tests.conftest import austen_text

OPTS = CorpusOptions()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def test_a_folder_is_counted_as_the_corpus_reader_reads_it(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("First doc.\n\n\n\nSecond doc.\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("Zipped text.\n")
    counts = count_source(str(tmp_path), OPTS)
    docs = [d for f in sorted(tmp_path.iterdir()) for d in read_documents(f, OPTS)]
    assert counts.error is None and not counts.refused
    assert counts.files == 2
    assert counts.size == sum(f.stat().st_size for f in tmp_path.iterdir())
    assert counts.documents == len(docs) and counts.chars == sum(len(d) for d in docs)


def test_a_picture_and_an_unknown_type_are_refused_with_the_reason(tmp_path: Path) -> None:
    picture = tmp_path / "photo.txt"
    picture.write_bytes(PNG)
    counts = count_source(str(picture), OPTS)
    assert counts.refused and counts.documents == 0
    assert counts.error is not None and counts.error.startswith("photo.txt is a PNG image")
    table = tmp_path / "notes.docx"
    table.write_text("plain words", encoding="utf-8")
    reason = not_text(table)
    assert reason is not None and "rename a text file" in reason
    assert not_text(tmp_path / "photo.txt") == counts.error
    (tmp_path / "fine.txt").write_text("words", encoding="utf-8")
    assert not_text(tmp_path / "fine.txt") is None


def test_a_user_mistake_is_an_error_naming_its_setting(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"body": "no text key"}\n', encoding="utf-8")
    counts = count_source(str(rows), OPTS)
    assert not counts.refused and counts.error is not None
    assert "rows.jsonl" in counts.error and counts.fields


def test_counting_stops_once_cancelled(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("One.\n\n\n\nTwo.\n", encoding="utf-8")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CountCancelled):
        count_source(str(tmp_path / "a.txt"), OPTS, cancel)


def test_the_preview_decodes_utf16_and_says_where_it_was_cut(tmp_path: Path) -> None:
    text = austen_text(30_000)
    path = tmp_path / "saved.txt"
    path.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    shown, note = read_preview(str(path), OPTS)
    assert shown == text[: len(shown)] and len(shown) > 1000
    assert note == "saved.txt (first 20.0 KiB)"
    assert len(shown.encode("utf-16-be")) <= PREVIEW_BYTES
    short = tmp_path / "short.txt"
    short.write_text("Just this.", encoding="utf-8")
    assert read_preview(str(tmp_path), OPTS)[1] == (
        "saved.txt, the first of 2 file(s) in this folder (first 20.0 KiB)")
    assert read_preview(str(short), OPTS) == ("Just this.", "short.txt")


def test_the_preview_of_a_picture_is_refused(tmp_path: Path) -> None:
    picture = tmp_path / "photo.txt"
    picture.write_bytes(PNG)
    with pytest.raises(UserError, match="PNG image"):
        read_preview(str(picture), OPTS)


def test_the_sample_sentence_is_real_text_cut_at_a_sentence_end(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "Short.\n\nIt is a truth universally acknowledged, that a single man in possession "
        "of a good fortune, must be in want of a wife. However little known.\n",
        encoding="utf-8")
    assert sample_sentence([str(tmp_path)], OPTS) == (
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife.")
    (tmp_path / "a.txt").write_text("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n",
                                    encoding="utf-8")
    assert sample_sentence([str(tmp_path)], OPTS) == SAMPLE_FALLBACK
