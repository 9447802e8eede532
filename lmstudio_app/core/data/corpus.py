"""Documents from text corpora: .txt .md .jsonl .csv .tsv, each optionally gzip-compressed.

Everything streams: files are read in blocks and decoded incrementally, so a corpus never has
to fit in memory. Plain text is cut into sections of about 32 KB at blank lines, which lets a
single long book still split into training and validation documents without cutting a paragraph.
"""

from __future__ import annotations

import codecs
import csv
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

TEXT_SUFFIXES = (".txt", ".md")
ROW_SUFFIXES = (".jsonl", ".csv", ".tsv")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + ROW_SUFFIXES
ENCODINGS = ("utf-8", "latin-1", "replace")

# Notes that describe a corpus folder rather than belong to it; skipped in folder walks only
# (a file named on its own is always read).
_FOLDER_NOTES = ("readme", "license", "licence", "copying", "changelog")

SECTION_CHARS = 32 * 1024  # target size of a plain-text document
_BLOCK_BYTES = 1 << 20
# A run of blank lines (possibly holding spaces or tabs): where a plain-text section may end.
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n)+")

# Rows of a CSV may hold whole documents; the default limit of 128 KB per field is too small.
csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class CorpusOptions:
    """How to read a corpus."""

    text_field: str = "text"  # the JSONL field, and the CSV/TSV column, that holds the text
    encoding: str = "utf-8"  # "utf-8" | "latin-1" | "replace" (utf-8, bad bytes become U+FFFD)
    include: tuple[str, ...] = ()  # glob patterns; when given, a file must match one of them
    exclude: tuple[str, ...] = ()  # glob patterns; a file matching one of them is skipped

    def validate(self) -> None:
        if self.encoding not in ENCODINGS:
            raise UserError(
                f"encoding {self.encoding!r}: choose one of {', '.join(ENCODINGS)}.",
                field="encoding")
        if not self.text_field:
            raise UserError("text field is empty: give the JSONL field or CSV column name.",
                            field="text_field")

    def to_dict(self) -> dict[str, object]:
        return {
            "text_field": self.text_field,
            "encoding": self.encoding,
            "include": list(self.include),
            "exclude": list(self.exclude),
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
        if path.is_file():
            if file_format(path) is None:
                raise UserError(
                    f"{path}: unsupported file type; use {' '.join(SUPPORTED_SUFFIXES)} "
                    "(optionally .gz)."
                )
            candidates = [path]
        else:
            candidates = []
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if not sub.is_file() or file_format(sub) is None:
                    continue
                if sub.name.split(".")[0].lower() in _FOLDER_NOTES:
                    continue
                rel_s = rel.as_posix()
                if options.include and not _matches(rel_s, sub.name, options.include):
                    continue
                if options.exclude and _matches(rel_s, sub.name, options.exclude):
                    continue
                candidates.append(sub)
            if not candidates:
                raise UserError(
                    f"{path}: no corpus files found in this folder (looked for "
                    f"{' '.join(SUPPORTED_SUFFIXES)}, optionally .gz"
                    + (", with the include/exclude patterns given" if options.include
                       or options.exclude else "")
                    + "); add text files or change the patterns."
                )
        for cand in candidates:
            key = cand.resolve()
            if key not in seen:
                seen.add(key)
                found.append(cand)
    return found


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

    def close(self) -> None:
        self._raw.close()


def _decoded_blocks(
    path: Path, options: CorpusOptions, on_bytes: Callable[[int], None] | None
) -> Iterator[str]:
    """Decoded text of a file, block by block, with "\\r\\n" turned into "\\n" and a leading
    UTF-8 byte-order mark dropped."""
    if options.encoding == "latin-1":
        decoder = codecs.getincrementaldecoder("latin-1")()
    else:
        errors = "replace" if options.encoding == "replace" else "strict"
        decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    gz = path.name.lower().endswith(".gz")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    counted = _CountingReader(raw, on_bytes)
    stream: BinaryIO = gzip.GzipFile(fileobj=counted, mode="rb") if gz else counted  # type: ignore[assignment]
    fed = 0  # bytes of (uncompressed) text handed to the decoder
    held_cr = ""
    try:
        while True:
            try:
                block = stream.read(_BLOCK_BYTES)
            except (OSError, EOFError, zlib.error) as exc:
                what = "a damaged gzip file" if gz else "cannot read the file"
                raise UserError(f"{path}: {what} ({exc}).") from None
            final = not block
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                offset = fed - pending + exc.start
                where = "of the uncompressed text " if gz else ""
                raise UserError(
                    f"{path}: not valid UTF-8 at byte offset {offset} {where}"
                    f"(byte 0x{exc.object[exc.start]:02x}); read it with another encoding "
                    "(latin-1 for Western European files, or replace to keep UTF-8 and mark "
                    "the bad bytes).", field="encoding", option="replace"
                ) from None
            if fed == 0 and options.encoding != "latin-1" and text.startswith("\ufeff"):
                text = text[1:]  # a byte-order mark (Excel's CSVs carry one) is not text
            fed += len(block)
            text = held_cr + text
            held_cr = ""
            if text.endswith("\r") and not final:
                held_cr, text = "\r", text[:-1]
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            if text:
                yield text
            if final:
                return
    finally:
        stream.close()
        raw.close()


def _lines(blocks: Iterator[str]) -> Iterator[str]:
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


def _jsonl_documents(path: Path, lines: Iterator[str], field: str) -> Iterator[str]:
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
        yield value


def _table_documents(path: Path, lines: Iterator[str], field: str, delimiter: str) -> Iterator[str]:
    kind = "TSV" if delimiter == "\t" else "CSV"
    # TSV in its plain (IANA) form has no quoting: prose often starts a field with a quotation
    # mark, which a quoting reader would swallow. CSV keeps the usual double-quote rules.
    quoting = csv.QUOTE_NONE if kind == "TSV" else csv.QUOTE_MINIMAL
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    try:
        header = next(reader, None)
        if header is None:
            return
        if field not in header:
            names = ", ".join(repr(h) for h in header) or "none"
            raise UserError(
                f"{path}, line {reader.line_num}: no column {field!r} in the {kind} header "
                f"(columns: {names}); name the column that holds the text.", field="text_field",
                option=header[0] if header else None
            )
        col = header.index(field)
        for row in reader:
            if not row:
                continue
            if col >= len(row):
                raise UserError(
                    f"{path}, line {reader.line_num}: the row has {len(row)} fields but the "
                    f"header has {len(header)}; the {field!r} column is missing."
                )
            yield row[col]
    except csv.Error as exc:
        raise UserError(f"{path}, line {reader.line_num}: malformed {kind} ({exc}).") from None


def read_documents(
    path: Path,
    options: CorpusOptions,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The non-empty documents of one file, streamed.

    .txt/.md: sections of about 32 KB cut after blank lines. .jsonl: the `text_field` of each
    object, one per line. .csv/.tsv: the `text_field` column of each row (CSV with the usual
    double quotes; TSV plain, without quoting, so a field holds no tab or newline). `on_bytes`
    is told how many bytes were read from disk, as they are read.
    """
    fmt = file_format(path)
    if fmt is None:
        raise UserError(f"{path}: unsupported file type; use {' '.join(SUPPORTED_SUFFIXES)}.")
    blocks = _decoded_blocks(path, options, on_bytes)
    if fmt in TEXT_SUFFIXES:
        docs = _text_sections(blocks)
    elif fmt == ".jsonl":
        docs = _jsonl_documents(path, _lines(blocks), options.text_field)
    else:
        delimiter = "\t" if fmt == ".tsv" else ","
        docs = _table_documents(path, _lines(blocks), options.text_field, delimiter)
    for doc in docs:
        if doc.strip():
            yield doc
