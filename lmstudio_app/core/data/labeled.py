"""Labeled datasets for fine-tuning: map columns, validate, split.

Two tasks: sentiment-style classification (a text and its label) and question answering (a
question, a context and an answer that is a span of the context). Files are .csv, .tsv or .jsonl,
optionally gzip-compressed, read by `labeled_table` (the engine's one text decoder and one
delimited reader, as for corpora). A labeled set is small, so loaders return lists.

Malformed rows never stop a load: each is skipped and reported with its line number and the
reason, and the rest is used. Only a mistake that leaves nothing to use (a column that does not
exist at all, no usable row, a quote that swallows the rest of the file) raises a UserError.
Labels follow `labels`: stripped, "1.0" read as "1", case variants merged (or kept apart with a
warning when asked).
"""

from __future__ import annotations

import importlib.resources
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from .delimited import delimiter_name, other_delimiter
from .labeled_checks import (
    check_label_column,
    check_split_sizes,
    check_unseen_labels,
    label_like_column,
)
from .labeled_kinds import FieldKind, has_fields, kind_of_fields
from .labeled_report import Conflict, ValidationReport
from .labeled_table import LABELED_SUFFIXES, ReadOptions, Table, json_type
from .labeled_table import detect_columns as detect_columns
from .labeled_table import preview_rows as preview_rows
from .labels import (
    LabelProblem,
    case_groups,
    case_variants,
    describe_merges,
    label_names,
    normalize_label,
)
from .splits import Split, check_fractions, stratified_split

_SUGGEST_ROWS = 2000  # rows read to name a label-like column when a label column is refused

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


# ---------------------------------------------------------------------------------------------
# Loading


def _no_column(role: str) -> UserError:
    return UserError(f"no column given for the {role}; choose one of the file's columns.",
                     field=f"{role}_col")


def _check_mapping(names: dict[str, str]) -> None:
    for role, col in names.items():
        if not col or not col.strip():
            raise _no_column(role)
    cols = list(names.values())
    for role, col in names.items():
        if cols.count(col) > 1:
            raise UserError(f"column {col!r} is mapped to more than one role ({role} and "
                            "another); map each role to its own column.", field=f"{role}_col")


def _missing_column(path: Path, names: dict[str, str], role: str, available: Sequence[str],
                    table: Table) -> UserError:
    """The error for a mapped column the file lacks: another delimiter or another column."""
    col = names[role]
    if not col.strip():
        return _no_column(role)
    names_found = ", ".join(repr(c) for c in available) or "none"
    what = "field" if table.kind == "JSONL" else "column"
    other = other_delimiter(list(available), table.reader.delimiter) if table.reader else None
    if table.reader is not None and other is not None:
        return UserError(
            f"{path}: no {what} {col!r} for the {role}: the header {available[0]!r} looks "
            f"separated by {other}, not {delimiter_name(table.reader.delimiter)}; read the "
            f"file with delimiter {other}.", field="delimiter", option=other)
    return UserError(
        f"{path}: no {what} {col!r} for the {role} ({what}s found: {names_found}); "
        f"map the {role} to one of them.", field=f"{role}_col",
        option=available[0] if available else None
    )


def _text_value(values: dict[str, object], role: str, col: str) -> str:
    """The text of one field; raises LabelProblem when it is missing, not text, or blank."""
    if col not in values:
        raise LabelProblem(f"no {role} field {col!r}")
    value = values[col]
    if value is None:
        raise LabelProblem(f"empty {role}", empty=True)
    if not isinstance(value, str):
        raise LabelProblem(f"the {role} ({col!r}) is a {json_type(value)}, not text")
    if not value.strip():
        raise LabelProblem(f"empty {role}", empty=True)
    return value


def _check_columns(path: Path, names: dict[str, str], available: Sequence[str],
                   table: Table) -> None:
    """The file's fields must make the kind of data the mapping reads (labeled_kinds), and hold
    every mapped column: UserError naming the task to use, or the column and the fix."""
    theirs, ours = kind_of_fields(available), kind_of_fields(names)
    if (theirs is not None and ours is not None and theirs.family != ours.family
            and not has_fields(ours, available)):
        raise UserError(
            f"{path}: its fields {', '.join(theirs.fields)} make {theirs.title}, not "
            f"{ours.title}; fine-tune it with task {theirs.task}.", field="task",
            option=theirs.task)
    for role, col in names.items():
        if col not in available:
            raise _missing_column(path, names, role, available, table)


