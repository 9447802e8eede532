"""Text that is not what it claims: byte-order marks, wrong encodings, lone surrogates, NULs.

Each refusal's advice is followed, and the store it then gives is checked against the text
(no NUL characters, the text's own letters, a tokenizer that learned words, not bytes).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.corpus import CorpusOptions, read_documents
from lmstudio_app.core.data.labeled import load_classification
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.data.text import (
    TextNotes,
    binary_kind,
    clean_typed,
    guess_encoding,
    preview,
)
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.errors import UserError

ACCENTED = ("Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade: \u00e0 la carte.\n"
            "\u201cQuoted\u201d \u2014 it is so \u2026 r\u00e9sum\u00e9.\n\n")


def _docs(path: Path, **options: object) -> list[str]:
    return list(read_documents(path, CorpusOptions(**options)))  # type: ignore[arg-type]


def _store_pieces(out: Path) -> list[str]:
    """The decoded documents of both splits (a split by token range cuts the text in pieces)."""
    tok = Tokenizer.load(out / "tokenizer.model")
    store = TokenStore.open(out / "tokens.h5")
    return [tok.decode(ids) for split in ("train", "val") for ids in store.documents(split)]


def _prepare(src: Path, out: Path, **corpus: object) -> tuple[list[str], object]:
    result = prepare(PrepareConfig(sources=[str(src)], out_dir=str(out),
                                   tokenizer=TokenizerSpec("unigram", 400),
                                   corpus=CorpusOptions(**corpus)))  # type: ignore[arg-type]
    return _store_pieces(out), result


def _holds(pieces: list[str], text: str) -> bool:
    """The store is the text: every piece is a passage of it, and together they are as long."""
    return all(p in text for p in pieces) and sum(map(len, pieces)) == len(text)


@pytest.mark.parametrize("codec,bom", [
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE),
    ("utf-8", codecs.BOM_UTF8),
])
def test_a_byte_order_mark_decides_the_encoding(tmp_path: Path, austen_200k: str, codec: str,
                                                bom: bytes) -> None:
    text = austen_200k[:30_000] + ACCENTED
    src = tmp_path / "saved.txt"
    src.write_bytes(bom + text.replace("\n", "\r\n").encode(codec))
    assert "".join(_docs(src)) == text
    # The advice the old reader gave (latin-1) now reads the same text: the mark wins.
    assert "".join(_docs(src, encoding="latin-1")) == text
    stored, result = _prepare(src, tmp_path / "out")
    assert _holds(stored, text) and not any("\x00" in p for p in stored)
    # A tokenizer of words, not of letters: several characters per token.
    assert (result.train_tokens + result.val_tokens) * 1.3 < len(text)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_refused_with_the_byte_order_that_reads_it(
        tmp_path: Path, austen_200k: str, codec: str) -> None:
    text = austen_200k[:20_000]
    src = tmp_path / "nobom.txt"
    src.write_bytes(text.encode(codec))
    for encoding in ("utf-8", "latin-1"):
        with pytest.raises(UserError, match=r"nobom\.txt, line 1: .*UTF-16") as err:
            _prepare(src, tmp_path / f"out-{encoding}", encoding=encoding)
        assert (err.value.field, err.value.option) == ("encoding", codec)
        assert not (tmp_path / f"out-{encoding}").exists()
    stored, _ = _prepare(src, tmp_path / "out", encoding=err.value.option)
    assert _holds(stored, text)


@pytest.mark.parametrize("codec,expected", [("latin-1", "latin-1"), ("cp1252", "cp1252")])
def test_single_byte_files_get_the_encoding_that_reads_them(
        tmp_path: Path, austen_200k: str, codec: str, expected: str) -> None:
    text = austen_200k[:5_000] + ("Caf\u00e9 na\u00efve.\n" if codec == "latin-1" else
                                  "\u201cSmart quotes\u201d \u2014 dashes \u2026\n") * 40
    src = tmp_path / "old.txt"
    src.write_bytes(text.encode(codec))
    line = text[:text.index(next(c for c in text if ord(c) > 127))].count("\n") + 1
    with pytest.raises(UserError, match=rf"old\.txt, line {line}: not valid UTF-8") as err:
        _docs(src)
    assert err.value.option == expected
    assert "".join(_docs(src, encoding=err.value.option)) == text


def test_damaged_utf8_is_read_with_replace_as_advised(tmp_path: Path) -> None:
    text = ACCENTED * 50
    raw = text.encode("utf-8")
    src = tmp_path / "damaged.txt"
    cut = raw.index("\u201c".encode()) + 1  # half of a three-byte character
    src.write_bytes(raw[:cut] + raw[cut + 1:])
    with pytest.raises(UserError, match=r"damaged\.txt, line 2: not valid UTF-8") as err:
        _docs(src)
    assert err.value.option == "replace"
    read = "".join(_docs(src, encoding="replace"))
    assert read.count("\ufffd") == 1 and read.replace("\ufffd", "\u201c", 1) == text


def test_lone_surrogates_in_jsonl_are_replaced_and_reported(tmp_path: Path,
                                                           austen_200k: str) -> None:
    lines = [json.dumps({"text": p}) for p in austen_200k.split("\n\n")[:300] if p.strip()]
    lines[4] = '{"text": "a truncated emoji \\ud83d and a whole one \\ud83d\\ude00"}'
    lines[9] = '{"text": "a low half \\udc00 alone"}'
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    notes = TextNotes()
    docs = list(read_documents(src, CorpusOptions(), notes=notes))
    assert docs[4] == "a truncated emoji \ufffd and a whole one \U0001f600"
    assert docs[9] == "a low half \ufffd alone"
    assert notes.lines() == ["rows.jsonl, line 5: 2 lone UTF-16 surrogates (such as \\ud83d, "
                             "half of an emoji cut in two) replaced by U+FFFD"]
    stored, result = _prepare(src, tmp_path / "out")
    assert "a truncated emoji \ufffd and a whole one \U0001f600" in "".join(stored)
    assert any("rows.jsonl, line 5" in w for w in result.warnings)  # type: ignore[attr-defined]
    summary = json.loads((tmp_path / "out" / "prepare.json").read_text("utf-8"))
    assert any("surrogates" in n for n in summary["notes"])


def test_nul_characters_are_removed_and_control_characters_reported(tmp_path: Path) -> None:
    src = tmp_path / "nul.txt"
    src.write_text("first line\nsec\x00ond\x00 line\nbell \x07 here\n", encoding="utf-8")
    notes = TextNotes()
    assert list(read_documents(src, CorpusOptions(), notes=notes)) == [
        "first line\nsecond line\nbell \x07 here\n"]
    assert notes.lines() == [
        "nul.txt, line 2: 2 NUL characters (U+0000) removed",
        "nul.txt, line 3: 1 control characters (first U+0007) kept as they are"]
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(1, 9)) * 2 + b"\x00" * 400 + b"tail")
    with pytest.raises(UserError, match=r"binary\.txt, line 1: .*not a text file"):
        _docs(binary)


def test_latin1_that_is_really_cp1252_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "win.txt"
    src.write_bytes("\u201cHello\u201d she said.\n".encode("cp1252"))
    notes = TextNotes()
    list(read_documents(src, CorpusOptions(encoding="latin-1"), notes=notes))
    assert len(notes) == 1 and "read it with encoding cp1252" in notes.lines()[0]


def test_labeled_rows_go_through_the_same_rules(tmp_path: Path) -> None:
    rows = ['{"text": "fine \\ud83d", "label": "positive"}',
            '{"text": "bad\\u0000ly", "label": "negative"}',
            '{"text": "ok", "label": "negative"}', '{"text": "yes", "label": "positive"}']
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    examples, report = load_classification(src)
    assert [e.text for e in examples] == ["fine \ufffd", "badly", "ok", "yes"]
    summary = report.summary()
    assert "rows.jsonl, line 1: 1 lone UTF-16 surrogates" in summary
    assert "rows.jsonl, line 2: 1 NUL characters (U+0000) removed" in summary
    utf16 = tmp_path / "excel.csv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "text,label\r\ncaf\u00e9,positive\r\nbad,negative\r\n"
                      .encode("utf-16-le"))
    examples, _ = load_classification(utf16)
    assert [(e.text, e.label) for e in examples] == [("caf\u00e9", "positive"),
                                                     ("bad", "negative")]


def test_typed_text_and_previews_never_break_the_tokenizer(unigram_tokenizer: Tokenizer) -> None:
    assert clean_typed("half \ud83d emoji\x00") == "half \ufffd emoji\ufffd"
    ids = unigram_tokenizer.encode("a prompt with \udcff from a bad terminal")
    assert unigram_tokenizer.decode(ids) == "a prompt with \ufffd from a bad terminal"
    assert unigram_tokenizer.pieces("\ud83d")  # no exception
    assert preview(codecs.BOM_UTF16_LE + "caf\u00e9\r\n".encode("utf-16-le"), "utf-8") == \
        "caf\u00e9\n"
    assert guess_encoding("caf\u00e9".encode("utf-16-le")) == "utf-16-le"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_text_in_utf16_or_utf32_is_not_binary_with_or_without_its_mark(codec):
    head = "Emma Woodhouse, handsome, clever, and rich.\n".encode(codec)
    assert binary_kind(head) is None  # NUL bytes, but the reader decodes it


def test_images_programs_and_nul_heavy_bytes_are_binary():
    assert binary_kind(b"\x89PNG\r\n\x1a\n" + bytes(100)) == "a PNG image"
    assert binary_kind(b"\x7fELF\x02\x01\x01") == "a program"
    assert binary_kind(bytes(range(256)) * 4).startswith("binary data")
    assert binary_kind(b"plain text, no NUL") is None
