"""Weight snapshots along the curve: what did the model say at step 500?

At each evaluation the trainer keeps the step's committed weights as
checkpoints/step-NNNNNN.safetensors (the run folder's names are core/runs' own). A long run would
fill the disk, so the set is thinned as it grows: about `keep_checkpoints` snapshots spread
evenly in log steps (early steps, where the model changes fastest, get as many as late ones),
plus always the latest and the best.

The log grid is fixed by the run's first snapshot and its last step (max_steps), so thinning
on the go keeps exactly what thinning at the end would: for each grid point, the nearest
snapshot; later snapshots only ever take a grid point away from an earlier one, never give one
back, so a snapshot dropped now would never have been chosen later.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .. import runs
from ..util.atomic import fsync_dir, new_temporary, remove_temporaries
from ..util.disk import storage


def log_grid(first: int, last: int, n: int) -> list[float]:
    """`n` points spread evenly in log steps from `first` to `last` (steps, both >= 1)."""
    first, last = max(1, first), max(1, first, last)
    if n <= 1 or first == last:
        return [float(last)]
    ratio = math.log(last / first) / (n - 1)
    return [first * math.exp(k * ratio) for k in range(n)]


def choose_kept(steps: Iterable[int], keep: int, last_step: int | None,
                best_step: int | None = None) -> set[int]:
    """The snapshot steps to keep: for each of `keep` log-spaced grid points between the first
    snapshot and `last_step` (the run's max_steps; None, a budget not derived yet: the latest
    snapshot), the snapshot nearest to it in log steps; and
    always the latest and `best_step`. `keep` 0 keeps none. Fewer than `keep` come back when
    several grid points share their nearest snapshot (evaluations sparser than the grid)."""
    steps = sorted(set(int(s) for s in steps))
    if keep <= 0 or not steps:
        return set()
    kept = {steps[-1]}
    if best_step is not None and best_step in steps:
        kept.add(best_step)
    logs = [math.log(max(s, 1)) for s in steps]
    for point in log_grid(steps[0], max(last_step or 0, steps[-1]), keep):
        target = math.log(point)
        kept.add(steps[min(range(len(steps)), key=lambda i: abs(logs[i] - target))])
    return kept


def keep_snapshot(run_dir: Path, step: int, keep: int, last_step: int,
                  best_step: int | None) -> list[int]:
    """Keep the committed weights (model.safetensors, of `step`) as the snapshot of `step`,
    then remove the snapshots thinning drops; returns the steps removed.

    The snapshot is a hard link to the committed file where the file system allows (no bytes
    copied: the next commit replaces model.safetensors by a new file, leaving the linked one
    to the snapshot), else a copy; either way it appears whole or not at all. Raises
    StorageError when the disk is full (the checkpoint itself is already committed).
    """
    if keep <= 0:
        return []
    run_dir = Path(run_dir)
    target = runs.snapshot_path(run_dir, step)
    source = run_dir / runs.WEIGHTS
    with storage(target):
        target.parent.mkdir(exist_ok=True)
    remove_temporaries(target.parent)  # of a snapshot a kill cut short (the run's lock is ours)
    tmp = new_temporary(target)
    try:
        with storage(target, source.stat().st_size):
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:  # a file system without hard links
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            fsync_dir(target.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    existing = runs.list_snapshots(run_dir)
    kept = choose_kept([s.step for s in existing], keep, last_step, best_step)
    removed = []
    for snap in existing:
        if snap.step not in kept:
            with contextlib.suppress(OSError):
                snap.path.unlink()
                removed.append(snap.step)
    return removed
