"""The learning-rate range test on a tiny real model: Lightning's schedule, smoothing and
suggestion, and a run folder left byte for byte as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.training.lr_find import _Smoother, lr_find, suggest, sweep_rate
from lmstudio_app.core.training.trainer import Trainer
from tests.core.training.test_trainer import tiny_cfg


def _folder_bytes(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_sweep_is_lightnings_exponential_schedule():
    rates = [sweep_rate(i, 1e-8, 1.0, 100) for i in range(100)]
    assert rates[0] == 1e-8
    np.testing.assert_allclose(np.diff(np.log(rates)), math.log(1e8) / 100)
    assert rates[-1] == pytest.approx(10 ** (-8 + 8 * 99 / 100))


def test_suggestion_is_the_steepest_descent_after_the_skipped_points():
    lrs = [10 ** (-6 + i / 10) for i in range(40)]
    x = np.log10(lrs)
    losses = list(5 - 2 * np.tanh(3 * (x + 3.5)))  # steepest at lr = 10 ** -3.5
    i = suggest(lrs, losses)
    assert i == int(np.argmin(np.abs(x + 3.5)))
    losses[0] = -100.0  # a point in the skipped beginning never wins
    losses[-1] = float("nan")
    assert suggest(lrs, losses) == i
    assert suggest(lrs[:12], losses[:12]) is None  # one point left after skipping


def test_smoother_is_debiased_and_stops_at_four_times_the_best():
    s = _Smoother(0.98, 4.0)
    assert s.add(0, 3.0) == (pytest.approx(3.0), False)  # debiased: the first value itself
    assert s.add(1, 3.0)[0] == pytest.approx(3.0)
    assert not s.add(2, 3.0)[1]
    assert s.add(3, 1e6)[1]


def test_sweep_on_a_new_configuration(prepared_data):
    cfg = tiny_cfg(prepared_data, max_steps=100)
    seen = []
    result = lr_find(cfg, num_training=40, min_lr=1e-5, max_lr=10.0,
                     on_step=lambda i, lr, loss: seen.append((i, lr, loss)))
    n = len(result.lr)
    assert 12 < n <= 40 and [s[0] for s in seen] == list(range(n))
    np.testing.assert_allclose(result.lr, [sweep_rate(i, 1e-5, 10.0, 40) for i in range(n)])
    assert all(math.isfinite(v) for v in result.loss[:-1])
    assert result.suggestion is not None and 1e-5 < result.suggestion < 10.0
    assert result.suggestion == result.lr[suggest(result.lr, result.loss)]
    if result.stopped_early:  # it stopped where the smoothed loss passed 4x the best
        assert result.loss[-1] > 4 * min(result.loss[2:-1])


def test_run_folder_untouched_and_its_weights_used(prepared_data, tmp_path):
    cfg = tiny_cfg(prepared_data, max_steps=30, eval_interval=30)
    run = tmp_path / "run"
    assert Trainer(cfg, run).run().reason == "completed"
    before = _folder_bytes(run)
    assert {"model.safetensors", "state.pt"} <= {str(p) for p in before}
    trained = lr_find(runs.read_config(run), run, num_training=12)
    assert _folder_bytes(run) == before
    fresh = lr_find(runs.read_config(run), None, num_training=12)
    assert trained.raw_loss[0] < fresh.raw_loss[0] - 0.2  # the run's weights, not new ones
    with pytest.raises(UserError) as bad:
        lr_find(cfg, min_lr=1.0, max_lr=0.1)
    assert bad.value.field == "find_min_lr"


def test_a_fine_tuned_run_is_swept_on_its_own_task_and_left_untouched(prepared_data, tmp_path):
    from lmstudio_app.core.config import FinetuneConfig
    from lmstudio_app.core.data import labeled
    from lmstudio_app.core.objectives.finetune_setup import make_finetune_config

    base = tmp_path / "gpt"
    assert Trainer(tiny_cfg(prepared_data, max_steps=4, eval_interval=4), base).run().reason \
        == "completed"
    lines = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()
    sent = tmp_path / "s.csv"
    sent.write_text("\n".join([lines[0], *lines[1:31], *lines[-30:]]) + "\n", encoding="utf-8")
    cfg = make_finetune_config(FinetuneConfig(task="classify", train_file=str(sent),
                                              base_run=str(base)),
                               overrides={"max_steps": 4, "eval_interval": 4, "batch_size": 4})
    run = tmp_path / "cls"
    assert Trainer(cfg, run).run().reason == "completed"
    before = _folder_bytes(run)
    found = lr_find(runs.read_config(run), run, num_training=14)
    assert _folder_bytes(run) == before
    assert len(found.lr) >= 12 and math.log(3) - 0.7 < found.raw_loss[0] < math.log(3) + 0.7
