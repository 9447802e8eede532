"""The run folder: the one owner of its file names, its state and how it is read.

A run folder is readable without the app:

    config.json        everything needed to reproduce the run ("run", "data", "versions"), the
                       paths it reads relative to the folder ("paths") and its resumes
    tokenizer.model    the tokenizer the run trains with
    model.safetensors  the latest weights; best.safetensors the best by the objective's score
    state.pt           optimizer, schedule, sampler and RNG states (weights-only torch file)
    checkpoint.json    the step of the committed checkpoint and its files (see checkpoint.py)
    metrics.jsonl      one JSON object per event ("kind": step, eval, checkpoint, ...)
    log.txt            what happened, for a person
    status.json        state, step, best validation loss, pid and host of the writer
    results.json       a fine-tuned run's scores on its test split
    data_report.json   what a fine-tune's labeled files held
    notes.json         the person's note and tags for the run
    checkpoints/       weight snapshots along the curve: step-000500.safetensors, ...
    run.lock           while a process trains the run: its pid and host

Nobody else spells these names: ask this module (`has_weights`, `resumable`, ...).
Readers of the status ask `read_status`, which says "interrupted" for a run whose writer is gone
(a kill -9 leaves "running" on disk: only the living can change it).

The package's modules: `names` (the file names and states), `folder` (made, locked, status,
JSON files, notes, snapshots), `config_file` (config.json and its paths), `metrics` (the one
reader of metrics.jsonl), `listing` (the Runs list, a run's history), `weights` (which weights
file a run is loaded from), `checkpoint` (the journalled commit of a checkpoint) and `table`
(the table of runs' figures). This module re-exports the names of the first five; `checkpoint`
and `table` (which need torch, or read whole runs) are imported by name.
"""

from __future__ import annotations

from .config_file import (
    absolute_paths,
    read_config,
    record_resume,
    relative_paths,
    resume_config,
    write_config,
)
from .folder import (
    RunNotes,
    Snapshot,
    claim_run_dir,
    clean_tags,
    has_results,
    has_weights,
    is_run_dir,
    list_snapshots,
    lock,
    looks_like_run_dir,
    new_run_dir,
    read_file,
    read_json,
    read_notes,
    read_status,
    resumable,
    snapshot_path,
    write_json,
    write_notes,
    write_status,
)
from .listing import RunHistory, RunSummary, delete_run, list_runs, read_history, summarize
from .metrics import (
    STEP_COLUMNS,
    MetricsFollower,
    read_metrics,
    step_row,
    truncate_metrics,
)
from .names import (
    BEST_WEIGHTS,
    CHECKPOINT,
    CONFIG,
    CONTROL,
    DATA_REPORT,
    DEFAULT_ROOT,
    LIVE_STATES,
    LOCK,
    LOG,
    METRICS,
    NOTES,
    RESULTS,
    SNAPSHOTS,
    STATE,
    STATES,
    STATUS,
    TOKENIZER,
    WEIGHTS,
)

__all__ = [
    "STEP_COLUMNS",
    "MetricsFollower",
    "step_row",
    "BEST_WEIGHTS",
    "CHECKPOINT",
    "CONFIG",
    "CONTROL",
    "DATA_REPORT",
    "DEFAULT_ROOT",
    "LIVE_STATES",
    "LOCK",
    "LOG",
    "METRICS",
    "NOTES",
    "RESULTS",
    "RunHistory",
    "RunNotes",
    "RunSummary",
    "SNAPSHOTS",
    "STATE",
    "STATES",
    "STATUS",
    "Snapshot",
    "TOKENIZER",
    "WEIGHTS",
    "absolute_paths",
    "claim_run_dir",
    "clean_tags",
    "delete_run",
    "has_results",
    "has_weights",
    "is_run_dir",
    "list_runs",
    "list_snapshots",
    "lock",
    "looks_like_run_dir",
    "new_run_dir",
    "read_config",
    "read_file",
    "read_history",
    "read_json",
    "read_metrics",
    "read_notes",
    "read_status",
    "record_resume",
    "relative_paths",
    "resumable",
    "resume_config",
    "snapshot_path",
    "summarize",
    "truncate_metrics",
    "write_config",
    "write_json",
    "write_notes",
    "write_status",
]
