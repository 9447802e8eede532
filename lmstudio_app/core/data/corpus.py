"""Documents from corpora: .txt .md .jsonl .csv .tsv, each optionally compressed with gzip or
zstd (.gz, .zst); Parquet files, folders of Parquet shards and datasets saved with
`save_to_disk` (`columnar`).

Everything streams: files are read in blocks and decoded incrementally, so a corpus never has
to fit in memory. Plain text is cut into sections of about 32 KB at blank lines, which lets a
single long book still split into training and validation documents without cutting a paragraph.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import UserError
from .columnar import (
    COLUMNAR_SUFFIXES,
    columnar_documents,
    is_columnar,
    saved_dataset_files,
    text_bytes,
)
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
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + ROW_SUFFIXES + COLUMNAR_SUFFIXES
COMPRESSED_SUFFIXES = (".gz", ".zst")  # for the text formats (Parquet compresses itself)
_NAMES = {".gz": "gzip", ".zst": "zstd"}
# What a corpus is made of, for messages.
KINDS = (f"text files ({' '.join(TEXT_SUFFIXES + ROW_SUFFIXES)}, optionally .gz or .zst) or "
         f"Parquet / Arrow files ({' '.join(COLUMNAR_SUFFIXES)})")
_ZSTD_HINT = "pip install 'lmstudio-app[corpora]'"

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
    """The format of a file from its name (".txt", ".jsonl", ".parquet", ...), or None when
    unsupported."""
    name = path.name.lower()
    if name.endswith(COLUMNAR_SUFFIXES):
        return next(s for s in COLUMNAR_SUFFIXES if name.endswith(s))
    name = next((name[: -len(c)] for c in COMPRESSED_SUFFIXES if name.endswith(c)), name)
    return next((s for s in TEXT_SUFFIXES + ROW_SUFFIXES if name.endswith(s)), None)


def compression(path: Path) -> str | None:
    """".gz" or ".zst" for a compressed text file, else None."""
    name = path.name.lower()
    return next((c for c in COMPRESSED_SUFFIXES if name.endswith(c)), None)


def _matches(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def discover(paths: Sequence[str | Path], options: CorpusOptions) -> list[Path]:
    """The corpus files named by `paths`: files as given, folders walked recursively.

    A folder saved by `datasets`' `save_to_disk` yields its Arrow files in the dataset's order
    (a DatasetDict its train split). Other folders yield their supported files in sorted order
    (a folder of Parquet shards: the shards by name), hidden files and folders skipped, and
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
        raise UserError(f"{path}: unsupported file type; use {KINDS}.")
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
    saved = saved_dataset_files(folder)
    if saved is not None:
        return saved
    candidates = [sub for sub in sorted(folder.rglob("*"))
                  if _in_folder_corpus(sub, folder, options)]
    if not candidates:
        raise UserError(
            f"{folder}: no corpus files found in this folder (looked for {KINDS}"
            + (", with the include/exclude patterns given" if options.include
               or options.exclude else "")
            + "); add text files or change the patterns."
        )
    return candidates


def corpus_size(paths: list[Path]) -> int:
    """Bytes on disk (compressed size for .gz/.zst files): the unit of progress."""
    return sum(p.stat().st_size for p in paths)


def text_size(path: Path) -> int:
    """Bytes of text in a corpus file, so the tokenizer's sample spreads over the whole corpus:
    for .gz the uncompressed size from the gzip trailer (modulo 4 GiB, as gzip records it), for
    .zst the frame header's content size when recorded, for Parquet its footer's data size."""
    size = path.stat().st_size
    kind = compression(path)
    if kind is None:
        return text_bytes(path) if is_columnar(path) else size
    with open(path, "rb") as fh:
        if kind == ".gz" and size >= 18:
            fh.seek(-4, os.SEEK_END)
            return max(size, int.from_bytes(fh.read(4), "little"))
        head = fh.read(18)
    try:
        import zstandard
        content = zstandard.frame_content_size(head)
    except Exception:  # no zstandard, or not a zstd frame header
        return size
    return max(size, content)


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


def decompressed(path: Path, raw: BinaryIO | _CountingReader) -> Any:
    """A binary stream of the text of `path` read from `raw`: gunzipped for .gz, zstd-decoded
    for .zst (zstandard, UserError with the install hint when missing), else `raw` itself."""
    kind = compression(path)
    if kind == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == ".zst":
        try:
            import zstandard
        except ImportError:
            raise UserError(f"{path}: reading .zst files needs zstandard: {_ZSTD_HINT}.") from None
        return _ZstdReader(raw, zstandard.ZstdDecompressor())
    return raw


class _ZstdReader:
    """The text of a zstd file, frame after frame; EOFError when the file ends inside a frame
    (zstandard's own stream reader ends quietly there)."""

    def __init__(self, raw: BinaryIO | _CountingReader, decompressor: Any) -> None:
        self._raw, self._zstd = raw, decompressor
        self._frame = decompressor.decompressobj()
        self._buf = bytearray()
        self._started = self._ended = False

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buf) < size) and not self._ended:
            chunk = self._raw.read(_BLOCK_BYTES)
            if not chunk:
                self._ended = True
                if self._started and not self._frame.eof:
                    raise EOFError("the file ends inside a compressed frame")
                break
            self._started = True
            while chunk:
                if self._frame.eof:  # the next frame (`zstd a b > c` writes one per file)
                    self._frame = self._zstd.decompressobj()
                self._buf += self._frame.decompress(chunk)
                chunk = self._frame.unused_data if self._frame.eof else b""
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def close(self) -> None:
        self._buf.clear()


def _zstd_errors() -> tuple[type[Exception], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def decoded_blocks(
    path: Path, encoding: str, on_bytes: Callable[[int], None] | None = None,
    notes: TextNotes | None = None,
) -> Iterator[str]:
    """The text of a file (compressed with gzip or zstd or not), block by block, decoded by
    `text`'s rules: a byte-order mark decides the encoding, line ends become "\\n", problems
    name the line."""
    kind = compression(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    try:
        stream = decompressed(path, _CountingReader(raw, on_bytes))
    except BaseException:
        raw.close()
        raise

    damaged: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error, ValueError,
                                            *_zstd_errors())

    def blocks() -> Iterator[bytes]:
        while True:
            try:
                block = stream.read(_BLOCK_BYTES)
            except damaged as exc:
                what = f"a damaged {_NAMES[kind]} file" if kind else "cannot read the file"
                raise UserError(f"{path}: {what} ({exc}).") from None
            if not block:
                return
            yield block

    try:
        yield from decode_stream(path, blocks(), encoding, notes,
                                 "of the uncompressed text " if kind else "")
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
    object, one per line. .parquet/.arrow: the `text_field` column, row by row (`columnar`).
    .csv/.tsv: the `text_field` column of each row, read by
    `delimited.DelimitedReader` (the delimiter stated or detected, standard or no quoting).
    `on_bytes` is told how many bytes were read from disk, as they are read; `notes` collects
    what was cleaned on the way (NUL characters, lone surrogates, control characters).
    """
    fmt = file_format(path)
    if fmt is None:
        raise UserError(f"{path}: unsupported file type; use {KINDS}.")
    if is_columnar(path):
        yield from (doc for doc in columnar_documents(path, options.text_field, on_bytes, notes)
                    if doc.strip())
        return
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