def _check_header(path: Path, table: Table, names: dict[str, str],
                  report: ValidationReport) -> None:
    """For a file with a header (CSV, TSV): how it is read, into `report`, and UserError when a
    mapped column is not among its columns."""
    if table.columns is None:
        return
    assert table.reader is not None
    report.read_as = table.reader.describe()
    if table.reader.quote_note:
        report.notes.append(table.reader.quote_note)
    _check_columns(path, names, table.columns, table)


def _read_rows(path: Path, names: dict[str, str], options: ReadOptions,
               report: ValidationReport) -> list[tuple[int, dict[str, object]]]:
    """Well-formed rows, with malformed ones recorded in `report`; checks that every mapped
    column exists in the file (UserError naming the columns found otherwise, or the task the
    file's fields make)."""
    seen_fields: dict[str, None] = {}
    rows: list[tuple[int, dict[str, object]]] = []
    multiline = 0
    with Table(path, options) as table:
        _check_header(path, table, names, report)
        for row in table.rows():
            report.rows_read += 1
            multiline += row.lines > 1
            if row.values is None:
                report.skipped.append((row.line, row.problem))
                continue
            seen_fields.update(dict.fromkeys(row.values))
            rows.append((row.line, row.values))
    if table.columns is None and rows:
        _check_columns(path, names, list(seen_fields), table)
    _check_mapping(names)
    report.notes += table.notes.lines()
    if multiline:
        report.notes.append(f"{multiline} rows span several lines (quoted fields with line "
                            "breaks)")
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


def _classification_rows(path: Path, columns: ClassificationColumns, options: ReadOptions,
                         report: ValidationReport) -> list[ClassificationExample]:
    examples: list[ClassificationExample] = []
    decimals = 0
    for line, values in _read_rows(path, columns.names(), options, report):
        try:
            text = _text_value(values, "text", columns.text).strip()
            if columns.label not in values:
                raise LabelProblem(f"no label field {columns.label!r}")
            label, decimal = normalize_label(values[columns.label], columns.label)
        except LabelProblem as skip:
            report.skipped.append((line, str(skip)))
            report.empty += skip.empty
            continue
        decimals += decimal
        examples.append(ClassificationExample(text=text, label=label, line=line))
    if decimals:
        report.notes.append(f"{decimals} labels written as whole-number decimals (such as "
                            "'1.0') read as integers ('1')")
    return examples


def merge_label_case(files: Sequence[tuple[list[ClassificationExample], ValidationReport]],
                     keep: bool = False) -> list[list[ClassificationExample]]:
    """Labels that differ only in case made one class across `files` (the most frequent form
    names it), each merge reported in the report of the file it changed; with `keep`, left
    apart and a warning added. Recounts each report's labels and conflicts."""
    mapping = {} if keep else case_groups(e.label for examples, _ in files for e in examples)
    out = []
    for examples, report in files:
        local = Counter(e.label for e in examples if e.label in mapping)
        if local:
            report.notes += describe_merges({v: mapping[v] for v in local}, local)
        if keep:
            for group in case_variants(e.label for e in examples):
                report.notes.append(
                    f"warning: labels {', '.join(repr(g) for g in group)} differ only in case "
                    "and are kept as separate classes (as asked)")
        merged = [replace(e, label=mapping.get(e.label, e.label)) for e in examples]
        report.labels = Counter(e.label for e in merged)
        _find_duplicates(merged, report)
        out.append(merged)
    return out


def _find_duplicates(examples: list[ClassificationExample], report: ValidationReport) -> None:
    by_text: dict[str, list[ClassificationExample]] = {}
    for ex in examples:
        by_text.setdefault(ex.text, []).append(ex)
    report.duplicates = sum(len(g) - 1 for g in by_text.values())
    report.conflicts = []
    for text, group in by_text.items():
        labels = tuple(dict.fromkeys(e.label for e in group))
        if len(labels) > 1:
            report.conflicts.append(Conflict(text, labels, tuple(e.line for e in group)))


