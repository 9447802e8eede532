"""Which weights of a run the instrument views can open, in the order of training.

The one place the views ask: the checkpoint slider of the hard-tokens view and the pickers of
the compare view list what this returns, as (label, checkpoint) pairs that load_run accepts.
The snapshots a run kept along the way (runs.list_snapshots) come first, in step order.
"""

from __future__ import annotations

from pathlib import Path

from ....core import runs

_LABELS = {"best": "best (validation)", "latest": "latest"}


def checkpoint_choices(run_dir: Path) -> list[tuple[str, str | int]]:
    """(label, checkpoint) of the weights `run_dir` holds: its kept snapshots by step, the
    latest, then the best when the run saved one apart; empty when it has no weights yet."""
    if not runs.has_weights(run_dir):
        return []
    out: list[tuple[str, str | int]] = [
        (f"step {snap.step:,}", snap.step) for snap in runs.list_snapshots(run_dir)]
    out.append((_LABELS["latest"], "latest"))
    if (Path(run_dir) / runs.BEST_WEIGHTS).is_file():
        out.append((_LABELS["best"], "best"))
    return out


def checkpoint_name(checkpoint: str | int) -> str:
    """How a message names the weights: "step 500", "latest", "best"."""
    return f"step {checkpoint:,}" if isinstance(checkpoint, int) else str(checkpoint)
