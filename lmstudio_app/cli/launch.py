"""`--nproc N`: run a training command as N data-parallel processes through PyTorch's own
launcher (`python -m torch.distributed.run`, what `torchrun` runs), so nobody has to learn it.

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
from typing import Any

from .args import EXIT_USAGE, positive_int

FLAG = "--nproc"


def add_nproc(s: argparse.ArgumentParser) -> None:
    s.add_argument(FLAG, type=positive_int, default=1, metavar="N",
                   help="train with N data-parallel processes (torchrun; batch_size is per "
                        "process, each step's batch is batch_size x grad_accum x N)")


def without_nproc(argv: Sequence[str]) -> list[str]:
    """The command line minus --nproc N (or --nproc=N): what each process runs."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == FLAG:
            skip = True
        elif not arg.startswith(FLAG + "="):
            out.append(arg)
    return out


def launcher_command(argv: Sequence[str], nproc: int) -> list[str]:
    """torchrun's arguments, run by this module's `main`: `--standalone --nproc_per_node N
    -m lmstudio_app ...`.

    --standalone: a rendezvous on a free local port, so two jobs on one machine never meet."""
    return [sys.executable, "-m", "lmstudio_app.cli.launch", "--standalone",
            "--nproc_per_node", str(nproc), "-m", "lmstudio_app", *without_nproc(argv)]


def thread_share(nproc: int) -> str:
    """OMP_NUM_THREADS for each of `nproc` processes: the cores shared out, at least one."""
    return str(max(1, (os.cpu_count() or 1) // nproc))


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run the command as `nproc` processes; return the launcher's exit status (128 + signal
    when a signal stopped it, after every rank stopped and rank 0 saved)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", thread_share(nproc))
    env.setdefault("LOGLEVEL", "CRITICAL")  # the launcher's notes on each rank it stops
    proc = subprocess.Popen(launcher_command(argv, nproc), start_new_session=True, env=env)
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