def load_classification(path: str | Path, columns: ClassificationColumns | None = None,
                        encoding: str = "utf-8", *, delimiter: str = "auto", quoting: str = "auto",
                        keep_label_case: bool = False,
                        ) -> tuple[list[ClassificationExample], ValidationReport]:
    """The usable examples of a classification file and what was found on the way.

    Texts and labels are stripped of surrounding whitespace; labels follow `labels`' rules
    (whole-number decimals as integers, case variants merged unless `keep_label_case`).
    Duplicate texts are kept and counted; a text given different labels is listed as a conflict.
    Raises UserError when nothing in the file can be used (see the module's docstring).
    """
    parts = _load_parts({"train": path}, columns or ClassificationColumns(),
                        ReadOptions(encoding, delimiter, quoting), keep_label_case)
    return parts["train"]


def _answer_and_start(values: dict[str, object], columns: QAColumns) -> tuple[str, int | None]:
    """The answer text and its given offset (None when not given).

    Besides a plain string the answer may be given as SQuAD-style `{"text": [...],
    "answer_start": [...]}` (the first answer is used) or as a list of strings (the first).
    """
    if columns.answer not in values:
        raise LabelProblem(f"no answer field {columns.answer!r}")
    raw, start = _given_answer(values[columns.answer])
    answer = _text_value({"a": raw}, "answer", "a")
    # A row may leave the offset out (a JSONL field absent or null, an empty CSV cell).
    if columns.answer_start and values.get(columns.answer_start) is not None:
        start = values[columns.answer_start]
    offset = _whole_offset(start)
    # Surrounding spaces in an answer are noise; strip them and move the offset with them.
    lead = len(answer) - len(answer.lstrip())
    if offset is not None:
        offset += lead
    return answer.strip(), offset


def _given_answer(raw: object) -> tuple[object, object]:
    """The answer value and its offset (None when absent) as the answer field gives them: a
    SQuAD-style dict (its first answer), a list of strings (the first) or a plain value."""
    if isinstance(raw, dict) and "text" in raw:
        texts, starts = raw.get("text"), raw.get("answer_start")
        answer = texts[0] if isinstance(texts, list) and texts else texts
        if isinstance(starts, list):
            return answer, starts[0] if starts else None
        return answer, starts
    if isinstance(raw, list):
        return (raw[0] if raw else None), None
    return raw, None


def _whole_offset(start: object) -> int | None:
    """A given answer offset as an int (a numeral string is read); None when blank or absent.
    Raises LabelProblem for anything else (a float, a bool, words)."""
    if isinstance(start, str):
        start = start.strip() or None
        if start is not None:
            try:
                start = int(start)
            except ValueError:
                raise LabelProblem(f"answer_start {start!r} is not a whole number") from None
    if isinstance(start, bool) or not (start is None or isinstance(start, int)):
        raise LabelProblem(f"answer_start {start!r} is not a whole number")
    return start


def _occurrences(context: str, answer: str) -> list[int]:
    out: list[int] = []
    pos = context.find(answer)
    while pos >= 0:
        out.append(pos)
        pos = context.find(answer, pos + 1)
    return out


def _qa_rows(path: Path, columns: QAColumns, options: ReadOptions,
             report: ValidationReport) -> list[QAExample]:
    examples: list[QAExample] = []
    seen: set[tuple[str, str]] = set()
    for line, values in _read_rows(path, columns.names(), options, report):
        try:
            question = _text_value(values, "question", columns.question).strip()
            context = _text_value(values, "context", columns.context)
            answer, given = _answer_and_start(values, columns)
        except LabelProblem as skip:
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
    return examples


def load_qa(path: str | Path, columns: QAColumns | None = None, encoding: str = "utf-8", *,
            delimiter: str = "auto", quoting: str = "auto",
            ) -> tuple[list[QAExample], ValidationReport]:
    """The usable examples of a question-answering file and what was found on the way.

    Offsets are in characters (Unicode code points) of the context as read. A row without an
    offset gets the answer's first occurrence; a wrong offset is moved to the nearest
    occurrence (counted in the report); an answer that does not occur is skipped. Raises
    UserError when nothing in the file can be used (see the module's docstring).
    """
    parts = _load_parts({"train": path}, columns or QAColumns(),
                        ReadOptions(encoding, delimiter, quoting))
    return parts["train"]


