"""Documents from text corpora: .txt .md .jsonl .csv .tsv, each optionally gzip-compressed.

Everything streams: files are read in blocks and decoded incrementally, so a corpus never has
to fit in memory. Plain text is cut into sections of about 32 KB at blank lines, which lets a
single long book still split into training and validation documents without cutting a paragraph.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import UserError
from .delimited import (
    DelimitedReader,
    Problem,
    check_options,
    delimiter_name,
    other_delimiter,
)
from .text import ENCODINGS as ENCODINGS  # the window lists them
from .text import TextNotes, check_encoding, clean_string, decode_stream

TEXT_SUFFIXES = (".txt", ".md")
ROW_SUFFIXES = (".jsonl", ".csv", ".tsv")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + ROW_SUFFIXES

# Notes that describe a corpus folder rather than belong to it; skipped in folder walks only
# (a file named on its own is always read).
_FOLDER_NOTES = ("readme", "license", "licence", "copying", "changelog")

SECTION_CHARS = 32 * 1024  # target size of a plain-text document
_BLOCK_BYTES = 1 << 20
# A run of blank lines (possibly holding spaces or tabs): where a plain-text section may end.
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class CorpusOptions:
    """How to read a corpus."""

    text_field: str = "text"  # the JSONL field, and the CSV/TSV column, that holds the text
    encoding: str = "utf-8"  # one of text.ENCODINGS; a byte-order mark wins over it
    include: tuple[str, ...] = ()  # glob patterns; when given, a file must match one of them
    exclude: tuple[str, ...] = ()  # glob patterns; a file matching one of them is skipped
    delimiter: str = "auto"  # CSV/TSV: auto | comma | tab | semicolon | pipe
    quoting: str = "auto"  # CSV/TSV: auto | standard (double quotes) | none (quotes are text)

    def validate(self) -> None:
        check_encoding(self.encoding)
        check_options(self.delimiter, self.quoting)
        if not self.text_field:
            raise UserError("text field is empty: give the JSONL field or CSV column name.",
                            field="text_field")

    def to_dict(self) -> dict[str, object]:
        return {
            "text_field": self.text_field,
            "encoding": self.encoding,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "delimiter": self.delimiter,
            "quoting": self.quoting,
        }


def file_format(path: Path) -> str | None:
    """The format of a file from its name (".txt", ".jsonl", ...), or None when unsupported."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def _matches(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def discover(paths: Sequence[str | Path], options: CorpusOptions) -> list[Path]:
    """The corpus files named by `paths`: files as given, folders walked recursively.

    Folders yield their supported files in sorted order, hidden files and folders skipped, and
    README/LICENSE/COPYING/CHANGELOG notes skipped (they describe the corpus, not belong to it),
    filtered by the include/exclude globs (matched against the path relative to the folder and
    against the file name). A file is listed once even when named twice.
    """
    options.validate()
    if not paths:
        raise UserError("no corpus given: name at least one text file or folder.")
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UserError(f"{path}: no such file or folder; check the path.")
        candidates = [_given_file(path)] if path.is_file() else _folder_files(path, options)
        for cand in candidates:
            key = cand.resolve()
            if key not in seen:
                seen.add(key)
                found.append(cand)
    return found


def _given_file(path: Path) -> Path:
    """A file named on its own: `path`, or UserError when its type is not supported."""
    if file_format(path) is None:
        raise UserError(
            f"{path}: unsupported file type; use {' '.join(SUPPORTED_SUFFIXES)} "
            "(optionally .gz)."
        )
    return path


def _in_folder_corpus(sub: Path, folder: Path, options: CorpusOptions) -> bool:
    """Whether `sub`, found under `folder`, belongs to the corpus (see `discover`)."""
    rel = sub.relative_to(folder)
    if any(part.startswith(".") for part in rel.parts):
        return False
    if not sub.is_file() or file_format(sub) is None:
        return False
    if sub.name.split(".")[0].lower() in _FOLDER_NOTES:
        return False
    rel_s = rel.as_posix()
    if options.include and not _matches(rel_s, sub.name, options.include):
        return False
    return not (options.exclude and _matches(rel_s, sub.name, options.exclude))


