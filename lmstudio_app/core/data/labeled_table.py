"""The rows of a labeled file (.csv .tsv .jsonl, optionally .gz), read by the engine's one text
decoder (`text`) and one delimited reader (`delimited`), so a labeled set and a corpus read the
same bytes the same way.

Rows are streamed with the line they start on; a malformed row is a row with a reason, never an
exception (the loaders skip and report it). What cannot be read at all (an unclosed quote that
would swallow the rest of the file, bytes that are not text in the chosen encoding) raises a
UserError naming the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .corpus import decoded_blocks, file_format, split_lines
from .delimited import DelimitedReader, Problem, check_options
from .text import TextNotes, check_encoding, clean_string

LABELED_SUFFIXES = (".csv", ".tsv", ".jsonl")
# How many JSONL rows detect_columns looks at to gather field names.
_DETECT_ROWS = 200


@dataclass(frozen=True)
class ReadOptions:
    """How a labeled file's bytes become rows (the corpus reader's options of the same names)."""

    encoding: str = "utf-8"
    delimiter: str = "auto"  # CSV/TSV: auto | comma | tab | semicolon | pipe
    quoting: str = "auto"  # CSV/TSV: auto | standard | none

    def validate(self) -> None:
        check_encoding(self.encoding)
        check_options(self.delimiter, self.quoting)


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, object] | None  # None when the row is malformed
    problem: str = ""
    lines: int = 1  # how many lines of the file the row spans


def json_type(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _clean(value: Any, path: Path, line: int, notes: TextNotes) -> Any:
    """Strings of a JSON row (nested ones too) through the text rules."""
    if isinstance(value, str):
        return clean_string(value, path, line, notes)
    if isinstance(value, dict):
        return {clean_string(k, path, line, notes): _clean(v, path, line, notes)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, path, line, notes) for v in value]
    return value


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (json keeps the last silently)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen.add(key)
    return dict(pairs)


class Table:
    """The rows of one labeled file, streamed. `columns` is the CSV/TSV header (None for JSONL,
    whose field names are only known row by row); `notes` collects what the text rules cleaned.
    """

    def __init__(self, path: Path, options: ReadOptions | None = None) -> None:
        options = options or ReadOptions()
        options.validate()
        if not path.is_file():
            raise UserError(f"{path}: no such file; check the path.")
        fmt = file_format(path)
        if fmt not in LABELED_SUFFIXES:
            raise UserError(f"{path}: unsupported file type for a labeled set; use "
                            f"{' '.join(LABELED_SUFFIXES)} (optionally .gz).")
        self.path = path
        self.format = fmt
        self.notes = TextNotes()
        self._blocks = decoded_blocks(path, options.encoding, None, self.notes)
        self._lines = split_lines(self._blocks)
        self.columns: list[str] | None = None
        self.reader: DelimitedReader | None = None
        if fmt != ".jsonl":
            try:
                self.reader = DelimitedReader(path, self._lines, suffix=fmt,
                                              delimiter=options.delimiter,
                                              quoting=options.quoting)
            except BaseException:
                self.close()
                raise
            self.columns = list(self.reader.header)

    @property
    def kind(self) -> str:
        return self.reader.kind if self.reader is not None else "JSONL"

    def close(self) -> None:
        """Close the file now (a reader left half-way would otherwise wait for the collector)."""
        self._blocks.close()  # type: ignore[attr-defined]  # a generator

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self) -> Iterator[Row]:
        if self.reader is None:
            yield from self._json_rows()
        else:
            yield from self._csv_rows(self.reader)

    def _json_rows(self) -> Iterator[Row]:
        for lineno, line in enumerate(self._lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line, object_pairs_hook=_one_value_per_key)
            except _RepeatedKey as exc:
                yield Row(lineno, None, f"the field {exc.key!r} is given twice; keep one")
                continue
            except json.JSONDecodeError as exc:
                yield Row(lineno, None, f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            except RecursionError:
                yield Row(lineno, None, "JSON nested too deeply")
                continue
            if not isinstance(value, dict):
                yield Row(lineno, None, f"expected a JSON object, found a {json_type(value)}")
                continue
            yield Row(lineno, _clean(value, self.path, lineno, self.notes))

    def _csv_rows(self, reader: DelimitedReader) -> Iterator[Row]:
        header = reader.header
        for item in reader:
            if isinstance(item, Problem):
                yield Row(item.line, None, item.reason)
                continue
            spans = item.end - item.line + 1
            fields = [clean_string(f, self.path, item.line, self.notes) for f in item.fields]
            if len(fields) != len(header):
                yield Row(item.line, None,
                          f"{len(fields)} fields but the header has {len(header)}", spans)
                continue
            yield Row(item.line, dict(zip(header, fields, strict=True)), lines=spans)


def detect_columns(path: str | Path, encoding: str = "utf-8", *, delimiter: str = "auto",
                   quoting: str = "auto") -> list[str]:
    """The column names of a labeled file, for a mapping dialog: the CSV/TSV header, or the
    JSONL field names in order of first appearance over the first rows."""
    with Table(Path(path), ReadOptions(encoding, delimiter, quoting)) as table:
        if table.columns is not None:
            return list(table.columns)
        names: dict[str, None] = {}
        for i, row in enumerate(table.rows()):
            if i >= _DETECT_ROWS:
                break
            if row.values is not None:
                names.update(dict.fromkeys(row.values))
        return list(names)


def preview_rows(path: str | Path, n: int = 20, encoding: str = "utf-8", *,
                 delimiter: str = "auto", quoting: str = "auto") -> list[dict[str, Any]]:
    """The first `n` well-formed rows as dicts (column -> value), malformed rows left out."""
    out: list[dict[str, Any]] = []
    if n <= 0:
        return out
    with Table(Path(path), ReadOptions(encoding, delimiter, quoting)) as table:
        for row in table.rows():
            if row.values is not None:
                out.append(dict(row.values))
                if len(out) >= n:
                    break
    return out