def _load_parts(files: dict[str, str | Path], columns: ClassificationColumns | QAColumns,
                options: ReadOptions, keep_label_case: bool = False,
                ) -> dict[str, tuple[list[Any], ValidationReport]]:
    """Each file's usable examples and report, by part; the task follows `columns`. Label case
    variants of a classification set are merged across all the files (one class name for all).
    """
    reports: dict[str, ValidationReport] = {}
    loaded: dict[str, list[Any]] = {}
    for part, path in files.items():
        if isinstance(columns, QAColumns):
            reports[part] = ValidationReport(path=str(path), task="qa")
            loaded[part] = _qa_rows(Path(path), columns, options, reports[part])
        else:
            reports[part] = ValidationReport(path=str(path), task="classification")
            loaded[part] = _classification_rows(Path(path), columns, options, reports[part])
    if not isinstance(columns, QAColumns):
        merged = merge_label_case([(loaded[p], reports[p]) for p in loaded], keep_label_case)
        loaded = dict(zip(loaded, merged, strict=True))
    for part, path in files.items():
        _finish(Path(path), reports[part], len(loaded[part]))
    if isinstance(columns, ClassificationColumns):
        train = Path(files["train"])
        check_label_column(train, [e.label for e in loaded["train"]],
                           (columns.text, columns.label),
                           lambda: label_like_column(_column_values(train, options),
                                                     columns.label))
    return {part: (loaded[part], reports[part]) for part in files}


def _column_values(path: Path, options: ReadOptions) -> dict[str, Counter[str]]:
    """Each column's text values counted, over the file's first rows (to name a label-like
    column in a refusal)."""
    values: dict[str, Counter[str]] = {}
    with Table(path, options) as table:
        for row, _ in zip(table.rows(), range(_SUGGEST_ROWS), strict=False):
            for name, value in (row.values or {}).items():
                if isinstance(value, str) and value.strip():
                    values.setdefault(name, Counter())[value.strip()] += 1
    return values


# ---------------------------------------------------------------------------------------------
# Splits


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
    delimiter: str = "auto",
    quoting: str = "auto",
    keep_label_case: bool = False,
) -> tuple[Split[Any], dict[str, ValidationReport]]:
    """Train, validation and test sets from up to three files, splitting only what is missing.

    The task follows `columns` (classification by default). A missing validation or test part
    is carved from the train file with its fraction of that file (stratified for
    classification). Label case variants are merged across all the files (one class name for
    all). Returns the split and the report of each file read ("train", "val", "test").
    """
    check_fractions(val_fraction, test_fraction)
    given = {part: path for part, path in (("train", train), ("val", val), ("test", test))
             if path is not None}
    parts = _load_parts(given, columns or ClassificationColumns(),
                        ReadOptions(encoding, delimiter, quoting), keep_label_case)
    loaded = {part: examples for part, (examples, _) in parts.items()}
    reports = {part: report for part, (_, report) in parts.items()}
    if not isinstance(columns, QAColumns):
        seen = {e.label for e in loaded["train"]}
        for part in ("val", "test"):
            if part in loaded:
                check_unseen_labels(Path(given[part]), part, [e.label for e in loaded[part]],
                                    seen)
    carved = stratified_split(
        loaded["train"],
        val_fraction=0.0 if "val" in loaded else val_fraction,
        test_fraction=0.0 if "test" in loaded else test_fraction,
        seed=seed,
    )
    split = Split(
        train=carved.train,
        val=loaded.get("val", carved.val),
        test=loaded.get("test", carved.test),
    )
    check_split_sizes(Path(train), split, list(given),
                      {"val": val_fraction, "test": test_fraction})
    return split, reports


def kind_of_file(path: str | Path, encoding: str = "utf-8", *, delimiter: str = "auto",
                 quoting: str = "auto") -> FieldKind | None:
    """The kind of labeled data a file's fields make (labeled_kinds.KINDS), None when they make
    none; raises UserError when the file cannot be read."""
    return kind_of_fields(detect_columns(path, encoding, delimiter=delimiter, quoting=quoting))


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
    "LABELED_SUFFIXES", "ClassificationColumns", "ClassificationExample", "Conflict", "FieldKind",
    "kind_of_file",
    "QAColumns", "QAExample", "Split", "ValidationReport", "detect_columns", "label_names",
    "load_classification", "load_qa", "load_splits", "merge_label_case", "preview_rows",
    "sample_qa_path", "sample_sentiment_path", "stratified_split",
]
