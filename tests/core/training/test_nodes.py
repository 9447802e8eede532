"""Two machines, played by two torchrun agents on this one (`--nnodes 2`, one process each, the
rendezvous on 127.0.0.1, gloo): the curve of one node with two processes, one run folder and one
metrics file; a node that reads another token store, or none, is refused on every node before
step one. Slow: every test starts several launchers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.runs.checkpoint import committed_step
from lmstudio_app.gui.process_session import kill_tree
from tests.conftest import austen_text
from tests.core.training.test_distributed import (
    assert_same,
    cli,
    curve,
    finish,
    kill_group,
    launch_twenty_steps,
    sets,
    val_losses,
)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_nodes(data: tuple[Path, Path], run: Path, *extra: str) -> list[tuple[int, str, str]]:
    """Node 0 and node 1 of one job, each `--nproc 1`, reading data[0] and data[1]."""
    port = str(free_port())
    procs = [cli("pretrain", "--nnodes", "2", "--node-rank", str(k), "--master-addr",
                 "127.0.0.1", "--master-port", port, "--data", str(data[k]), "--objective",
                 "clm", "--device", "cpu", "--out", str(run), *extra, cwd=run.parent)
             for k in (0, 1)]
    try:
        return [finish(p) for p in procs]
    finally:
        for p in procs:
            kill_group(p)


def test_two_nodes_train_the_curve_of_one_node_with_two_processes(prepared_data, tmp_path):
    one = tmp_path / "one_node"
    launch_twenty_steps(prepared_data, one)
    two = tmp_path / "two_nodes"
    said = two_nodes((prepared_data, prepared_data), two, "--max-steps", "20",
                     *sets("batch_size=4"))
    for code, _out, err in said:
        assert code == 0, err
        assert "Traceback" not in err
    assert said[0][1].count("completed at step 20") == 1 and "completed" not in said[1][1]
    assert sorted(curve(two)) == list(range(1, 21))
    assert_same(curve(two), curve(one))
    assert_same(val_losses(two), val_losses(one))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one_node", "two_nodes"]
    assert len(list(two.glob("*.jsonl"))) == 1
    assert runs.read_status(two)["state"] == "completed"


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_a_node_with_another_token_store_or_none_is_refused_on_every_node(prepared_data,
                                                                          tmp_path):
    corpus = tmp_path / "other.txt"
    corpus.write_text(austen_text(60_000), encoding="utf-8")
    other = tmp_path / "other"
    prepare(PrepareConfig([str(corpus)], str(other), tokenizer=TokenizerSpec("unigram", 500)))
    run = tmp_path / "run"
    said = two_nodes((prepared_data, other), run, "--max-steps", "5", *sets())
    for code, out, err in said:
        assert code == 2
        lines = _lines(err)
        assert len(lines) == 1 and "differs between the nodes (sha256 node 0 " in lines[0], err
        assert "step" not in out
    assert not run.exists()  # refused before the folder was made
    said = two_nodes((prepared_data, tmp_path / "missing"), run, "--max-steps", "5", *sets())
    for code, _out, err in said:
        assert code == 2
        lines = _lines(err)
        assert len(lines) == 1 and lines[0].startswith("error: node 1: ") \
            and "missing: no tokenizer.model here" in lines[0], err
    assert not run.exists()


def test_a_dead_node_stops_the_other_and_the_run_resumes_on_one_node(prepared_data, tmp_path):
    run = tmp_path / "run"
    port = str(free_port())
    procs = [cli("pretrain", "--nnodes", "2", "--node-rank", str(k), "--master-addr",
                 "127.0.0.1", "--master-port", port, "--data", str(prepared_data),
                 "--objective", "clm", "--device", "cpu", "--out", str(run), "--max-steps",
                 "100000", *sets("batch_size=4", "eval_interval=5"), cwd=tmp_path)
             for k in (0, 1)]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (committed_step(run) or 0) < 10:
            time.sleep(0.5)
        assert (committed_step(run) or 0) >= 10, "no checkpoint came"
        kill_tree(procs[1].pid)  # node 1 dies (its command, launcher and process): no word
        started = time.monotonic()
        code, _out, err = finish(procs[0], timeout=120)
        assert code != 0 and time.monotonic() - started < 120
        assert "Traceback" not in err
    finally:
        for p in procs:
            kill_tree(p.pid)
            kill_group(p)
    step = committed_step(run)
    assert step is not None and step >= 10  # the last committed checkpoint is whole
    # Resumed on one node with two processes: the same global batch, the steps go on.
    code, out, err = finish(cli("pretrain", "--resume", str(run), "--nproc", "2",
                                "--max-steps", str(step + 5), cwd=tmp_path))
    assert code == 0, err
    assert max(curve(run)) == step + 5
    assert runs.read_status(run)["state"] == "completed"
