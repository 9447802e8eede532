"""Crashes: a kill between any two file operations of a checkpoint save, kill -9 at a random
moment, SIGTERM and SIGHUP, a second process on the same run. Each leaves a consistent run
folder, and the resumed run continues the uninterrupted curve exactly (bit for bit: same CPU
kernels, same two threads, every process started the same way)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.runs import checkpoint as ckpt
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import run_cli

DRIVER = Path(__file__).with_name("crash_driver.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}


def drive(data: Path, run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DRIVER), str(data), str(run), *args],
                          capture_output=True, text=True, timeout=300, env=ENV)


def step_losses(run: Path) -> list[tuple[int, float]]:
    """(step, loss) of every step record, in file order, read raw (no de-duplication)."""
    out = []
    for line in (run / runs.METRICS).read_bytes().splitlines():
        record = json.loads(line)
        if record["kind"] == "step":
            out.append((record["step"], record["loss"]))
    return out


@pytest.fixture(scope="module")
def reference(prepared_data: Path, tmp_path_factory) -> dict[int, float]:
    """The uninterrupted run's loss at each of its 40 steps."""
    run = tmp_path_factory.mktemp("reference") / "run"
    done = drive(prepared_data, run)
    assert done.returncode == 0, done.stderr
    return dict(step_losses(run))


def assert_consistent(run: Path) -> int | None:
    """The folder as a kill left it: the manifest's files are whole (in place or as their
    temporaries), and once recovered weights, state and manifest name one step."""
    manifest = ckpt.read_manifest(run)
    if manifest is not None:
        for name, entry in manifest["files"].items():
            tmp = run / entry["temporary"]
            in_place = tmp.is_file() or (run / name).stat().st_size == entry["bytes"]
            assert in_place, name
    step = ckpt.recover(run)
    if step is not None:
        assert ckpt.weights_step(run / runs.WEIGHTS) == step
        assert int(ckpt.load_state(run / runs.STATE)["step"]) == step
    return step


def assert_resumes_exactly(data: Path, run: Path, reference: dict[int, float]) -> None:
    done = drive(data, run, "--resume")
    assert done.returncode == 0, done.stderr
    losses = step_losses(run)
    assert [s for s, _ in losses] == list(range(1, 41))  # no step twice, none backwards
    assert dict(losses) == reference  # bit for bit
    assert runs.read_status(run)["state"] == "completed"
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert not (run / runs.LOCK).exists()


def kill_points(data: Path, tmp: Path, save: int) -> list[str]:
    listed = drive(data, tmp / f"count-{save}", "--kill-save", str(save), "--kill-op", "-1")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()


def test_a_kill_between_the_checkpoint_files_loses_nothing(prepared_data, reference, tmp_path):
    """The drill of the issue: model.safetensors replaced, state.pt not yet."""
    ops = kill_points(prepared_data, tmp_path, save=2)  # the save at step 20 (with best)
    at = ops.index("replace state.pt")
    assert ops[at - 1] == "replace model.safetensors"
    run = tmp_path / "run"
    killed = drive(prepared_data, run, "--kill-save", "2", "--kill-op", str(at))
    assert killed.returncode == 137
    assert ckpt.weights_step(run / runs.WEIGHTS) == 20  # weights of 20 ...
    assert int(ckpt.load_state(run / runs.STATE)["step"]) == 10  # ... state of 10, as killed
    assert runs.read_status(run)["state"] == "interrupted"  # the writer is gone
    assert assert_consistent(run) == 20  # the committed save is finished, as one unit
    assert_resumes_exactly(prepared_data, run, reference)


@pytest.mark.slow
@pytest.mark.parametrize("save", [1, 2])
def test_a_kill_at_every_file_operation_of_a_save(prepared_data, reference, tmp_path, save):
    """Save 1 is the first checkpoint (killed before its commit, the run starts again from
    step 0 in its folder); save 2 holds best.safetensors too."""
    ops = kill_points(prepared_data, tmp_path, save)
    for op in range(len(ops)):
        run = tmp_path / f"run-{op}"
        killed = drive(prepared_data, run, "--kill-save", str(save), "--kill-op", str(op))
        assert killed.returncode == 137, (op, killed.stderr)
        step = assert_consistent(run)
        committed = op > ops.index("replace checkpoint.json")
        assert step == (save * 10 if committed else (save - 1) * 10 or None), (op, ops[op:])
        assert_resumes_exactly(prepared_data, run, reference)


