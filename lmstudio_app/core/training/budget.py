"""A fine-tune's step budget, derived from the size of its training split.

Fine-tuning defaults are given in epochs (passes over the training rows), as Hugging Face's
`TrainingArguments(num_train_epochs=...)` does, because a fixed step count is wrong at both
ends: 800 steps are 7 epochs of 1,800 tweets (they overfit) and 30 epochs of a 400-row set.
The evidence for the numbers is bench/results/finetune_defaults.md.

Only values the user left unset (None) are derived; a user's own `max_steps` or
`eval_interval` wins. The derived copy is what the loop runs; config.json keeps the user's
settings (the derived values are derived again on a resume, from the same split).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..config import TrainConfig
from ..errors import UserError

# A derived budget is at least this many steps: on a few hundred rows three epochs are under
# 100 steps, too few for a classifier head and a body to settle (bundled set: 78 steps 0.74,
# 300 steps 0.91 accuracy).
MIN_DERIVED_STEPS = 300
EVALS_PER_EPOCH = 2


def steps_per_epoch(training_rows: int, batch_size: int, grad_accum: int = 1) -> int:
    """Optimizer steps for one pass over `training_rows` rows (examples, or QA windows)."""
    return max(1, math.ceil(training_rows / (batch_size * grad_accum)))


def check_steps_left(step: int, max_steps: int, run_dir: object) -> None:
    """A resumed run must have steps left to train: refuse one already at or past `max_steps`
    (it would end at once, as if it had trained). Raises UserError(field="max_steps")."""
    if step >= max_steps:
        raise UserError(f"{run_dir}: the run is already at step {step:,} and max_steps is "
                        f"{max_steps:,}, so nothing would be trained; to train more, set "
                        f"max_steps above {step}.", field="max_steps")


def resolve_budget(t: TrainConfig, training_rows: int | None) -> TrainConfig:
    """A copy of `t` with `max_steps` and `eval_interval` set, derived where None:

    - max_steps = max(MIN_DERIVED_STEPS, ceil(num_train_epochs * steps_per_epoch));
    - eval_interval = half an epoch (at most max_steps), so the best checkpoint is picked
      from about six evaluations of a three-epoch run.

    `training_rows` is the number of training rows (None for pretraining, which has no epochs).
    Raises UserError (field max_steps or eval_interval) when a value is unset and cannot be
    derived.
    """
    if t.max_steps is not None and t.eval_interval is not None:
        return t
    if training_rows is None:
        name = "max_steps" if t.max_steps is None else "eval_interval"
        raise UserError(f"{name} is unset and this run has no epochs to derive it from: set it.",
                        field=name)
    per_epoch = steps_per_epoch(training_rows, t.batch_size, t.grad_accum)
    max_steps = t.max_steps
    if max_steps is None:
        epochs = t.num_train_epochs or 1.0
        max_steps = max(MIN_DERIVED_STEPS, math.ceil(epochs * per_epoch))
    eval_interval = t.eval_interval
    if eval_interval is None:
        eval_interval = min(max_steps, max(1, round(per_epoch / EVALS_PER_EPOCH)))
    return dataclasses.replace(t, max_steps=max_steps, eval_interval=eval_interval)


def describe_budget(t: TrainConfig, b: Budget, training_rows: int | None) -> str:
    """One line on where the budget `b` of `t` came from, for the run's log."""
    if training_rows is None:
        return f"{b.max_steps:,} steps"
    per_epoch = steps_per_epoch(training_rows, t.batch_size, t.grad_accum)
    epochs = b.max_steps / per_epoch
    return (f"{b.max_steps:,} steps ({epochs:.1f} epochs of {training_rows:,} training rows, "
            f"{per_epoch:,} steps each), warm-up {b.warmup_steps:,}, evaluation every "
            f"{b.eval_interval:,} steps")


@dataclass(frozen=True)
class Budget:
    """What the loop runs, in plain ints, resolved once when the run starts (`Budget.of`).

    max_steps: optimizer steps of the whole run; eval_interval: steps between evaluations;
    warmup_steps: steps of linear warm-up before the cosine decay; checkpoint_interval: steps
    between saves that are not evaluations; log_interval: steps between logged records;
    patience: evaluations without a new best score before early stopping (0: off);
    keep_checkpoints: weight snapshots kept along the curve.
    """

    max_steps: int
    eval_interval: int
    warmup_steps: int
    checkpoint_interval: int
    log_interval: int
    patience: int
    keep_checkpoints: int

    @classmethod
    def of(cls, t: TrainConfig, training_rows: int | None) -> Budget:
        """`t`'s budget, derived where unset (`resolve_budget`); raises its UserError."""
        r = resolve_budget(t, training_rows)
        assert r.max_steps is not None and r.eval_interval is not None  # resolve_budget's
        return cls(max_steps=r.max_steps, eval_interval=r.eval_interval,
                   warmup_steps=r.warmup_steps_value,
                   checkpoint_interval=r.checkpoint_interval_value or r.eval_interval,
                   log_interval=r.log_interval, patience=r.early_stopping_patience or 0,
                   keep_checkpoints=r.keep_checkpoints)
