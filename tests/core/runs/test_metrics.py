"""metrics.jsonl's one reader: followed as it grows, read whole, its step columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lmstudio_app.core import runs
from lmstudio_app.core.runs.metrics import STEP_COLUMNS, MetricsFollower, step_row


def _line(**record: object) -> bytes:
    return (json.dumps(record) + "\n").encode()


def test_a_follower_gives_complete_new_lines_once_and_rereads_a_file_that_shrank(tmp_path: Path):
    path = tmp_path / runs.METRICS
    follow = MetricsFollower(tmp_path)
    assert follow.read() == []  # no file yet
    path.write_bytes(_line(kind="step", step=1, loss=3.0) + b'{"kind": "step", "st')
    assert [r["step"] for r in follow.read()] == [1]  # the torn line waits for its newline
    with open(path, "ab") as fh:
        fh.write(b'ep": 2, "loss": 2.5}\n' + b"not json\n" + _line(kind="eval", step=2))
    got = follow.read()
    assert [(r["kind"], r["step"]) for r in got] == [("step", 2), ("eval", 2)]
    assert follow.read() == []
    # A resume truncated the file to step 1 and trains on: steps already given come not again.
    path.write_bytes(_line(kind="step", step=1, loss=3.0))
    assert follow.read() == []
    with open(path, "ab") as fh:
        fh.write(_line(kind="step", step=2, loss=2.4) + _line(kind="step", step=3, loss=2.0))
    assert [r["step"] for r in follow.read()] == [3]


def test_a_follower_from_the_end_skips_a_resumed_runs_past(tmp_path: Path):
    (tmp_path / runs.METRICS).write_bytes(_line(kind="step", step=5, loss=1.0))
    follow = MetricsFollower(tmp_path, from_end=True)
    assert follow.read() == []
    with open(tmp_path / runs.METRICS, "ab") as fh:
        fh.write(_line(kind="step", step=6, loss=0.9))
    assert [r["step"] for r in follow.read()] == [6]


def test_a_step_row_has_every_column_and_nan_where_a_figure_is_absent():
    row = step_row({"step": 4, "loss": 2.0, "lr": 1e-3, "rss_bytes": None})
    assert len(row) == len(STEP_COLUMNS)
    assert row[:3] == (4.0, 2.0, 1e-3)
    assert math.isnan(row[STEP_COLUMNS.index("rss_bytes")])
    assert math.isnan(row[STEP_COLUMNS.index("mfu")])


def test_truncating_keeps_the_records_up_to_the_step_and_readers_agree(tmp_path: Path):
    path = tmp_path / runs.METRICS
    path.write_bytes(b"".join(_line(kind="step", step=s, loss=1.0) for s in (1, 2, 3))
                     + b"{torn")
    runs.truncate_metrics(tmp_path, 2)
    assert [r["step"] for r in runs.read_metrics(tmp_path)] == [1, 2]
    assert [r["step"] for r in MetricsFollower(tmp_path).read()] == [1, 2]
