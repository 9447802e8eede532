"""The comparison's progress reports and verdict, from plain events and results (no training)."""

from __future__ import annotations

from pathlib import Path

from lmstudio_app.core.training.compare import (
    NOT_STARTED,
    CompareProgress,
    CompareSink,
    InitResult,
    verdict,
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
