"""Labeled datasets for fine-tuning: read, map columns, validate, split.

Two tasks: sentiment-style classification (a text and its label) and question answering (a
question, a context and an answer that is a span of the context). Files are .csv, .tsv or .jsonl,
optionally gzip-compressed, decoded by the corpus reader (so the same encodings and the same
invalid-UTF-8 message apply). A labeled set is small, so loaders return lists.

Malformed rows never stop a load: each is skipped and reported with its line number and the
reason, and the rest is used. Only a mistake that leaves nothing to use (a column that does not
exist at all, or no usable row) raises a UserError.
"""

from __future__ import annotations

import csv
import importlib.resources
import json
import random
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from ..errors import UserError
from .corpus import CorpusOptions, _decoded_blocks, _lines, file_format

LABELED_SUFFIXES = (".csv", ".tsv", ".jsonl")
SENTIMENT_LABELS = ("negative", "neutral", "positive")

# How many JSONL rows detect_columns looks at to gather field names.
_DETECT_ROWS = 200
# Skipped rows listed by summary(); to_dict() keeps them all.
_SUMMARY_SKIPS = 5


# ---------------------------------------------------------------------------------------------
# Column mappings and examples


@dataclass(frozen=True)
class ClassificationColumns:
    """Which column (CSV/TSV header name or JSONL field) holds the text and which the label."""

    text: str = "text"
    label: str = "label"

    def names(self) -> dict[str, str]:
        return {"text": self.text, "label": self.label}


@dataclass(frozen=True)
class QAColumns:
    """Columns of a question-answering set. `answer_start` is optional: when None, or when a
    row leaves it out or empty, the answer's first occurrence in the context is used."""

    question: str = "question"
    context: str = "context"
    answer: str = "answer"
    answer_start: str | None = None

    def names(self) -> dict[str, str]:
        out = {"question": self.question, "context": self.context, "answer": self.answer}
        if self.answer_start:
            out["answer_start"] = self.answer_start
        return out


@dataclass(frozen=True)
class ClassificationExample:
    text: str
    label: str
    line: int  # where the row starts in its file (1-based, counting the header)


@dataclass(frozen=True)
class QAExample:
    question: str
    context: str
    answer: str
    answer_start: int | None  # character offset of `answer` in `context` (code points)
    line: int


@dataclass(frozen=True)
class Conflict:
    """One text given different labels on different rows."""

    text: str
    labels: tuple[str, ...]
    lines: tuple[int, ...]


@dataclass
class ValidationReport:
    """What a load found: rows read and used, what was skipped and why, and label counts."""

    path: str
    task: str  # "classification" | "qa"
    rows_read: int = 0  # data rows seen (blank lines and the header not counted)
    rows_used: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    empty: int = 0  # rows skipped because a required value was empty
    duplicates: int = 0  # rows repeating an earlier row's text (QA: question and context)
    conflicts: list[Conflict] = field(default_factory=list)
    answers_not_found: int = 0  # QA rows skipped because the answer is not in the context
    answer_starts_found: int = 0  # QA rows without an offset, located by search
    answer_starts_corrected: list[tuple[int, int, int]] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """A few lines for a person."""
        name = Path(self.path).name
        lines = [f"{name}: {self.rows_used} of {self.rows_read} rows used"
                 + (f", {len(self.skipped)} skipped" if self.skipped else "")]
        if self.labels:
            dist = ", ".join(f"{k} {v}" for k, v in
                             ((k, self.labels[k]) for k in label_names(list(self.labels))))
            lines.append(f"labels: {dist}")
        for line, reason in self.skipped[:_SUMMARY_SKIPS]:
            lines.append(f"  line {line}: {reason}")
        if len(self.skipped) > _SUMMARY_SKIPS:
            lines.append(f"  ... and {len(self.skipped) - _SUMMARY_SKIPS} more skipped rows")
        if self.duplicates:
            what = "texts" if self.task == "classification" else "question/context pairs"
            lines.append(f"{self.duplicates} duplicate {what} (kept; copies share one split)")
        if self.conflicts:
            first = self.conflicts[0]
            lines.append(
                f"{len(self.conflicts)} texts with conflicting labels, e.g. lines "
                f"{', '.join(map(str, first.lines))} ({' / '.join(first.labels)})"
            )
        if self.task == "qa":
            if self.answers_not_found:
                lines.append(f"{self.answers_not_found} answers not found in their context "
                             "(skipped)")
            if self.answer_starts_corrected:
                lines.append(f"{len(self.answer_starts_corrected)} answer offsets corrected "
                             "to the nearest occurrence")
            if self.answer_starts_found:
                lines.append(f"{self.answer_starts_found} answer offsets located by search")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "task": self.task,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "skipped": [{"line": ln, "reason": r} for ln, r in self.skipped],
            "empty": self.empty,
            "duplicates": self.duplicates,
            "conflicts": [{"text": c.text, "labels": list(c.labels), "lines": list(c.lines)}
                          for c in self.conflicts],
            "answers_not_found": self.answers_not_found,
            "answer_starts_found": self.answer_starts_found,
            "answer_starts_corrected": [{"line": ln, "given": g, "used": u}
                                        for ln, g, u in self.answer_starts_corrected],
            "labels": dict(self.labels),
        }


