"""The outside world through the command line: a full disk (a small tmpfs, or a file-size limit
where mounting is not allowed), a read-only or forbidden folder. One line, exit 2, the previous
store or checkpoint intact."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.runs import checkpoint as ckpt
from tests.conftest import austen_text, run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set",
        "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=50", "--set",
        "checkpoint_interval=10", "--set", "eval_batches=2", "--set", "log_interval=5",
        "--device", "cpu"]


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (needs the right to mount; skipped otherwise)."""
    disk = tmp_path / "disk"
    if not _mount(disk, "size=3m"):
        pytest.skip("cannot mount a tmpfs here (the file-size-limit test covers this)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write in: a read-only tmpfs for root, else chmod 555."""
    folder = tmp_path / "locked"
    mounted = _mount(folder, "ro,size=1m")
    if not mounted:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def _fill(disk: Path, leave: int) -> Path:
    """Take all but `leave` bytes of the disk."""
    filler = disk / "filler.bin"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(free - leave, 0))
    return filler


def _one_line(stderr: str) -> str:
    """The one error line (progress lines of a run may come before it), no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpora")
    (root / "small.txt").write_text(austen_text(60_000), encoding="utf-8")
    (root / "large.txt").write_text(austen_text(150_000), encoding="utf-8")
    return root


def _prepared(out: Path, corpora: Path) -> dict[str, bytes]:
    """Prepare the small corpus into `out`; the files it wrote."""
    first = run_cli("prepare", str(corpora / "small.txt"), "--out", str(out), "--vocab-size",
                    "400", cwd=corpora)
    assert first.returncode == 0, first.stderr
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_prepare_on_a_full_disk_keeps_the_previous_store(small_disk, corpora):
    out = small_disk / "data"
    before = _prepared(out, corpora)
    filler = _fill(small_disk, leave=60_000)
    second = run_cli("prepare", str(corpora / "large.txt"), "--out", str(out), "--vocab-size",
                     "400", cwd=corpora)
    assert second.returncode == 2
    line = _one_line(second.stderr)
    assert f"no space left on {small_disk} (tmpfs)" in line and "needed" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # intact, no temporaries
    TokenStore.open(out / "tokens.h5")
    filler.unlink()
    third = run_cli("prepare", str(corpora / "large.txt"), "--out", str(out), "--vocab-size",
                    "400", cwd=corpora)
    assert third.returncode == 0, third.stderr


def test_a_checkpoint_on_a_full_disk_keeps_the_previous_one(small_disk, corpora):
    data = corpora / "data"
    if not data.exists():
        assert run_cli("prepare", "small.txt", "--out", str(data), "--vocab-size", "400",
                       cwd=corpora).returncode == 0
    run = small_disk / "run"
    proc = subprocess.Popen([sys.executable, "-m", "lmstudio_app", "pretrain", "--data",
                             str(data), "--max-steps", "100000", "--out", str(run), *TINY],
                            cwd=corpora, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while ckpt.committed_step(run) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    filler = _fill(small_disk, leave=20_000)
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    assert proc.returncode == 2
    line = _one_line(stderr)
    assert f"no space left on {small_disk} (tmpfs)" in line and "needed" in line
    assert "Safetensor" not in line and "unexpected" not in line
    step = ckpt.recover(run)
    assert step is not None and ckpt.weights_step(run / runs.WEIGHTS) == step
    assert int(ckpt.load_state(run / runs.STATE)["step"]) == step
    filler.unlink()
    resumed = run_cli("pretrain", "--resume", str(run), "--max-steps", str(step + 5),
                      cwd=corpora)
    assert resumed.returncode == 0, resumed.stderr
    assert runs.read_status(run)["state"] == "completed"


def _file_size_limit(limit: int):  # noqa: ANN202 - a preexec function
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_the_system_refuses_is_one_line_everywhere(tmp_path, corpora):
    """Without the right to mount: a file-size limit makes the same failed writes."""
    out = tmp_path / "data"
    before = _prepared(out, corpora)
    done = subprocess.run([sys.executable, "-m", "lmstudio_app", "prepare",
                           str(corpora / "large.txt"), "--out", str(out), "--vocab-size", "400"],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_file_size_limit(20_000))
    assert done.returncode == 2
    assert "file too large for" in _one_line(done.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_that_cannot_be_written_is_named(read_only, corpora):
    for args in (["prepare", str(corpora / "small.txt"), "--out", str(read_only / "data")],
                 ["pretrain", "--data", str(corpora / "data"), "--out", str(read_only / "run"),
                  "--max-steps", "5", *TINY]):
        if args[0] == "pretrain" and not (corpora / "data").exists():
            run_cli("prepare", "small.txt", "--out", str(corpora / "data"), "--vocab-size",
                    "400", cwd=corpora)
        done = run_cli(*args, cwd=corpora)
        assert done.returncode == 2, done.stdout
        line = _one_line(done.stderr)
        assert f"{read_only}: cannot write in this folder" in line, line
    assert not any(read_only.iterdir())


def test_prepare_json_records_what_was_written(corpora, tmp_path):
    done = run_cli("prepare", str(corpora / "small.txt"), "--out", str(tmp_path / "d"),
                   "--vocab-size", "400", cwd=corpora)
    assert done.returncode == 0, done.stderr
    assert "split: " in done.stdout and "validation 5.0% of the tokens" in done.stdout
    summary = json.loads((tmp_path / "d" / "prepare.json").read_text("utf-8"))
    assert summary["split"]["method"] in ("documents", "token-range")
    assert not (tmp_path / "d" / "prepare.lock").exists()
