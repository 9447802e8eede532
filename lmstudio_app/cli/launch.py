"""`--nproc N`: run a training command as N data-parallel processes through PyTorch's own
launcher (`python -m torch.distributed.run`, what `torchrun` runs), so nobody has to learn it.

On several machines, `--nnodes M --node-rank K --master-addr HOST --master-port PORT` (torchrun's
own names) go to torchrun's static rendezvous: node K's processes take the global ranks
K * N ... K * N + N - 1, so global rank 0, which writes the run folder, runs on node 0. The same
command runs on every node, only --node-rank differs.

The launcher runs in its own session: a Ctrl-C reaches this process alone, which hands the
launcher one SIGTERM; the launcher passes it to every rank, and every rank stops after the same
step (rank 0 saves). The launcher's exit status is this command's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .args import EXIT_USAGE, count, port, positive_int

FLAG = "--nproc"
# The launcher's flags (each with one value), taken out of what each process runs.
LAUNCH_FLAGS = (FLAG, "--nnodes", "--node-rank", "--master-addr", "--master-port")
DEFAULT_PORT = 29500  # torchrun's


@dataclass(frozen=True)
class Nodes:
    """The machines a job spans (torchrun's static rendezvous); one node: a local job."""

    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = ""
    master_port: int = DEFAULT_PORT

    def check(self) -> str | None:
        """Why these flags cannot start a job (one line), or None."""
        if self.node_rank >= self.nnodes:
            return (f"--node-rank {self.node_rank}: nodes are numbered 0 to "
                    f"{self.nnodes - 1} (--nnodes {self.nnodes})")
        if self.nnodes > 1 and not self.master_addr:
            return ("--nnodes above 1 needs --master-addr: the address of node 0 (where "
                    "--node-rank 0 runs), the same on every node")
        return None

    def rendezvous(self) -> list[str]:
        """torchrun's arguments for where the processes meet: --standalone alone (a free local
        port, so two jobs on one machine never meet), else the static rendezvous on node 0."""
        if self.nnodes <= 1:
            return ["--standalone"]
        return ["--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank),
                "--master-addr", self.master_addr, "--master-port", str(self.master_port)]


def add_nproc(s: argparse.ArgumentParser) -> None:
    s.add_argument(FLAG, type=positive_int, default=1, metavar="N",
                   help="train with N data-parallel processes (torchrun; batch_size is per "
                        "process, each step's batch is batch_size x grad_accum x N)")
    g = s.add_argument_group("several machines (torchrun's multi-node rendezvous; run the same "
                             "command on each, only --node-rank differs)")
    g.add_argument("--nnodes", type=positive_int, default=1, metavar="M",
                   help="machines in the job (default 1); each runs --nproc processes")
    g.add_argument("--node-rank", type=count, default=0, metavar="K",
                   help="this machine's number, 0 to M-1; node 0 writes the run folder")
    g.add_argument("--master-addr", default="", metavar="HOST",
                   help="address of node 0, the same on every node")
    g.add_argument("--master-port", type=port, default=DEFAULT_PORT, metavar="PORT",
                   help=f"a free port on node 0 (default {DEFAULT_PORT})")


def nodes_of(args: argparse.Namespace) -> Nodes:
    return Nodes(args.nnodes, args.node_rank, args.master_addr, args.master_port)


def without_nproc(argv: Sequence[str]) -> list[str]:
    """The command line minus the launcher's flags (--nproc N, --nnodes M, ..., or --flag=V):
    what each process runs."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_FLAGS:
            skip = True
        elif not arg.startswith(tuple(f + "=" for f in LAUNCH_FLAGS)):
            out.append(arg)
    return out


def launcher_command(argv: Sequence[str], nproc: int, nodes: Nodes | None = None) -> list[str]:
    """torchrun's arguments, run by this module's `main`: `--standalone --nproc_per_node N
    -m lmstudio_app ...`, or on several nodes `--nnodes M --node-rank K --master-addr HOST
    --master-port PORT --nproc_per_node N -m lmstudio_app ...` (`Nodes.rendezvous`)."""
    return [sys.executable, "-m", "lmstudio_app.cli.launch", *(nodes or Nodes()).rendezvous(),
            "--nproc_per_node", str(nproc), "-m", "lmstudio_app", *without_nproc(argv)]


def thread_share(nproc: int) -> str:
    """OMP_NUM_THREADS for each of `nproc` processes: the cores shared out, at least one."""
    return str(max(1, (os.cpu_count() or 1) // nproc))


def launch(argv: Sequence[str], nproc: int, nodes: Nodes | None = None) -> int:
    """Run the command as `nproc` processes (on this node of `nodes`); return the launcher's
    exit status (128 + signal when a signal stopped it, after every rank stopped and rank 0
    saved)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", thread_share(nproc))
    env.setdefault("LOGLEVEL", "CRITICAL")  # the launcher's notes on each rank it stops
    proc = subprocess.Popen(launcher_command(argv, nproc, nodes), start_new_session=True,
                            env=env)
    forwarded: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if forwarded:  # the launcher is stopping its ranks already (it kills them if they hang)
            return
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    try:
        code = proc.wait()
    finally:
        if proc.poll() is None:  # this process is ending abnormally: leave nothing behind
            proc.kill()
            proc.wait()
    return 128 - code if code < 0 else code


def main(argv: Sequence[str] | None = None) -> int:
    """torchrun (`torch.distributed.run`), its own failures said in one line: the ranks have
    said why they failed, and a stop by signal is not a crash."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # The launcher's own log lines ("failed (exitcode: 2) local_rank: 0 ...") repeat what the
    # ranks said; its module loggers inherit this level.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(parse_args(list(sys.argv[1:] if argv is None else argv)))
    except ChildFailedError as exc:
        codes = sorted({f.exitcode for f in exc.failures.values()})
        # A rank that exited with EXIT_USAGE has said why (the others were stopped by a signal).
        if EXIT_USAGE not in codes:
            print(f"error: {len(exc.failures)} of the training processes failed "
                  f"(exit status {', '.join(map(str, codes))})", file=sys.stderr)
        return next((c for c in codes if c > 0), 1)
    except SignalException as exc:
        return 128 + int(exc.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
