"""A fine-tune's budget in epochs, and early stopping, on tiny real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig, TrainConfig, parse_overrides
from lmstudio_app.core.data.labeled import sample_sentiment_path
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.presets import FINETUNE_TRAIN
from lmstudio_app.core.training.budget import (
    MIN_DERIVED_STEPS,
    resolve_budget,
    steps_per_epoch,
)
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 48}


def test_steps_per_epoch_counts_partial_batches_and_accumulation():
    assert steps_per_epoch(1802, 16) == 113
    assert steps_per_epoch(1800, 16, grad_accum=2) == 57
    assert steps_per_epoch(3, 16) == 1


def test_budget_in_epochs_is_derived_from_the_training_rows():
    t = TrainConfig(**{**FINETUNE_TRAIN})
    big = resolve_budget(t, 20_000)  # 1,250 steps an epoch
    assert big.max_steps == 3 * 1250 and big.eval_interval == 625
    assert big.warmup_steps_value == round(0.06 * 3750)
    assert t.max_steps is None and t.eval_interval is None  # the user's config is untouched
    tweets = resolve_budget(t, 1802)  # the tweet protocol: 113 steps an epoch
    assert tweets.max_steps == 339 and tweets.eval_interval == 56
    small = resolve_budget(t, 416)  # 3 epochs are 78 steps: the floor applies
    assert small.max_steps == MIN_DERIVED_STEPS and small.eval_interval == 13


def test_a_users_own_steps_and_interval_win_over_epochs():
    t = TrainConfig(**{**FINETUNE_TRAIN, "max_steps": 40})
    got = resolve_budget(t, 20_000)
    assert got.max_steps == 40 and got.eval_interval == 40  # half an epoch, capped at the end
    t = TrainConfig(**{**FINETUNE_TRAIN, "num_train_epochs": 10.0, "eval_interval": 7})
    got = resolve_budget(t, 20_000)
    assert got.max_steps == 12_500 and got.eval_interval == 7


def test_unset_budget_without_rows_or_epochs_is_a_user_error():
    with pytest.raises(UserError) as err:
        resolve_budget(TrainConfig(max_steps=None, num_train_epochs=2.0), None)
    assert err.value.field == "max_steps"
    with pytest.raises(UserError) as err:
        TrainConfig(max_steps=None).validate()
    assert err.value.field == "max_steps"
    with pytest.raises(UserError) as err:
        TrainConfig(early_stopping_patience=-1).validate()
    assert err.value.field == "early_stopping_patience"
    assert parse_overrides(["max_steps=auto", "early_stopping_patience=none"]) == {
        "max_steps": None, "early_stopping_patience": None}


def _scratch(tmp_path: Path, prepared_data: Path, train: dict) -> tuple:
    ft = FinetuneConfig(task="classify", train_file=str(sample_sentiment_path()),
                        scratch=True, tokenizer_from=str(prepared_data))
    over = {**SMALL, "log_interval": 5, "eval_batches": 2, **train}
    cfg = make_finetune_config(ft, overrides=over)
    sink = RecordingSink()
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "completed", sink.failure
    return result, sink, cfg


def test_early_stopping_ends_the_run_and_scores_the_best_checkpoint(tmp_path, prepared_data):
    # A rate too small to change any prediction: no evaluation after the first is better.
    result, sink, _ = _scratch(tmp_path, prepared_data, {
        "max_steps": 40, "eval_interval": 2, "learning_rate": 1e-9,
        "early_stopping_patience": 2})
    assert result.early_stopped and result.step == 6  # best at 2, no better at 4 and 6
    assert "early stopping: no improvement in 2 evaluations" in "\n".join(sink.messages)
    status = runs.read_status(result.run_dir)
    assert status["state"] == "completed" and status["step"] == 6
    assert status["stop_reason"] == "early stopping: no improvement in 2 evaluations"
    assert "accuracy" in json.loads((result.run_dir / runs.RESULTS).read_text())
    assert "early stopping" in (result.run_dir / runs.LOG).read_text()


def test_without_patience_the_run_uses_its_whole_budget(tmp_path, prepared_data):
    result, sink, _ = _scratch(tmp_path, prepared_data, {
        "max_steps": 10, "eval_interval": 2, "learning_rate": 1e-9})
    assert not result.early_stopped and result.step == 10
    assert "stop_reason" not in runs.read_status(result.run_dir)
    assert not any("early stopping" in m for m in sink.messages)


@pytest.mark.slow
def test_the_default_budget_runs_its_derived_steps(tmp_path, prepared_data):
    result, sink, cfg = _scratch(tmp_path, prepared_data, {})
    assert cfg.train.max_steps is None  # derived, not stored as if chosen
    rows = json.loads((result.run_dir / runs.DATA_REPORT).read_text())["training_rows"]
    expected = resolve_budget(cfg.train, rows)
    assert result.step == expected.max_steps == runs.read_status(result.run_dir)["max_steps"]
    assert [e.step for e in sink.evals][:2] == [expected.eval_interval,
                                                      2 * expected.eval_interval]
    assert runs.read_config(result.run_dir).train.max_steps is None
    assert runs.summarize(result.run_dir).max_steps == expected.max_steps
    assert any(m.startswith("budget: ") for m in sink.messages)
