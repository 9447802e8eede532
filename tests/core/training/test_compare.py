"""The comparison's progress reports and verdict, from plain events and results (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.core.training.compare import (
    NOT_STARTED,
    SMALL_SET_ROWS,
    CompareProgress,
    CompareSink,
    InitResult,
    default_seeds,
    seed_list,
    verdict,
    verdict_of,
)
from lmstudio_app.core.training.sinks import StepMetrics


def _step(step: int, max_steps: int) -> StepMetrics:
    return StepMetrics(step, 2.0, 1e-3, 1.0, 100.0, 0.1 * step, max_steps)


def test_compare_sink_reports_start_throttled_steps_last_step_and_end():
    got: list[CompareProgress] = []
    sink = CompareSink("scratch", got.append, max_rate_hz=1e-6)  # one step report at most
    sink.started({"max_steps": 50, "start_step": 0})
    for step in range(1, 51):
        sink.step(_step(step, 50))
    sink.finished(50, "completed")
    steps = [p.step for p in got]
    # The start, the first step (nothing reported before it), the last step, the end.
    assert steps == [0, 1, 50, 50]
    assert {(p.init, p.max_steps, p.side) for p in got} == {("scratch", 50, 2)}
    assert CompareProgress("pretrained", 3, 10).side == 1


def test_verdict_needs_both_scores_and_names_the_metric():
    report = {"accuracy": 0.75, "macro_f1": 0.5, "loss": 0.7}
    pre = InitResult("pretrained", Path("a"), "completed", 10, dict(report))
    scr = InitResult("scratch", Path("b"), "completed", 10, {**report, "accuracy": 0.5})
    said = verdict(pre, scr)
    assert said.complete and said.metric == "accuracy" and said.difference == 0.25
    assert said.text.startswith("Pretraining helps here: accuracy 0.750 versus 0.500")
    stopped = verdict(pre, InitResult("scratch", Path("b"), NOT_STARTED, 0))
    assert not stopped.complete and stopped.difference is None
    assert "stopped" in stopped.text and "scratch did not start" in stopped.text


def _pair(seed: int, pre: float, scr: float, reason: str = "completed") -> tuple:
    return (InitResult("pretrained", Path(f"p{seed}"), "completed", 10, {"accuracy": pre}),
            InitResult("scratch", Path(f"s{seed}"), reason, 10, {"accuracy": scr}))


def test_verdict_over_seeds_pairs_the_gain_and_reads_its_spread():
    # Gains +0.06, +0.04, +0.05: mean +0.05, sd 0.01, all three seeds better.
    said = verdict_of([_pair(1, 0.68, 0.62), _pair(2, 0.66, 0.62), _pair(3, 0.67, 0.62)])
    assert said.complete and said.seeds == 3 and said.better == 3
    assert said.difference == pytest.approx(0.05) and said.difference_sd == pytest.approx(0.01)
    assert said.pretrained == pytest.approx(0.67) and said.scratch_sd == 0.0
    assert said.text.startswith("Pretraining helps here: accuracy 0.670 ± 0.010 versus "
                                "0.620 ± 0.000 from scratch, +5.0 ± 1.0 points over 3 seeds "
                                "(3 of 3 better)")
    # Gains +0.06, -0.03, +0.03: mean +0.02 is under twice its standard error.
    unclear = verdict_of([_pair(1, 0.68, 0.62), _pair(2, 0.60, 0.63), _pair(3, 0.66, 0.63)])
    assert unclear.text.startswith("No clear difference:") and unclear.better == 2
    worse = verdict_of([_pair(1, 0.50, 0.60), _pair(2, 0.51, 0.60), _pair(3, 0.49, 0.60)])
    assert worse.text.startswith("Pretraining does not help here:")


def test_verdict_over_seeds_leaves_out_and_names_unfinished_seeds():
    said = verdict_of([_pair(1, 0.68, 0.62), _pair(2, 0.66, 0.62),
                       _pair(3, 0.0, 0.0, reason=NOT_STARTED)])
    assert not said.complete and said.seeds == 2
    assert "(1 of 3 seeds did not finish)" in said.text
    none = verdict_of([_pair(1, 0.6, 0.0, reason="stopped"), _pair(2, 0.6, 0.0, NOT_STARTED)])
    assert none.difference is None and not none.complete


def test_small_sets_average_over_three_seeds():
    assert default_seeds(1802) == 3 and default_seeds(SMALL_SET_ROWS) == 1
    assert seed_list(1337, 3) == [1337, 1338, 1339]