def _folder_files(folder: Path, options: CorpusOptions) -> list[Path]:
    """The corpus files of a folder, sorted; UserError when there are none."""
    candidates = [sub for sub in sorted(folder.rglob("*"))
                  if _in_folder_corpus(sub, folder, options)]
    if not candidates:
        raise UserError(
            f"{folder}: no corpus files found in this folder (looked for "
            f"{' '.join(SUPPORTED_SUFFIXES)}, optionally .gz"
            + (", with the include/exclude patterns given" if options.include
               or options.exclude else "")
            + "); add text files or change the patterns."
        )
    return candidates


def corpus_size(paths: list[Path]) -> int:
    """Bytes on disk (compressed size for .gz files): the unit of progress."""
    return sum(p.stat().st_size for p in paths)


class _CountingReader:
    """Wraps a binary file and reports how many bytes were read from disk."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return data

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move in the file (gzip's file interface asks for it; reading never seeks)."""
        return self._raw.seek(offset, whence)

    def close(self) -> None:
        self._raw.close()


def decoded_blocks(
    path: Path, encoding: str, on_bytes: Callable[[int], None] | None = None,
    notes: TextNotes | None = None,
) -> Iterator[str]:
    """The text of a file (gzip-compressed or not), block by block, decoded by `text`'s rules:
    a byte-order mark decides the encoding, line ends become "\\n", problems name the line."""
    gz = path.name.lower().endswith(".gz")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    counted = _CountingReader(raw, on_bytes)
    stream: gzip.GzipFile | _CountingReader = (
        gzip.GzipFile(fileobj=counted, mode="rb") if gz else counted)

    def blocks() -> Iterator[bytes]:
        while True:
            try:
                block = stream.read(_BLOCK_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                what = "a damaged gzip file" if gz else "cannot read the file"
                raise UserError(f"{path}: {what} ({exc}).") from None
            if not block:
                return
            yield block

    try:
        yield from decode_stream(path, blocks(), encoding, notes,
                                 "of the uncompressed text " if gz else "")
    finally:
        stream.close()
        raw.close()


def split_lines(blocks: Iterator[str]) -> Iterator[str]:
    """Lines with their "\\n" kept (the last one may lack it)."""
    rest = ""
    for block in blocks:
        parts = (rest + block).split("\n")
        rest = parts.pop()
        for part in parts:
            yield part + "\n"
    if rest:
        yield rest


def _text_sections(blocks: Iterator[str]) -> Iterator[str]:
    """Sections of about SECTION_CHARS, each ending after a run of blank lines.

    Joined together the sections give back the text. A text without blank lines is cut at a line
    end once a section reaches four times the target, and a text without line ends at 1 MB.
    """
    buf = ""
    for block in blocks:
        buf += block
        pos = 0  # start of the section being built; slicing once per block keeps this linear
        while len(buf) - pos >= SECTION_CHARS:
            match = _BLANK_RUN.search(buf, pos + SECTION_CHARS - 1)
            if match is not None and match.end() < len(buf):
                cut = match.end()
            elif match is None and len(buf) - pos >= 4 * SECTION_CHARS:
                nl = buf.rfind("\n", pos, pos + 4 * SECTION_CHARS)
                if nl >= pos + SECTION_CHARS:
                    cut = nl + 1
                else:
                    cut = len(buf) if len(buf) - pos >= (1 << 20) else 0
            else:
                cut = 0
            if not cut:
                break  # wait for more text: the section may end in the next block
            yield buf[pos:cut]
            pos = cut
        buf = buf[pos:]
    if buf:
        yield buf


def _jsonl_documents(path: Path, lines: Iterator[str], field: str,
                     notes: TextNotes | None) -> Iterator[str]:
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path}, line {lineno}: not valid JSON ({exc.msg}, column {exc.colno}); "
                "each line must hold one JSON object."
            ) from None
        except RecursionError:
            raise UserError(f"{path}, line {lineno}: JSON nested too deeply to read.") from None
        if not isinstance(row, dict):
            raise UserError(
                f"{path}, line {lineno}: expected a JSON object with a {field!r} field, "
                f"found a {type(row).__name__}."
            )
        if field not in row:
            names = ", ".join(repr(k) for k in row) or "none"
            raise UserError(
                f"{path}, line {lineno}: no field {field!r} (fields here: {names}); "
                "name the field that holds the text.", field="text_field",
                option=next(iter(row), None)
            )
        value = row[field]
        if value is None:
            continue
        if not isinstance(value, str):
            raise UserError(
                f"{path}, line {lineno}: field {field!r} holds a {type(value).__name__}, "
                "not text; name a field that holds text.", field="text_field"
            )
        yield clean_string(value, path, lineno, notes)


