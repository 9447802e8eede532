"""--report-to from the terminal: event files in the run folder, or a refusal before training."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

SMALL = ["--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2", "--set",
         "block_size=32", "--set", "batch_size=4", "--set", "eval_interval=3", "--set",
         "eval_batches=1"]


def test_report_to_tensorboard_writes_event_files(prepared_data, tmp_path):
    pytest.importorskip("tensorboard")
    out = run_cli("pretrain", "--data", str(prepared_data), "--max-steps", "3", "--report-to",
                  "tensorboard", "--out", "run", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_unknown_tracker_is_refused_before_training(prepared_data, tmp_path):
    out = run_cli("pretrain", "--data", str(prepared_data), "--max-steps", "3", "--report-to",
                  "tensorboard,comet", "--out", "run", *SMALL, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("error: report_to=tensorboard,comet: 'comet' is not a tracker")
    assert "--report-to" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()
