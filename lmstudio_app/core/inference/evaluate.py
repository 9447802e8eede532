"""Scoring a fine-tuned run on a labeled file: the task's own metrics (accuracy, macro F1 and
the confusion matrix; or exact match and F1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..data import labeled
from ..data.labeled import ClassificationColumns, QAColumns
from ..data.labels import match_labels
from ..data.preference import load_preference
from ..errors import UserError
from ..objectives import task_class
from ..objectives.baselines import classification_baselines
from ..objectives.finetune_setup import columns_of, load_task_data
from .loading import LoadedRun, require_task


def evaluate_examples(loaded: LoadedRun, examples: Sequence[Any]) -> dict[str, Any]:
    """Metrics of a fine-tuned run on labeled examples; raises UserError for a pretraining run."""
    ft = require_task(loaded)
    cls = task_class(ft.task)
    return {"task": ft.task,
            **cls.score_examples(loaded.model, loaded.tokenizer, loaded.config, examples)}


def evaluate_file(loaded: LoadedRun, path: str | Path,
                  columns: ClassificationColumns | QAColumns | None = None,
                  encoding: str = "utf-8") -> dict[str, Any]:
    """Load a labeled file with the run's task (columns default to the run's) and score it."""
    ft = require_task(loaded)
    columns = columns or columns_of(ft)
    examples: Sequence[Any]  # of the run's task: ClassificationExample or QAExample
    if ft.spec.family == "preference":
        examples, report = load_preference(path, encoding=encoding, delimiter=ft.delimiter,
                                           quoting=ft.quoting)
    elif isinstance(columns, ClassificationColumns):
        examples, report = labeled.load_classification(
            path, columns, encoding, delimiter=ft.delimiter, quoting=ft.quoting,
            keep_label_case=ft.keep_label_case)
        if not ft.keep_label_case:  # "Positive" here is the run's "positive"
            mapping = match_labels(sorted({e.label for e in examples}), ft.labels)
            examples = [replace(e, label=mapping.get(e.label, e.label)) for e in examples]
    else:
        examples, report = labeled.load_qa(path, columns, encoding, delimiter=ft.delimiter,
                                           quoting=ft.quoting)
    out = evaluate_examples(loaded, examples)
    if isinstance(columns, ClassificationColumns):
        out["baselines"] = _baselines(loaded, examples)
    out["data"] = {"path": str(path), "rows_read": report.rows_read,
                   "rows_used": report.rows_used, "skipped": len(report.skipped)}
    return out


def _baselines(loaded: LoadedRun, examples: Sequence[Any]) -> dict[str, Any]:
    """The baselines fitted on the run's own training split, scored on `examples`; a note
    instead when that split can no longer be read (its files moved)."""
    ft = require_task(loaded)
    try:
        split, _ = load_task_data(ft)
    except UserError as exc:
        return {"note": f"no baselines: the run's training data cannot be read ({exc})"}
    return classification_baselines(split.train, split.val, examples)
