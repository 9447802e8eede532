"""Data-parallel training for real: two gloo processes on the CPU, launched as a user does
(`--nproc 2`, and plain `torch.distributed.run -m lmstudio_app`), against one process with the
same global batch. Every launched process group is killed in a `finally`: none is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config, parse_overrides
from lmstudio_app.core.data.layout import TOKENIZER
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.training.distributed import micro_slices, rank_rows
from lmstudio_app.core.training.trainer import Trainer

# A small model, every step logged, two evaluations: seconds per run on two cores.
SHAPE = ["n_layer=2", "n_embd=32", "n_head=2", "block_size=32", "log_interval=1",
         "eval_interval=10", "eval_batches=4", "sample_prompt="]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LOGLEVEL": "ERROR"}


def cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """`python -m lmstudio_app ARGS` in its own process group (the test's to kill)."""
    return subprocess.Popen([sys.executable, "-m", "lmstudio_app", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / runs.METRICS).read_bytes().splitlines()]


def curve(run: Path) -> dict[int, float]:
    """step -> training loss; also asserts no step is written twice."""
    steps = [(r["step"], r["loss"]) for r in records(run) if r["kind"] == "step"]
    assert len({s for s, _ in steps}) == len(steps), "a step written twice"
    return dict(steps)


def val_losses(run: Path) -> dict[int, float]:
    evals = [(r["step"], r["val_loss"]) for r in records(run) if r["kind"] == "eval"]
    assert len({s for s, _ in evals}) == len(evals)
    return dict(evals)


def single(data: Path, run: Path, batch_size: int, max_steps: int, resume: bool = False) -> None:
    """One process, in this one, with the batch two processes share."""
    if resume:
        cfg = runs.resume_config(run, {"max_steps": max_steps})
    else:
        vocab = Tokenizer.load(data / TOKENIZER).vocab_size
        overrides = parse_overrides([*SHAPE, f"batch_size={batch_size}",
                                     f"max_steps={max_steps}", "device=cpu"])
        cfg = build_run_config("clm", "tiny", vocab, overrides, data_dir=str(data))
    result = Trainer(cfg, run, resume=resume).run()
    assert result.reason == "completed", result.error


def assert_same(a: dict[int, float], b: dict[int, float]) -> None:
    assert a.keys() == b.keys()
    for step in a:
        assert abs(a[step] - b[step]) < 1e-4, (step, a[step], b[step])


def sets(*extra: str) -> list[str]:
    return [x for s in [*SHAPE, *extra] for x in ("--set", s)]


def test_rows_split_evenly_and_cover_the_batch():
    assert [rank_rows(12, r, 3) for r in range(3)] == [slice(0, 4), slice(4, 8), slice(8, 12)]
    with pytest.raises(ValueError):
        rank_rows(10, 0, 3)
    parts = micro_slices(7, 3)
    assert [(p.start, p.stop) for p in parts] == [(0, 3), (3, 6), (6, 7)]


def launch_twenty_steps(data: Path, run: Path) -> None:
    code, out, err = finish(cli("pretrain", "--nproc", "2", "--data", str(data),
                                "--objective", "clm", "--max-steps", "20", "--device", "cpu",
                                "--out", str(run), *sets("batch_size=4"), cwd=run.parent))
    assert code == 0, err
    assert out.count("completed at step 20") == 1  # rank 0 alone reports
    assert "Traceback" not in err


def test_two_processes_train_the_one_process_curve(prepared_data, tmp_path):
    # One process with batch 8 against two with 4 each: the same 8 rows at every step.
    one = tmp_path / "one"
    single(prepared_data, one, batch_size=8, max_steps=20)
    two = tmp_path / "two"
    launch_twenty_steps(prepared_data, two)
    assert sorted(curve(two)) == list(range(1, 21))
    assert_same(curve(two), curve(one))
    assert_same(val_losses(two), val_losses(one))
    config = json.loads((two / runs.CONFIG).read_text())
    assert config["batch"]["processes"] == 2 and config["batch"]["global_batch"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # one run folder
    assert len(list(two.glob("*.jsonl"))) == 1
    assert runs.read_status(two)["state"] == "completed"


@pytest.mark.slow
def test_a_resume_under_torchrun_continues_the_curve(prepared_data, tmp_path):
    one = tmp_path / "one"
    single(prepared_data, one, batch_size=8, max_steps=20)
    single(prepared_data, one, batch_size=8, max_steps=30, resume=True)
    two = tmp_path / "two"
    launch_twenty_steps(prepared_data, two)
    # Resumed under torchrun itself (plain `-m torch.distributed.run`), ten more steps.
    resumed = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "lmstudio_app", "pretrain", "--resume", str(two), "--max-steps", "30"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    code, out, err = finish(resumed)
    assert code == 0, err
    assert sorted(curve(two)) == list(range(1, 31))
    assert_same(curve(two), curve(one))
    assert_same(val_losses(two), val_losses(one))
    assert runs.read_status(two)["state"] == "completed"


def test_a_refused_folder_is_said_once(prepared_data, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    code, out, err = finish(cli("pretrain", "--nproc", "2", "--data", str(prepared_data),
                                "--out", str(taken), "--device", "cpu", *sets(), cwd=tmp_path))
    assert code == 2
    said = [line for line in err.splitlines() if line.strip()]
    assert len(said) == 1 and "already holds files" in said[0], err  # no launcher log, no trace
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_a_device_every_rank_lacks_is_said_once(prepared_data, tmp_path):
    code, out, err = finish(cli("pretrain", "--nproc", "2", "--data", str(prepared_data),
                                "--out", str(tmp_path / "run"), "--device", "cuda:7", *sets(),
                                cwd=tmp_path))
    assert code == 2
    said = [line for line in err.splitlines() if line.strip()]
    assert len(said) == 1 and said[0].startswith("error:") and "device cuda:7" in said[0], err
    assert not (tmp_path / "run").exists()  # a run that never started leaves no folder


@pytest.mark.slow
def test_sigterm_to_the_launcher_stops_every_rank_at_one_step(prepared_data, tmp_path):
    run = tmp_path / "run"
    proc = cli("pretrain", "--nproc", "2", "--data", str(prepared_data), "--max-steps", "5000",
               "--device", "cpu", "--out", str(run), *sets("batch_size=4"), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if (run / runs.METRICS).is_file() and any(
                    r["kind"] == "step" and r["step"] >= 5 for r in records(run)):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run did not start")
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc, timeout=120)
    finally:
        kill_group(proc)
    assert code == 128 + signal.SIGTERM, err
    status = runs.read_status(run)
    assert status["state"] == "stopped"
    assert status["checkpoint_step"] == status["step"]
    saves = [r["step"] for r in records(run) if r["kind"] == "checkpoint"]
    assert saves.count(status["step"]) == 1  # saved once, at the step every rank stopped at
    assert out.count("stopped at step") == 1
