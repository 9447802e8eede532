"""The run folder's file names and states: the one place they are spelled."""

from __future__ import annotations

from pathlib import Path

from ..data.layout import TOKENIZER as TOKENIZER  # a run folder keeps its tokenizer alike

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
RESULTS = "results.json"
DATA_REPORT = "data_report.json"
WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
STATE = "state.pt"
CHECKPOINT = "checkpoint.json"
LOCK = "run.lock"
NOTES = "notes.json"
SNAPSHOTS = "checkpoints"
_SNAPSHOT_PREFIX, _SNAPSHOT_SUFFIX = "step-", ".safetensors"
CONTROL = "control.json"  # pause / resume / stop asked by another process (training/folder_control)
DEFAULT_ROOT = Path("runs")
STATES = ("new", "running", "paused", "completed", "stopped", "failed", "interrupted",
          "damaged")
LIVE_STATES = ("running", "paused")
BENCHMARKS = "benchmarks"  # lm-evaluation-harness results: <timestamp>.json and summary.json