def _table_documents(path: Path, lines: Iterator[str], fmt: str, options: CorpusOptions,
                     notes: TextNotes | None) -> Iterator[str]:
    reader = DelimitedReader(path, lines, suffix=fmt, delimiter=options.delimiter,
                             quoting=options.quoting)
    if reader.quote_note and notes is not None:
        notes.add(path, "quoting", None, reader.quote_note)
    header, field = reader.header, options.text_field
    if not header:
        return
    other = other_delimiter(header, reader.delimiter)
    if field not in header and other is not None:
        raise UserError(
            f"{path}, line 1: no column {field!r}: the header {header[0]!r} looks separated by "
            f"{other}, not {delimiter_name(reader.delimiter)}; read the file with delimiter "
            f"{other}.", field="delimiter", option=other)
    if field not in header:
        names = ", ".join(repr(h) for h in header) or "none"
        raise UserError(
            f"{path}, line 1: no column {field!r} in the {reader.kind} header (columns: "
            f"{names}; read as {reader.describe()}); name the column that holds the text, or "
            "the delimiter the file uses.", field="text_field",
            option=header[0] if header else None
        )
    col = header.index(field)
    for item in reader:
        if isinstance(item, Problem):
            raise UserError(f"{path}, line {item.line}: {item.reason}.", field="quoting",
                            option="none")
        if len(item.fields) != len(header):
            raise UserError(
                f"{path}, line {item.line}: the row has {len(item.fields)} fields but the "
                f"header has {len(header)} (read as {reader.describe()}); put a field that "
                f"holds the delimiter in double quotes, or name the delimiter the file uses.",
                field="delimiter"
            )
        yield item.fields[col]


def read_documents(
    path: Path,
    options: CorpusOptions,
    on_bytes: Callable[[int], None] | None = None,
    notes: TextNotes | None = None,
) -> Iterator[str]:
    """The non-empty documents of one file, streamed.

    .txt/.md: sections of about 32 KB cut after blank lines. .jsonl: the `text_field` of each
    object, one per line. .csv/.tsv: the `text_field` column of each row, read by
    `delimited.DelimitedReader` (the delimiter stated or detected, standard or no quoting).
    `on_bytes` is told how many bytes were read from disk, as they are read; `notes` collects
    what was cleaned on the way (NUL characters, lone surrogates, control characters).
    """
    fmt = file_format(path)
    if fmt is None:
        raise UserError(f"{path}: unsupported file type; use {' '.join(SUPPORTED_SUFFIXES)}.")
    blocks = decoded_blocks(path, options.encoding, on_bytes, notes)
    if fmt in TEXT_SUFFIXES:
        docs = _text_sections(blocks)
    elif fmt == ".jsonl":
        docs = _jsonl_documents(path, split_lines(blocks), options.text_field, notes)
    else:
        docs = _table_documents(path, split_lines(blocks), fmt, options, notes)
    for doc in docs:
        if doc.strip():
            yield doc
