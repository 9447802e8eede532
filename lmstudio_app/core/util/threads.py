"""How torch's CPU threads share the machine: the runtime's short spin while alone, one thread
per core left over while other work is running.

Two measured facts decide it (2 cores, nanoGPT's 4 x 128 CPU shape; bench/fairness.py and
bench/results/thread_policy.md). Alone, OpenMP threads that sleep at every barrier
(OMP_WAIT_POLICY=PASSIVE) cost a third of the speed (14.2k tokens/s against 22.2k with the
runtime's default bounded spin): the small matrices of a CPU-sized model meet a barrier every
few microseconds. Beside other busy processes (a second training, test runs, a browser),
spinning threads and the other work starve each other: tokens/s swung between 2k and 21k, and
on a machine with a load of 10 the same run spun at 320 tokens/s against 3,700 asleep.

So the process keeps the runtime's default waits (`calm_cpu_threads` no longer asks for
passive ones; a user's OMP_WAIT_POLICY, GOMP_SPINCOUNT or OMP_NUM_THREADS still wins), and a
`ThreadGovernor`, ticked once per training step, watches how many threads of other work are
runnable (Linux /proc/loadavg, less this process's own running threads) and gives torch the
cores they leave: all of them alone, one fewer per busy neighbour, never fewer than one. With
one thread there is no barrier to spin at, so two trainings side by side settle on a core each.

This module imports nothing heavy at load, so `calm_cpu_threads` can run before torch.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from pathlib import Path

# Variables that mean the user chose how OpenMP threads wait or how many there are.
USER_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "KMP_BLOCKTIME")


def calm_cpu_threads() -> bool:
    """Let torch's OpenMP runtime keep its default bounded spin (called before torch loads).

    An empty OMP_WAIT_POLICY (set but blank, which the runtime would report as invalid) is
    removed so the default applies. Returns False when torch is already imported (too late to
    change what the runtime read at load), True otherwise."""
    if "torch" in sys.modules:
        return False
    if os.environ.get("OMP_WAIT_POLICY", None) == "":
        del os.environ["OMP_WAIT_POLICY"]
    return True


def user_chose_threads() -> bool:
    """True when the environment names a wait policy or thread count: the governor stays off."""
    return any(os.environ.get(name) for name in USER_CHOICES)


def _running_here() -> int:
    """This process's threads that are running or runnable now (state R), 0 where unknown."""
    count = 0
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        if stat[stat.rfind(")") + 2:].startswith("R"):
            count += 1
    return count


def runnable_elsewhere(own_threads: int) -> int | None:
    """Threads of other work runnable now: /proc/loadavg's running count less this process's
    running threads (at most `own_threads` of them: a busy window thread counts as other work).
    None where /proc/loadavg is absent (not Linux)."""
    try:
        fields = Path("/proc/loadavg").read_text().split()
        running = int(fields[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None
    return max(0, running - min(_running_here(), own_threads))


class ThreadGovernor:
    """Gives torch the cores that other work leaves, re-decided every `every` ticks.

    `tick()` is called once per training step; it samples the other work's runnable threads
    (`runnable_elsewhere`) and, every `every` ticks, sets torch.set_num_threads to the cores
    minus the mean of the last `every` samples (rounded), between 1 and the thread count torch
    started with. It does nothing where the user set a thread variable (USER_CHOICES) or where
    the load cannot be read. `threads` is the count in force.
    """

    def __init__(self, every: int = 16, cores: int | None = None) -> None:
        import torch

        self._torch = torch
        self.most = torch.get_num_threads()
        self.threads = self.most
        self.cores = cores or os.cpu_count() or 1
        self.every = every
        self.enabled = (self.most > 1 and not user_chose_threads()
                        and runnable_elsewhere(self.most) is not None)
        self._samples: deque[int] = deque(maxlen=every)
        self._ticks = 0

    def tick(self) -> int:
        """Sample the load; every `every` ticks, set the thread count. Returns the count."""
        if not self.enabled:
            return self.threads
        others = runnable_elsewhere(self.threads)
        if others is not None:
            self._samples.append(others)
        self._ticks += 1
        if self._ticks % self.every == 0 and self._samples:
            self.set(self.target(sum(self._samples) / len(self._samples)))
        return self.threads

    def target(self, others: float) -> int:
        """The thread count beside `others` runnable threads of other work."""
        return max(1, min(self.most, self.cores - round(others)))

    def set(self, threads: int) -> None:
        if threads != self.threads:
            self._torch.set_num_threads(threads)
            self.threads = threads
