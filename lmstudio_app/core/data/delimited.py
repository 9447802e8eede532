"""The one reader of delimited files (CSV, TSV, and their semicolon- or pipe-separated kin), for
corpora and labeled sets alike.

Python's csv module reads the records, strictly: a quote opens a field only at its start, and a
closing quote must end the field. The delimiter is the one stated, else a tab for .tsv, else the
one among comma, semicolon, tab and pipe that splits the first lines into the most consistent
number of fields (two or more), else a comma. Quoting is "standard" (RFC 4180: double quotes
around a field, "" for a quote inside it), "none" (quotes are text; a field holds no delimiter
and no line break) or "auto": standard, except for a tab-separated file whose first lines break
the standard rules (prose that opens a field with a quotation mark, as plain TSV allows): that
one is read with quotes as text, and a note says which line decided it.

A quote that never closes is refused with the line where it opens (it would swallow the rest of
the file into one field); so is one that closes far below and takes in lines that look like
rows. Every record carries the line it starts on, so a count of rows can be checked by a person.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError

DELIMITERS = {"auto": "", "comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
QUOTINGS = ("auto", "standard", "none")
_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_SNIFF_LINES = 50
_SNIFF_CHARS = 1 << 16

# Rows of a CSV may hold whole documents; the default limit of 128 KB per field is too small.
csv.field_size_limit(1 << 30)


def _quote_problem(head: list[str], delimiter: str, complete: bool) -> str | None:
    """Where the first lines break the standard quoting rules, or None."""
    reader = _reader(head, delimiter, "standard")
    while True:
        start = reader.line_num + 1
        try:
            if next(reader, None) is None:
                return None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                if not complete and start > len(head) - 5:
                    return None  # a quoted field cut by the end of the sample: inconclusive
                return f"line {start}: a quote opens and never closes"
            return f"line {reader.line_num}: text follows a closing quote"


def check_options(delimiter: str, quoting: str) -> None:
    if delimiter not in DELIMITERS:
        raise UserError(f"delimiter {delimiter!r}: choose one of {', '.join(DELIMITERS)}.",
                        field="delimiter", option="auto")
    if quoting not in QUOTINGS:
        raise UserError(f"quoting {quoting!r}: choose one of {', '.join(QUOTINGS)}.",
                        field="quoting", option="standard")


def delimiter_name(delimiter: str) -> str:
    """"comma", "tab", ... for a delimiter character."""
    return _NAMES.get(delimiter, repr(delimiter))


def other_delimiter(header: list[str], delimiter: str) -> str | None:
    """The name of the delimiter a one-column header is really separated by ("semicolon" for
    "text;label" read with commas), or None."""
    if len(header) != 1:
        return None
    found = next((d for d in (";", "\t", "|", ",") if d in header[0] and d != delimiter), None)
    return delimiter_name(found) if found else None


@dataclass(frozen=True)
class Record:
    """One row: the line it starts on (1-based, the header is line 1), its fields, and the line
    it ends on (a quoted field may hold line breaks)."""

    line: int
    fields: list[str]
    end: int = 0


@dataclass(frozen=True)
class Problem:
    """A row that cannot be read as it stands; the rows after it can."""

    line: int
    reason: str


def _reader(lines: Iterator[str] | list[str], delimiter: str, quoting: str,
            strict: bool = True) -> Any:
    mode: Literal[0, 1, 2, 3] = csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL
    return csv.reader(lines, delimiter=delimiter, quoting=mode, strict=strict)


def sniff(head: list[str], quoting: str) -> str:
    """The delimiter that splits the first lines into the most consistent rows of 2+ fields."""
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            rows = [r for r in _reader(head, delimiter, quoting, strict=False) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        n = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last line may be cut short
        same = sum(len(r) == n for r in body) / len(body) if body else 1.0
        score = (n > 1, same, n)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _check_header_names(path: Path, line: int, header: list[str]) -> None:
    """Refuse a header that names one column twice: a row would keep only one of its values."""
    first: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        if name and name in first:
            raise UserError(f"{path}, line {line}: the header names column {name!r} twice "
                            f"(columns {first[name]} and {number}); rename one of them.")
        first.setdefault(name, number)


class DelimitedReader:
    """Records of one delimited file, after its header; iterate for Record or Problem items.

    `lines` are the decoded lines ("\\n"-terminated). Raises UserError (with the line) for a
    quote that never closes, or that closes only after taking in lines that look like rows.
    """

    def __init__(self, path: Path, lines: Iterator[str], *, suffix: str,
                 delimiter: str = "auto", quoting: str = "auto") -> None:
        check_options(delimiter, quoting)
        self.path = path
        head: list[str] = []
        size = 0
        complete = True
        for line in lines:
            head.append(line)
            size += len(line)
            if len(head) >= _SNIFF_LINES or size >= _SNIFF_CHARS:
                complete = False
                break
        stated = DELIMITERS[delimiter]
        self.delimiter = stated or ("\t" if suffix == ".tsv" else sniff(head, quoting))
        self.sniffed = not stated and suffix != ".tsv"
        self.quote_note = ""  # why quotes are read as text, when "auto" decided so
        if quoting == "auto":
            problem = (_quote_problem(head, self.delimiter, complete)
                       if self.delimiter == "\t" else None)
            quoting = "none" if problem else "standard"
            if problem:
                self.quote_note = (f"{problem} under CSV quoting, so quotation marks are read "
                                   "as text (quoting none)")
        self.quoting = quoting
        self._csv = _reader(itertools.chain(head, lines), self.delimiter, quoting)
        self.header: list[str] = []
        for item in self._records():
            if isinstance(item, Problem):
                raise UserError(f"{path}, line {item.line}: the header cannot be read "
                                f"({item.reason}); fix the first line.")
            self.header = [c.strip().removeprefix("\ufeff") for c in item.fields]
            _check_header_names(path, item.line, self.header)
            break

    @property
    def kind(self) -> str:
        return "TSV" if self.delimiter == "\t" else "CSV"

    def describe(self) -> str:
        """"tab-separated, standard quoting" (for reports)."""
        how = " (detected)" if self.sniffed else ""
        return f"{delimiter_name(self.delimiter)}-separated{how}, {self.quoting} quoting"

    def __iter__(self) -> Iterator[Record | Problem]:
        return self._records()

    def _records(self) -> Iterator[Record | Problem]:
        while True:
            start = self._csv.line_num + 1
            try:
                fields = next(self._csv)
            except StopIteration:
                return
            except csv.Error as exc:
                item = self._error(start, str(exc))
                if item is not None:
                    yield item
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()
                              and len(self.header) != 1):
                continue  # a blank line
            end = self._csv.line_num
            if end > start:
                self._check_span(start, end, fields)
            yield Record(start, fields, end)

    def _quote_advice(self) -> str:
        return ("close the quote, or if quotation marks in this file are part of the text, "
                "read it with quoting none")

    def _error(self, start: int, reason: str) -> Problem | None:
        end = self._csv.line_num
        if "unexpected end of data" in reason:
            raise UserError(
                f"{self.path}, line {start}: a quote opens here and never closes (the rest of "
                f"the file, {end - start + 1} lines, would be one field); "
                f"{self._quote_advice()}.", field="quoting", option="none")
        if end > start:
            raise UserError(
                f"{self.path}, line {start}: a quote opens here and closes only at line {end}, "
                f"where text follows it ({reason}); {self._quote_advice()}.",
                field="quoting", option="none")
        return Problem(start, f"a quoted field is followed by more text ({reason}); quote the "
                              "whole field, or read the file with quoting none")

    def _check_span(self, start: int, end: int, fields: list[str]) -> None:
        """A field over several lines is fine (a quoted paragraph); one whose lines hold the
        delimiter as rows do has swallowed rows, unless the delimiter is a comma (prose)."""
        if self.delimiter == "," or len(self.header) < 2:
            return
        for f in fields:
            inner = f.split("\n")[1:]
            if any(line.count(self.delimiter) >= len(self.header) - 1 for line in inner):
                raise UserError(
                    f"{self.path}, line {start}: a quote opens here and closes only at line "
                    f"{end}, taking in {end - start} lines that look like rows; "
                    f"{self._quote_advice()}.", field="quoting", option="none")
