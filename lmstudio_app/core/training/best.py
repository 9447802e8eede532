"""The best checkpoint and early stopping: which evaluation is the best so far, and when to stop.

best.safetensors follows the task's own score where it has one (accuracy, F1: higher is
better, kept negated so that lower is better throughout), else the validation loss; the status
keeps the lowest validation loss. Early stopping ends a run after `patience` evaluations in a
row brought no new best score, as Hugging Face's `EarlyStoppingCallback` does.
"""

from __future__ import annotations

from .sinks import EvalMetrics
from .state import TrainState


def score_of(m: EvalMetrics, best_metric: str | None) -> float:
    """What picks best.safetensors (lower is better): minus the task's `best_metric` where the
    evaluation has it, else the validation loss (nats)."""
    if best_metric is not None and best_metric in m.extra:
        return -float(m.extra[best_metric])
    return m.val_loss


def note_evaluation(state: TrainState, m: EvalMetrics, best_metric: str | None) -> bool:
    """Update `state`'s best score, lowest validation loss and evaluations since the best with
    the evaluation `m`; True when it is a new best (save best.safetensors)."""
    score = score_of(m, best_metric)
    improved = state.best_score is None or score < state.best_score
    if improved:
        state.best_score = score
    state.evals_since_best = 0 if improved else state.evals_since_best + 1
    if state.best_val_loss is None or m.val_loss < state.best_val_loss:
        state.best_val_loss = m.val_loss
    return improved


def early_stop_note(state: TrainState, patience: int) -> str | None:
    """Why the run stops now ("early stopping: no improvement in 2 evaluations"), or None
    while it goes on (always None when `patience` is 0: early stopping off)."""
    if not patience or state.evals_since_best < patience:
        return None
    return f"early stopping: no improvement in {patience} evaluation{'s' if patience != 1 else ''}"
