"""Which weights file of a run folder is loaded: the one place that decides it.

The playground, the command line's generate and export, a fine-tune's base run and a task's
final report on its test split all ask `weights_path`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from . import checkpoint as ckpt
from .folder import list_snapshots, snapshot_path
from .names import BEST_WEIGHTS, WEIGHTS

CHECKPOINTS = ("best", "latest")


def weights_path(run_dir: Path, checkpoint: str | int = "best", field: str = "run") -> Path:
    """best.safetensors when asked and present, else model.safetensors (the latest); a step
    (an int, or its digits) is that step's kept snapshot (checkpoints/), or the latest weights
    when they are of that step.

    Raises UserError (field "checkpoint") naming the kept steps when the step has no weights,
    and (field `field`) when the run has no weights yet.
    """
    run_dir = Path(run_dir)
    if isinstance(checkpoint, int) or (isinstance(checkpoint, str) and checkpoint.isdigit()):
        return _step_weights(run_dir, int(checkpoint))
    if checkpoint not in CHECKPOINTS:
        raise UserError(f"checkpoint {checkpoint!r}: choose best, latest or the step of a kept "
                        "checkpoint.", field="checkpoint", option="best")
    best, latest = run_dir / BEST_WEIGHTS, run_dir / WEIGHTS
    if checkpoint == "best" and best.is_file():
        return best
    if latest.is_file():
        return latest
    raise UserError(f"{run_dir}: no weights yet (the run has not reached its first checkpoint).",
                    field=field)


def _step_weights(run_dir: Path, step: int) -> Path:
    snapshot = snapshot_path(run_dir, step)
    if snapshot.is_file():
        return snapshot
    latest = run_dir / WEIGHTS
    if latest.is_file() and ckpt.weights_step(latest) == step:
        return latest
    kept = [s.step for s in list_snapshots(run_dir)]
    have = (f"the kept steps are {', '.join(map(str, kept))}" if kept
            else "the run keeps no snapshots (keep_checkpoints 0, or a run from before them)")
    raise UserError(f"{run_dir}: no weights of step {step}: {have}.", field="checkpoint",
                    option=str(kept[-1]) if kept else "latest")
