"""The torchrun command line built for --nproc and the multi-node flags (no process is
started): the static rendezvous on node 0 for several nodes, --standalone for one."""

from __future__ import annotations

import sys

from lmstudio_app.cli.launch import Nodes, launcher_command, without_nproc
from tests.conftest import run_cli

ARGV = ["pretrain", "--data", "d", "--nproc", "2", "--nnodes", "2", "--node-rank=1",
        "--master-addr", "10.0.0.5", "--master-port", "29600", "--max-steps", "5"]


def test_the_launcher_flags_go_to_torchrun_and_the_rest_to_each_process():
    assert without_nproc(ARGV) == ["pretrain", "--data", "d", "--max-steps", "5"]
    cmd = launcher_command(ARGV, 2, Nodes(2, 1, "10.0.0.5", 29600))
    assert cmd[:3] == [sys.executable, "-m", "lmstudio_app.cli.launch"]
    assert cmd[3:] == ["--nnodes", "2", "--node-rank", "1", "--master-addr", "10.0.0.5",
                       "--master-port", "29600", "--nproc_per_node", "2", "-m", "lmstudio_app",
                       "pretrain", "--data", "d", "--max-steps", "5"]
    # One node: a local rendezvous on a free port, as before.
    assert launcher_command(["pretrain", "--nproc", "2"], 2)[3:6] == [
        "--standalone", "--nproc_per_node", "2"]
    # torchrun itself reads these arguments as meant.
    from torch.distributed.run import parse_args
    parsed = parse_args(cmd[3:])
    assert (parsed.nnodes, parsed.node_rank, parsed.master_addr, parsed.master_port,
            parsed.nproc_per_node, parsed.standalone) == ("2", 1, "10.0.0.5", 29600, "2", False)


def test_node_flags_that_cannot_start_a_job_are_one_line(tmp_path):
    assert Nodes(2, 2, "h").check() == "--node-rank 2: nodes are numbered 0 to 1 (--nnodes 2)"
    assert Nodes(1, 0).check() is None and Nodes(3, 2, "h").check() is None
    done = run_cli("pretrain", "--data", str(tmp_path), "--nnodes", "2", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--nnodes above 1 needs --master-addr" in lines[0], done.stderr
    bad = run_cli("finetune", "--master-port", "70000", cwd=tmp_path)
    assert bad.returncode == 2 and "--master-port: 70000: must be from 1 to 65535" in bad.stderr
