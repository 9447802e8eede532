"""Pause, resume and stop through the run folder's control file: in one process, and for a
torchrun job of two (every rank pauses and stops at the same step)."""

from __future__ import annotations

import time

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.training.folder_control import POLL_S, FolderControl, request
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

from .test_distributed import cli, finish, kill_group, records, sets
from .test_trainer import tiny_cfg


def test_a_request_left_by_an_earlier_run_is_ignored(tmp_path):
    request(tmp_path, "stop")
    time.sleep(0.01)
    control = FolderControl(tmp_path)
    time.sleep(POLL_S)
    assert not control.stop_requested
    request(tmp_path, "pause")
    time.sleep(POLL_S)
    assert control.paused and not control.stop_requested
    with pytest.raises(ValueError):
        request(tmp_path, "faster")


class Steering(RecordingSink):
    """Writes pause at step 3, resume once paused, stop three steps later: as the window
    would (one request at a time: each is seen before the next replaces it)."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.paused_at = None

    def progress(self, step, max_steps):
        super().progress(step, max_steps)
        if step == 3:
            request(self.run_dir, "pause")
        if self.paused_at is not None and step == self.paused_at + 3:
            request(self.run_dir, "stop")

    def paused(self, step):
        self.paused_at = step
        assert runs.read_status(self.run_dir)["state"] == "paused"
        request(self.run_dir, "resume")


def test_the_loop_obeys_the_control_file(prepared_data, tmp_path):
    run = tmp_path / "run"
    sink = Steering(run)
    result = Trainer(tiny_cfg(prepared_data, max_steps=2000), run, sink,
                     FolderControl(run)).run()
    assert result.reason == "stopped"
    assert sink.paused_at is not None and sink.paused_at >= 3
    assert sink.paused_at + 3 <= result.step < 2000
    assert runs.read_status(run)["state"] == "stopped"
    assert runs.read_status(run)["checkpoint_step"] == result.step


@pytest.mark.slow
def test_a_torchrun_job_pauses_and_stops_through_its_folder(prepared_data, tmp_path):
    run = tmp_path / "run"
    proc = cli("pretrain", "--nproc", "2", "--data", str(prepared_data), "--max-steps", "5000",
               "--device", "cpu", "--out", str(run), *sets("batch_size=4"), cwd=tmp_path)

    def wait_for(check, what):
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        pytest.fail(what)

    def state():
        return (runs.read_status(run) or {}).get("state") if run.is_dir() else None

    try:
        wait_for(lambda: (run / runs.METRICS).is_file() and any(
            r["kind"] == "step" and r["step"] >= 3 for r in records(run)), "no steps")
        request(run, "pause")
        wait_for(lambda: state() == "paused", "not paused")
        at = runs.read_status(run)["step"]
        time.sleep(2)
        assert runs.read_status(run)["step"] == at  # both ranks wait
        request(run, "resume")
        wait_for(lambda: runs.read_status(run)["step"] > at, "not resumed")
        request(run, "stop")
        code, out, err = finish(proc, timeout=120)
    finally:
        kill_group(proc)
    assert code == 0, err
    status = runs.read_status(run)
    assert status["state"] == "stopped" and status["checkpoint_step"] == status["step"]
    assert out.count("stopped at step") == 1