# ---------------------------------------------------------------------------------------------
# Reading rows


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, object] | None  # None when the row is malformed
    problem: str = ""


class _Table:
    """The rows of one labeled file, streamed. `columns` is the CSV/TSV header (None for JSONL,
    whose field names are only known row by row)."""

    def __init__(self, path: Path, encoding: str) -> None:
        CorpusOptions(encoding=encoding).validate()
        if not path.is_file():
            raise UserError(f"{path}: no such file; check the path.")
        fmt = file_format(path)
        if fmt not in LABELED_SUFFIXES:
            raise UserError(f"{path}: unsupported file type for a labeled set; use "
                            f"{' '.join(LABELED_SUFFIXES)} (optionally .gz).")
        self.path = path
        self.format = fmt
        self._blocks = _decoded_blocks(path, CorpusOptions(encoding=encoding), None)
        self._lines = _strip_bom(_lines(self._blocks))
        self.columns: list[str] | None = None
        if fmt != ".jsonl":
            try:
                self._open_table("\t" if fmt == ".tsv" else ",")
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Close the file now (a reader left half-way would otherwise wait for the collector)."""
        self._blocks.close()  # type: ignore[attr-defined]  # a generator

    def __enter__(self) -> _Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_table(self, delimiter: str) -> None:
        self._csv = csv.reader(self._lines, delimiter=delimiter)
        self._kind = "TSV" if delimiter == "\t" else "CSV"
        while True:
            row = self._next_csv()
            if row is None:
                self.columns = []
                return
            if isinstance(row, list) and row:
                self.columns = [c.strip() for c in row]
                return
            if isinstance(row, str):
                raise UserError(f"{self.path}, line {self._csv.line_num}: the {self._kind} "
                                f"header cannot be read ({row}); fix the first line.")

    def _next_csv(self) -> list[str] | str | None:
        """The next CSV row, a reason string when the row is malformed, None at the end."""
        try:
            return next(self._csv)
        except StopIteration:
            return None
        except csv.Error as exc:
            return f"malformed {self._kind} ({exc})"

    def rows(self) -> Iterator[_Row]:
        if self.format == ".jsonl":
            yield from self._json_rows()
        else:
            yield from self._csv_rows()

    def _json_rows(self) -> Iterator[_Row]:
        for lineno, line in enumerate(self._lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield _Row(lineno, None, f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(value, dict):
                yield _Row(lineno, None, f"expected a JSON object, found a "
                                         f"{_json_type(value)}")
                continue
            yield _Row(lineno, value)

    def _csv_rows(self) -> Iterator[_Row]:
        header = self.columns or []
        while True:
            start = self._csv.line_num + 1
            row = self._next_csv()
            if row is None:
                return
            if isinstance(row, str):
                yield _Row(start, None, row)
                continue
            if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
                continue  # a blank line
            if len(row) != len(header):
                yield _Row(start, None, f"{len(row)} fields but the header has {len(header)}")
                continue
            yield _Row(start, dict(zip(header, row, strict=True)))


def _strip_bom(lines: Iterator[str]) -> Iterator[str]:
    # Spreadsheet programs often start UTF-8 files with a byte-order mark; it is not part of
    # the first column's name.
    first = next(lines, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from lines


def _json_type(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def detect_columns(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """The column names of a labeled file, for a mapping dialog: the CSV/TSV header, or the
    JSONL field names in order of first appearance over the first rows."""
    with _Table(Path(path), encoding) as table:
        if table.columns is not None:
            return list(table.columns)
        names: dict[str, None] = {}
        for i, row in enumerate(table.rows()):
            if i >= _DETECT_ROWS:
                break
            if row.values is not None:
                names.update(dict.fromkeys(row.values))
        return list(names)


def preview_rows(path: str | Path, n: int = 20, encoding: str = "utf-8") -> list[dict]:
    """The first `n` well-formed rows as dicts (column -> value), malformed rows left out."""
    out: list[dict] = []
    if n <= 0:
        return out
    with _Table(Path(path), encoding) as table:
        for row in table.rows():
            if row.values is not None:
                out.append(dict(row.values))
                if len(out) >= n:
                    break
    return out


# ---------------------------------------------------------------------------------------------
# Loading


class _Skip(Exception):
    """A row that cannot be used; the message is the reason."""

    def __init__(self, reason: str, empty: bool = False) -> None:
        super().__init__(reason)
        self.empty = empty


def _check_mapping(names: dict[str, str]) -> None:
    for role, col in names.items():
        if not col or not col.strip():
            raise UserError(f"no column given for the {role}; choose one of the file's columns.",
                            field=f"{role}_col")
    cols = list(names.values())
    for role, col in names.items():
        if cols.count(col) > 1:
            raise UserError(f"column {col!r} is mapped to more than one role ({role} and "
                            "another); map each role to its own column.", field=f"{role}_col")


def _missing_column(path: Path, role: str, col: str, available: Sequence[str],
                    kind: str) -> UserError:
    names = ", ".join(repr(c) for c in available) or "none"
    hint = ""
    if kind == "CSV" and len(available) == 1 and (";" in available[0] or "\t" in available[0]):
        hint = " (the header looks separated by ';' or tabs, not commas: save it as CSV or TSV)"
    what = "field" if kind == "JSONL" else "column"
    return UserError(
        f"{path}: no {what} {col!r} for the {role} ({what}s found: {names}){hint}; "
        f"map the {role} to one of them.", field=f"{role}_col",
        option=available[0] if available else None
    )


def _text_value(values: dict[str, object], role: str, col: str) -> str:
    """The text of one field; raises _Skip when it is missing, not text, or blank."""
    if col not in values:
        raise _Skip(f"no {role} field {col!r}")
    value = values[col]
    if value is None:
        raise _Skip(f"empty {role}", empty=True)
    if not isinstance(value, str):
        raise _Skip(f"the {role} ({col!r}) is a {_json_type(value)}, not text")
    if not value.strip():
        raise _Skip(f"empty {role}", empty=True)
    return value


def _label_value(values: dict[str, object], col: str) -> str:
    if col not in values:
        raise _Skip(f"no label field {col!r}")
    value = values[col]
    # Class ids written as numbers or booleans are labels too; fractions are not.
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    elif value is None:
        raise _Skip("empty label", empty=True)
    elif not isinstance(value, str):
        raise _Skip(f"the label ({col!r}) is a {_json_type(value)}, not a class name")
    value = value.strip()
    if not value:
        raise _Skip("empty label", empty=True)
    return value


def _read_rows(path: Path, names: dict[str, str], encoding: str,
               report: ValidationReport) -> list[tuple[int, dict[str, object]]]:
    """Well-formed rows, with malformed ones recorded in `report`; checks that every mapped
    column exists in the file (UserError naming the columns found otherwise)."""
    _check_mapping(names)
    seen_fields: dict[str, None] = {}
    rows: list[tuple[int, dict[str, object]]] = []
    with _Table(path, encoding) as table:
        kind = table.format.lstrip(".").upper()
        if table.columns is not None:
            for role, col in names.items():
                if col not in table.columns:
                    raise _missing_column(path, role, col, table.columns, kind)
        for row in table.rows():
            report.rows_read += 1
            if row.values is None:
                report.skipped.append((row.line, row.problem))
                continue
            seen_fields.update(dict.fromkeys(row.values))
            rows.append((row.line, row.values))
    if table.columns is None and rows:
        for role, col in names.items():
            if col not in seen_fields:
                raise _missing_column(path, role, col, list(seen_fields), kind)
    # The file is read whole before any row is used, so a missing column is reported before
    # the (possibly long) list of rows it would have made unusable.
    return rows


def _finish(path: Path, report: ValidationReport, n_used: int) -> None:
    report.skipped.sort()
    report.rows_used = n_used
    if n_used == 0:
        if report.skipped:
            line, reason = report.skipped[0]
            raise UserError(
                f"{path}: no usable rows ({report.rows_read} read, all skipped; first: line "
                f"{line}, {reason}); check the column mapping and the file's format."
            )
        raise UserError(f"{path}: the file holds no rows; add examples (a header, then one "
                        "row per example).")


def load_classification(
    path: str | Path,
    columns: ClassificationColumns | None = None,
    encoding: str = "utf-8",
) -> tuple[list[ClassificationExample], ValidationReport]:
    """The usable examples of a classification file and what was found on the way.

    Texts and labels are stripped of surrounding whitespace. Duplicate texts are kept and
    counted; a text given different labels is listed as a conflict.
    """
    path = Path(path)
    columns = columns or ClassificationColumns()
    report = ValidationReport(path=str(path), task="classification")
    examples: list[ClassificationExample] = []
    by_text: dict[str, list[ClassificationExample]] = {}
    for line, values in _read_rows(path, columns.names(), encoding, report):
        try:
            text = _text_value(values, "text", columns.text).strip()
            label = _label_value(values, columns.label)
        except _Skip as skip:
            report.skipped.append((line, str(skip)))
            report.empty += skip.empty
            continue
        ex = ClassificationExample(text=text, label=label, line=line)
        same = by_text.setdefault(text, [])
        if same:
            report.duplicates += 1
        same.append(ex)
        examples.append(ex)
        report.labels[label] += 1
    for text, group in by_text.items():
        labels = tuple(dict.fromkeys(e.label for e in group))
        if len(labels) > 1:
            report.conflicts.append(Conflict(text, labels, tuple(e.line for e in group)))
    _finish(path, report, len(examples))
    return examples, report


def _answer_and_start(values: dict[str, object], columns: QAColumns) -> tuple[str, int | None]:
    """The answer text and its given offset (None when not given).

    Besides a plain string the answer may be given as SQuAD-style `{"text": [...],
    "answer_start": [...]}` (the first answer is used) or as a list of strings (the first).
    """
    if columns.answer not in values:
        raise _Skip(f"no answer field {columns.answer!r}")
    raw = values[columns.answer]
    start: object = None
    if isinstance(raw, dict) and "text" in raw:
        texts, starts = raw.get("text"), raw.get("answer_start")
        raw = texts[0] if isinstance(texts, list) and texts else texts
        if isinstance(starts, list):
            start = starts[0] if starts else None
        elif starts is not None:
            start = starts
    elif isinstance(raw, list):
        raw = raw[0] if raw else None
    answer = _text_value({"a": raw}, "answer", "a")
    # A row may leave the offset out (a JSONL field absent or null, an empty CSV cell).
    if columns.answer_start and values.get(columns.answer_start) is not None:
        start = values[columns.answer_start]
    if isinstance(start, str):
        start = start.strip() or None
        if start is not None:
            try:
                start = int(start)
            except ValueError:
                raise _Skip(f"answer_start {start!r} is not a whole number") from None
    if isinstance(start, bool) or not (start is None or isinstance(start, int)):
        raise _Skip(f"answer_start {start!r} is not a whole number")
    # Surrounding spaces in an answer are noise; strip them and move the offset with them.
    lead = len(answer) - len(answer.lstrip())
    if start is not None:
        start += lead
    return answer.strip(), start


def _occurrences(context: str, answer: str) -> list[int]:
    out: list[int] = []
    pos = context.find(answer)
    while pos >= 0:
        out.append(pos)
        pos = context.find(answer, pos + 1)
    return out


def load_qa(
    path: str | Path,
    columns: QAColumns | None = None,
    encoding: str = "utf-8",
) -> tuple[list[QAExample], ValidationReport]:
    """The usable examples of a question-answering file and what was found on the way.

    Offsets are in characters (Unicode code points) of the context as read. A row without an
    offset gets the answer's first occurrence; a wrong offset is moved to the nearest
    occurrence (counted in the report); an answer that does not occur is skipped.
    """
    path = Path(path)
    columns = columns or QAColumns()
    report = ValidationReport(path=str(path), task="qa")
    examples: list[QAExample] = []
    seen: set[tuple[str, str]] = set()
    for line, values in _read_rows(path, columns.names(), encoding, report):
        try:
            question = _text_value(values, "question", columns.question).strip()
            context = _text_value(values, "context", columns.context)
            answer, given = _answer_and_start(values, columns)
        except _Skip as skip:
            report.skipped.append((line, str(skip)))
            report.empty += skip.empty
            continue
        if given is not None and given >= 0 and context[given:given + len(answer)] == answer:
            start = given
        else:
            found = _occurrences(context, answer)
            if not found:
                report.skipped.append((line, "answer not found in the context"))
                report.answers_not_found += 1
                continue
            if given is None:
                start = found[0]
                report.answer_starts_found += 1
            else:
                start = min(found, key=lambda p: (abs(p - given), p))
                report.answer_starts_corrected.append((line, given, start))
        key = (question, context)
        if key in seen:
            report.duplicates += 1
        seen.add(key)
        examples.append(QAExample(question, context, answer, start, line))
    _finish(path, report, len(examples))
    return examples, report


# ---------------------------------------------------------------------------------------------
# Splits and labels

T = TypeVar("T")


@dataclass
class Split(Generic[T]):
    train: list[T]
    val: list[T]
    test: list[T]

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1
            and val_fraction + test_fraction < 1):
        raise UserError(
            f"validation fraction {val_fraction} and test fraction {test_fraction}: each must "
            "be at least 0 and together below 1 (e.g. 0.1 and 0.1).",
            field=("val_fraction", "test_fraction"), option="0.1"
        )


def _largest_remainder(ideal: list[float], total: int) -> list[int]:
    """Whole counts, each the floor or ceiling of its ideal, summing to `total` where the
    floors and ceilings allow."""
    counts = [int(x) for x in ideal]
    order = sorted(range(len(ideal)), key=lambda i: (-(ideal[i] - counts[i]), i))
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


def _default_key(examples: Sequence[object]) -> Callable[[object], Hashable] | None:
    if examples and all(hasattr(e, "label") for e in examples):
        return lambda e: e.label  # type: ignore[attr-defined]
    return None


def _duplicate_key(example: object) -> Hashable:
    """What makes two examples the same: a classification text, a QA question in its context."""
    if isinstance(example, QAExample):
        return (example.question, example.context)
    return getattr(example, "text", id(example))


def stratified_split(
    examples: Sequence[T],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 1337,
    key: Callable[[T], Hashable] | None = None,
    together: Callable[[T], Hashable] | None = _duplicate_key,
) -> Split[T]:
    """Train / validation / test parts, the same for the same input and seed.

    Examples with the same `together` key (by default duplicates: the same text, or the same
    question in the same context) always land in the same part, so a repeated text never
    scores a model on something it trained on; pass None to split them freely. Fractions then
    count such groups, which differ from example counts only by the duplicates.

    Stratified by `key` (by default the label, for examples that have one; pass
    `key=lambda e: 0` for a plain shuffle); a group is stratified by its first example: each
    class's share of every part is within one group of the fractions, and every class with at
    least three groups appears in every part (a class of two goes to train and validation, a
    class of one to train). Without a key (question answering) the groups are shuffled and cut.
    """
    _check_fractions(val_fraction, test_fraction)
    rng = random.Random(seed)
    key = key or _default_key(examples)
    units: dict[Hashable, list[T]] = {}
    for i, ex in enumerate(examples):
        units.setdefault(together(ex) if together else i, []).append(ex)
    groups_in_order = list(units.values())
    n_total = len(groups_in_order)

    def expand(part: list[list[T]]) -> list[T]:
        return [ex for group in part for ex in group]

    if key is None:
        order = list(groups_in_order)
        rng.shuffle(order)
        n_val, n_test = _part_sizes(n_total, val_fraction, test_fraction)
        return Split(train=expand(order[n_val + n_test:]), val=expand(order[:n_val]),
                     test=expand(order[n_val:n_val + n_test]))

    strata: dict[Hashable, list[list[T]]] = {}
    for group in groups_in_order:
        strata.setdefault(key(group[0]), []).append(group)
    keys = sorted(strata, key=lambda k: (str(type(k)), str(k)))
    sizes = [len(strata[k]) for k in keys]
    vals = _largest_remainder([n * val_fraction for n in sizes], round(n_total * val_fraction))
    tests = _largest_remainder([n * test_fraction for n in sizes],
                               round(n_total * test_fraction))
    train: list[list[T]] = []
    val: list[list[T]] = []
    test: list[list[T]] = []
    for k, n, v, t in zip(keys, sizes, vals, tests, strict=True):
        v, t = _class_counts(n, v, t, val_fraction, test_fraction)
        members = list(strata[k])
        rng.shuffle(members)
        val += members[:v]
        test += members[v:v + t]
        train += members[v + t:]
    for part in (train, val, test):
        rng.shuffle(part)
    return Split(train=expand(train), val=expand(val), test=expand(test))


def _class_counts(n: int, v: int, t: int, vf: float, tf: float) -> tuple[int, int]:
    """Validation and test counts for one class of `n`: at least one in each part that has a
    fraction when the class can spare it, and always at least one left for training."""
    if n >= 3:
        v = max(v, 1) if vf > 0 else v
        t = max(t, 1) if tf > 0 else t
    elif n == 2 and v + t == 0 and (vf > 0 or tf > 0):
        v, t = (1, 0) if vf > 0 else (0, 1)
    while v + t > n - 1 and v + t > 0:
        if v >= t and v > 0:
            v -= 1
        else:
            t -= 1
    return v, t


def _part_sizes(n: int, vf: float, tf: float) -> tuple[int, int]:
    v, t = round(n * vf), round(n * tf)
    if n >= 3:
        v = max(v, 1) if vf > 0 else v
        t = max(t, 1) if tf > 0 else t
    while v + t > max(n - 1, 0) and v + t > 0:
        if v >= t:
            v -= 1
        else:
            t -= 1
    return v, t


def load_splits(
    train: str | Path,
    val: str | Path | None = None,
    test: str | Path | None = None,
    *,
    columns: ClassificationColumns | QAColumns | None = None,
    encoding: str = "utf-8",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 1337,
) -> tuple[Split, dict[str, ValidationReport]]:
    """Train, validation and test sets from up to three files, splitting only what is missing.

    The task follows `columns` (classification by default). A missing validation or test part
    is carved from the train file with its fraction of that file (stratified for
    classification). Returns the split and the report of each file read ("train", "val",
    "test").
    """
    _check_fractions(val_fraction, test_fraction)
    columns = columns or ClassificationColumns()

    def load(path: str | Path) -> tuple[list, ValidationReport]:
        if isinstance(columns, QAColumns):
            return load_qa(path, columns, encoding)
        return load_classification(path, columns, encoding)

    reports: dict[str, ValidationReport] = {}
    train_ex, reports["train"] = load(train)
    val_ex = test_ex = None
    if val is not None:
        val_ex, reports["val"] = load(val)
    if test is not None:
        test_ex, reports["test"] = load(test)
    carved = stratified_split(
        train_ex,
        val_fraction=0.0 if val_ex is not None else val_fraction,
        test_fraction=0.0 if test_ex is not None else test_fraction,
        seed=seed,
    )
    return Split(
        train=carved.train,
        val=val_ex if val_ex is not None else carved.val,
        test=test_ex if test_ex is not None else carved.test,
    ), reports


def label_names(examples: Iterable[ClassificationExample] | Iterable[str]) -> list[str]:
    """The distinct labels in a stable order: negative, neutral, positive when the labels are
    exactly those (any case), numeric order when all are whole numbers, else sorted."""
    names = {e if isinstance(e, str) else e.label for e in examples}
    if {n.lower() for n in names} == set(SENTIMENT_LABELS) and len(names) == 3:
        return sorted(names, key=lambda n: SENTIMENT_LABELS.index(n.lower()))
    if names and all(_is_int(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names, key=lambda n: (n.casefold(), n))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Bundled samples


def _sample(name: str) -> Path:
    try:
        path = Path(str(importlib.resources.files("lmstudio_app.resources") / "labeled" / name))
    except ModuleNotFoundError:
        path = Path(__file__).resolve().parents[2] / "resources" / "labeled" / name
    if not path.is_file():
        raise UserError(f"{path}: the bundled sample is missing; reinstall the app.")
    return path


def sample_sentiment_path() -> Path:
    """The bundled sentiment set: text,label with labels negative / neutral / positive."""
    return _sample("sentiment.csv")


def sample_qa_path() -> Path:
    """The bundled question-answering set: JSONL with question, context, answer, answer_start."""
    return _sample("qa.jsonl")


__all__ = [
    "ClassificationColumns", "ClassificationExample", "Conflict", "QAColumns", "QAExample",
    "Split", "ValidationReport", "detect_columns", "label_names", "load_classification",
    "load_qa", "load_splits", "preview_rows", "sample_qa_path", "sample_sentiment_path",
    "stratified_split",
]
