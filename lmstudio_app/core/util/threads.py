"""How torch's CPU threads share the machine: spin alone, sleep or step aside beside others.

Measured facts behind it (2 cores, nanoGPT's 4 x 128 CPU shape; bench/fairness.py, figures in
bench/results/thread_policy.md). Alone, OpenMP threads that sleep at every barrier
(OMP_WAIT_POLICY=PASSIVE) cost a third of the speed (14.2k tokens/s against 22.2k with the
runtime's default bounded spin): a CPU-sized model meets a barrier every few microseconds.
Beside other busy processes, spinning threads and the other work starve each other: on a
machine with a load of 14 the same run made 320-475 tokens/s spinning, 1.5k on one thread and
3.8k with passive waits on two.

So, before torch loads, `calm_cpu_threads` asks for passive waits when other work is running
at that moment, and otherwise leaves the runtime's bounded spin. A spinning process cannot
switch to passive later (the runtime reads its policy once), so a `ThreadGovernor`, ticked once
per training step, watches how many threads of other work are runnable (Linux /proc/loadavg,
less this process's own running threads) and gives torch the cores they leave: all of them
alone, one fewer per busy neighbour, never fewer than one; with one thread there is no barrier
to spin at. A user's OMP_WAIT_POLICY, GOMP_SPINCOUNT, OMP_NUM_THREADS or KMP_BLOCKTIME wins
over both (and a passive process needs no governor).

This module imports nothing heavy at load, so `calm_cpu_threads` can run before torch.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from pathlib import Path

# Variables that mean the user chose how OpenMP threads wait or how many there are.
USER_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "KMP_BLOCKTIME")


def calm_cpu_threads(samples: int = 5) -> bool:
    """Choose how torch's OpenMP threads wait, before torch loads: passive waits when other
    work is running now (`busy_elsewhere`), else the runtime's default bounded spin, which the
    ThreadGovernor keeps from spinning beside work that comes later.

    A user's OMP_WAIT_POLICY, GOMP_SPINCOUNT, OMP_NUM_THREADS or KMP_BLOCKTIME wins; a blank
    OMP_WAIT_POLICY (which the runtime would report as invalid) is removed. Returns False when
    torch is already imported (too late: the runtime read its settings at load), else True."""
    if "torch" in sys.modules:
        return False
    if os.environ.get("OMP_WAIT_POLICY", None) == "":
        del os.environ["OMP_WAIT_POLICY"]
    if not user_chose_threads() and busy_elsewhere(samples):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def busy_elsewhere(samples: int = 5, interval_s: float = 0.01) -> bool:
    """True when, on average over `samples` readings `interval_s` apart, at least one thread
    of other work is runnable (False where the load cannot be read)."""
    seen = []
    for i in range(samples):
        if i:
            time.sleep(interval_s)
        others = runnable_elsewhere(1)
        if others is None:
            return False
        seen.append(others)
    return bool(seen) and sum(seen) / len(seen) >= 0.5


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
    """Gives torch the cores that other work leaves, re-decided every `every` samples.

    `tick()` is called once per training step; at most every `interval_s` seconds it samples
    the other work's runnable threads (`runnable_elsewhere`: a read of /proc per thread, kept
    off short steps), and every `every` samples it sets torch.set_num_threads to the cores
    minus the mean of the last `every` samples (rounded), between 1 and the thread count torch
    started with. It does nothing where the user set a thread variable (USER_CHOICES) or where
    the load cannot be read. `threads` is the count in force.
    """

    def __init__(self, every: int = 16, cores: int | None = None,
                 interval_s: float = 0.02) -> None:
        import torch

        self._torch = torch
        self.most = torch.get_num_threads()
        self.threads = self.most
        self.cores = cores or os.cpu_count() or 1
        self.every = every
        self.enabled = (self.most > 1 and not user_chose_threads()
                        and runnable_elsewhere(self.most) is not None)
        self.interval_s = interval_s
        self._samples: deque[int] = deque(maxlen=every)
        self._sampled = 0
        self._last = -interval_s

    def tick(self) -> int:
        """Sample the load when `interval_s` has passed; every `every` samples, set the thread
        count. Returns the count in force."""
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval_s:
            return self.threads
        self._last = now
        others = runnable_elsewhere(self.threads)
        if others is None:
            return self.threads
        self._samples.append(others)
        self._sampled += 1
        if self._sampled % self.every == 0:
            self.set(self.target(sum(self._samples) / len(self._samples)))
        return self.threads

    def target(self, others: float) -> int:
        """The thread count beside `others` runnable threads of other work."""
        return max(1, min(self.most, self.cores - round(others)))

    def set(self, threads: int) -> None:
        if threads != self.threads:
            self._torch.set_num_threads(threads)
            self.threads = threads
