"""Any bytes into the corpus and labeled readers: a clean read or one UserError, never another
exception, never text SentencePiece refuses (lone surrogates), never a NUL character.

Inputs are random bytes, or text with quotes, delimiters, NULs, lone surrogates, every line
ending and very long lines, written in one encoding (with or without a byte-order mark) and
read with any of the readers' options. Sizes are bounded, so each read ends quickly.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmstudio_app.core.data.corpus import CorpusOptions, read_documents
from lmstudio_app.core.data.delimited import DELIMITERS, QUOTINGS
from lmstudio_app.core.data.labeled import (
    ClassificationColumns,
    QAColumns,
    detect_columns,
    load_classification,
    load_qa,
    preview_rows,
)
from lmstudio_app.core.data.text import ENCODINGS, TextNotes
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.errors import UserError

SETTINGS = settings(deadline=None, max_examples=300, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Characters that trouble readers: quotes, delimiters, line ends, NUL, controls, a BOM, lone
# surrogates, letters outside Latin-1, and plain text around them.
TRICKY = st.sampled_from(['"', "'", ",", ";", "\t", "|", "\n", "\r", "\r\n", "\x00", "\x1b",
                          "\ufeff", "\ud83d", "\udc00", "\u00e9", "\u201c", "\U0001f600",
                          "\u4e2d", "{", "}", "\\", " ", "text", "label", "question"])
CHUNK = st.one_of(TRICKY, st.text(max_size=20),
                  st.builds(lambda c, n: c * n, st.sampled_from(["a", "ab ", '"']),
                            st.integers(1, 20_000)))  # very long lines
TEXT = st.lists(CHUNK, max_size=40).map("".join)
WRITE_AS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                            "utf-32", "latin-1", "cp1252"])


def _json_lines(draw: st.DrawFn) -> str:
    rows = draw(st.lists(st.one_of(
        st.fixed_dictionaries({"text": TEXT, "label": st.one_of(TEXT, st.integers(),
                                                                st.floats(), st.none())}),
        st.fixed_dictionaries({"question": TEXT, "context": TEXT, "answer": st.one_of(
            TEXT, st.lists(TEXT, max_size=2), st.fixed_dictionaries({"text": st.lists(TEXT)})),
            "answer_start": st.one_of(st.integers(-5, 50), TEXT, st.none())}),
        st.lists(TEXT, max_size=3), TEXT), max_size=12))
    lines = [json.dumps(r) if not isinstance(r, str) or draw(st.booleans()) else r
             for r in rows]
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


def _table(draw: st.DrawFn) -> str:
    delimiter = draw(st.sampled_from([",", "\t", ";", "|"]))
    header = draw(st.sampled_from([["text", "label"], ["question", "context", "answer"],
                                   ["text"], ["a", "b", "c"]]))
    rows = draw(st.lists(st.lists(TEXT, min_size=0, max_size=4), max_size=15))
    quote = draw(st.booleans())
    cells = [[f'"{c}"' if quote and draw(st.booleans()) else c for c in row] for row in rows]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return end.join([delimiter.join(header)] + [delimiter.join(r) for r in cells])


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".txt", ".md", ".jsonl", ".csv", ".tsv"]))
    if draw(st.integers(0, 4)) == 0:
        raw = draw(st.binary(max_size=4000))
    else:
        if suffix == ".jsonl":
            text = _json_lines(draw)
        elif suffix in (".csv", ".tsv"):
            text = _table(draw)
        else:
            text = draw(TEXT)
        codec = draw(WRITE_AS)
        # Lone surrogates go into UTF files as the invalid bytes they make; single-byte
        # encodings write "?" for what they cannot hold.
        raw = text.encode(codec, errors="surrogatepass" if codec.startswith("utf")
                          else "replace")
    if draw(st.booleans()) and draw(st.booleans()):
        raw = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                                    codecs.BOM_UTF32_LE])) + raw
    if draw(st.integers(0, 5)) == 0:
        raw = gzip.compress(raw)[: draw(st.integers(0, 10_000))]  # whole, or cut short
        suffix += ".gz"
    return suffix, raw


def _clean(text: str) -> None:
    text.encode("utf-8")  # no lone surrogate: SentencePiece takes it
    assert "\x00" not in text


@contextlib.contextmanager
def _written(suffix: str, raw: bytes) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="lmstudio-fuzz-"))
    try:
        path = folder / f"input{suffix}"
        path.write_bytes(raw)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@SETTINGS
@given(files(), st.sampled_from(ENCODINGS), st.sampled_from(tuple(DELIMITERS)),
       st.sampled_from(QUOTINGS), st.sampled_from(["text", "label", "question"]))
def test_corpus_reader_reads_or_says_why(unigram_tokenizer: Tokenizer, file: tuple[str, bytes],
                                         encoding: str, delimiter: str, quoting: str,
                                         field: str) -> None:
    notes = TextNotes()
    options = CorpusOptions(text_field=field, encoding=encoding, delimiter=delimiter,
                            quoting=quoting)
    try:
        with _written(*file) as path:
            docs = list(read_documents(path, options, notes=notes))
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for doc in docs:
        _clean(doc)
        unigram_tokenizer.encode(doc[:2000])
    for line in notes.lines():
        _clean(line)


@SETTINGS
@given(files(), st.sampled_from(ENCODINGS), st.sampled_from(tuple(DELIMITERS)),
       st.sampled_from(QUOTINGS), st.booleans())
def test_labeled_readers_read_or_say_why(file: tuple[str, bytes], encoding: str, delimiter: str,
                                         quoting: str, keep_case: bool) -> None:
    suffix, raw = file
    suffix = suffix if suffix.startswith((".jsonl", ".csv", ".tsv")) else ".csv"
    with _written(suffix, raw) as path:
        _read_labeled(path, encoding, delimiter, quoting, keep_case)


def _read_labeled(path: Path, encoding: str, delimiter: str, quoting: str,
                  keep_case: bool) -> None:
    options = {"delimiter": delimiter, "quoting": quoting}
    for read in (
        lambda: load_classification(path, ClassificationColumns(), encoding,
                                    keep_label_case=keep_case, **options),
        lambda: load_qa(path, QAColumns(), encoding, **options),
        lambda: detect_columns(path, encoding, **options),
        lambda: preview_rows(path, 5, encoding, **options),
    ):
        try:
            out = read()
        except UserError as exc:
            assert str(exc) and "\n" not in str(exc)
            continue
        if isinstance(out, tuple):
            examples, report = out
            for e in examples:
                for value in vars(e).values():
                    if isinstance(value, str):
                        _clean(value)
            _clean(report.summary())