@pytest.mark.slow
def test_kill_9_at_random_moments(prepared_data, tmp_path):
    """20 kills at random moments of one long run: every time the folder is consistent, the
    status says interrupted, and at most one checkpoint interval is lost."""
    rng = random.Random(9)
    run = tmp_path / "run"
    first = True
    for _ in range(20):
        args = ["--max-steps", "2000"] + ([] if first else ["--resume"])
        proc = subprocess.Popen([sys.executable, str(DRIVER), str(prepared_data), str(run),
                                 *args], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.5, 6.0))
        before = runs.read_status(run).get("step", 0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = first and not (run / runs.CONFIG).is_file()
        if first:
            continue
        assert runs.read_status(run)["state"] == "interrupted"
        step = assert_consistent(run)
        assert step is not None and step >= before  # no committed step was lost


@pytest.fixture(scope="module")
def workdir_cli(prepared_data: Path, tmp_path_factory) -> tuple[Path, list[str]]:
    """A folder with data/ and the uninterrupted 80-step run (runs/whole) of TINY_CLI."""
    root = tmp_path_factory.mktemp("signals")
    (root / "data").symlink_to(prepared_data)
    tiny = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set",
            "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=40", "--set",
            "checkpoint_interval=10", "--set", "eval_batches=2", "--set", "log_interval=1",
            "--set", "dropout=0.1", "--device", "cpu"]
    whole = run_cli("pretrain", "--data", "data", "--max-steps", "80", "--out", "runs/whole",
                    *tiny, cwd=root)
    assert whole.returncode == 0, whole.stderr
    return root, tiny


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_at_a_step_and_save(workdir_cli, signame):
    """They do what Ctrl-C does: the run stops at a step boundary, saves and says stopped;
    resumed, it continues the uninterrupted curve."""
    root, tiny = workdir_cli
    out = root / f"runs/{signame}"
    proc = subprocess.Popen([sys.executable, "-m", "lmstudio_app", "pretrain", "--data", "data",
                             "--max-steps", "80", "--out", str(out), *tiny], cwd=root,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while ckpt.committed_step(out) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(getattr(signal, signame))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    status = runs.read_status(out)
    assert status["state"] == "stopped"
    if signame == "SIGTERM":  # after SIGHUP the terminal is gone: output goes to /dev/null
        assert f"stopped at step {status['step']}" in stdout
    assert ckpt.committed_step(out) == status["step"] and status["step"] < 80
    assert f"{signame}: stopping at the next step and saving" in stderr
    resumed = run_cli("pretrain", "--resume", str(out), cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert step_losses(out) == step_losses(root / "runs/whole")


def test_a_second_writer_is_refused_until_the_first_dies(prepared_data, tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, str(DRIVER), str(prepared_data), str(run),
                              "--max-steps", "100000"], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while ckpt.committed_step(run) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        status = (run / runs.STATUS).read_bytes()
        for attempt in (lambda: Trainer(runs.resume_config(run), run, RecordingSink(),
                                        resume=True).run(),):
            result = attempt()
            assert result.reason == "failed"
            assert f"in use by process {first.pid} on {socket.gethostname()}" in result.error
        cli = run_cli("pretrain", "--resume", str(run), "--max-steps", "20", cwd=tmp_path)
        assert cli.returncode == 2 and len(cli.stderr.strip().splitlines()) == 1
        assert f"process {first.pid}" in cli.stderr
        assert runs.read_status(run)["state"] == "running"
        assert b'"state": "running"' in status
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # Its holder killed, the lock it left behind frees itself: the run can go on.
    assert (run / runs.LOCK).exists()
    assert runs.read_status(run)["state"] == "interrupted"
    step = ckpt.committed_step(run)
    result = Trainer(runs.resume_config(run, {"max_steps": step + 5}), run, RecordingSink(),
                     resume=True).run()
    assert result.reason == "completed" and result.step == step + 5, result.error
