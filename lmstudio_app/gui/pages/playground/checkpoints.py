"""Which weights of a run the instrument views can open, in the order of training.

The one place the views ask: the checkpoint slider of the hard-tokens view and the pickers of
the compare view list what this returns, as (label, checkpoint) pairs that load_run accepts.
Snapshots kept along the way, where a run keeps them, belong here in step order before the
latest weights.
"""

from __future__ import annotations

from pathlib import Path

from ....core import runs

_LABELS = {"best": "best (validation)", "latest": "latest"}


def checkpoint_choices(run_dir: Path) -> list[tuple[str, str]]:
    """(label, checkpoint) of the weights `run_dir` holds: the latest, then the best when the
    run saved one apart; empty when it has no weights yet."""
    if not runs.has_weights(run_dir):
        return []
    out = [(_LABELS["latest"], "latest")]
    if (Path(run_dir) / runs.BEST_WEIGHTS).is_file():
        out.append((_LABELS["best"], "best"))
    return out
