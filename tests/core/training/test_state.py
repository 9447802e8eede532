"""The loop's resume state, its budget and its best score, apart from a run."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lmstudio_app.core.config import TrainConfig
from lmstudio_app.core.training.best import early_stop_note, note_evaluation
from lmstudio_app.core.training.budget import Budget
from lmstudio_app.core.training.sinks import EvalMetrics
from lmstudio_app.core.training.state import TrainState


def test_a_train_state_round_trips_with_its_random_generator():
    state = TrainState(step=7, tokens_seen=700, best_val_loss=2.5, best_score=-0.8,
                       evals_since_best=1)
    torch.manual_seed(3)
    saved = state.state_dict()
    expected = torch.rand(4)
    torch.rand(100)  # the generator moves on
    restored = TrainState()
    restored.load_state_dict(saved)
    assert restored == state
    assert torch.equal(torch.rand(4), expected)  # the same draws as after the save


def test_an_older_state_without_the_later_entries_takes_their_defaults():
    restored = TrainState()
    restored.load_state_dict({"step": 3, "best_val_loss": 2.0,
                              "torch_rng": torch.get_rng_state()})
    assert (restored.step, restored.best_score, restored.tokens_seen,
            restored.evals_since_best) == (3, 2.0, -1, 0)
    with pytest.raises(KeyError):
        TrainState().load_state_dict({"torch_rng": torch.get_rng_state()})


def test_a_budget_is_plain_ints_and_frozen():
    b = Budget.of(TrainConfig(max_steps=100, eval_interval=20, early_stopping_patience=None),
                  None)
    assert (b.max_steps, b.eval_interval, b.warmup_steps, b.checkpoint_interval,
            b.patience) == (100, 20, 5, 20, 0)
    assert all(type(getattr(b, f.name)) is int for f in dataclasses.fields(b))
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.max_steps = 3  # type: ignore[misc]


def _eval(val_loss: float, **extra: float) -> EvalMetrics:
    return EvalMetrics(step=1, val_loss=val_loss, val_ppl=1.0, extra=dict(extra))


def test_the_best_follows_the_tasks_score_and_patience_counts_evaluations_without_one():
    s = TrainState()
    assert note_evaluation(s, _eval(2.0, accuracy=0.5), "accuracy")
    assert not note_evaluation(s, _eval(1.5, accuracy=0.4), "accuracy")  # lower loss, worse
    assert (s.best_score, s.best_val_loss, s.evals_since_best) == (-0.5, 1.5, 1)
    assert early_stop_note(s, 2) is None and early_stop_note(s, 0) is None
    assert not note_evaluation(s, _eval(1.4, accuracy=0.5), "accuracy")  # equal: no new best
    assert early_stop_note(s, 2) == "early stopping: no improvement in 2 evaluations"
    assert note_evaluation(s, _eval(3.0), None) is False  # the loss decides without a metric
