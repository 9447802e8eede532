"""Does pretraining help? The same fine-tuning from a pretrained run and from scratch, and the
verdict both faces show.

Both sides get the same shape, tokenizer, data split, seed and step budget; only the initial
weights differ (the scratch twin is `objectives.finetune_setup.scratch_twin`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runs
from ..config import RunConfig
from .control import RunControl
from .sinks import MetricsSink, StepMetrics

SIDES = ("pretrained", "scratch")
NOT_STARTED = "not started"  # the reason of a side that a stop kept from starting
# The figures worth a column, in the order shown; the first a report has is the verdict's.
HEADLINE_KEYS = ("accuracy", "macro_f1", "exact_match", "f1", "loss")
_VERDICT_KEYS = ("accuracy", "f1", "macro_f1", "exact_match")


@dataclass
class InitResult:
    """One side of a comparison: its run folder, how training ended and the test report."""

    init: str  # one of SIDES
    run_dir: Path
    reason: str  # completed | stopped | failed | NOT_STARTED
    step: int
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"init": self.init, "run_dir": str(self.run_dir), "reason": self.reason,
                "step": self.step, "report": self.report, "error": self.error}


@dataclass(frozen=True)
class CompareProgress:
    """Where a comparison stands: which side trains (1 of 2, 2 of 2) and its step."""

    init: str  # one of SIDES
    step: int
    max_steps: int

    @property
    def side(self) -> int:
        """1 for the side that trains first (pretrained), 2 for the other."""
        return SIDES.index(self.init) + 1


class CompareSink(MetricsSink):
    """Turns one side's training events into CompareProgress reports, for a face that shows
    the comparison's progress (the window connects `report` to a signal).

    Called in the training thread. Steps (every one, not only the logged ones) are reported at
    most `max_rate_hz` times a second (and the last step always); the start and the end at once.
    """

    def __init__(self, init: str, report: Callable[[CompareProgress], None],
                 max_rate_hz: float = 10.0) -> None:
        self.init = init
        self.report = report
        self.max_steps = 0
        self._interval = 1.0 / max_rate_hz
        self._last = float("-inf")  # the first step is always reported

    def started(self, info: dict[str, Any]) -> None:
        self.max_steps = int(info.get("max_steps", 0))
        self.report(CompareProgress(self.init, int(info.get("start_step", 0)), self.max_steps))

    def step(self, m: StepMetrics) -> None:
        self.progress(m.step, m.max_steps)

    def progress(self, step: int, max_steps: int) -> None:
        self.max_steps = max_steps
        now = time.monotonic()
        if now - self._last >= self._interval or step >= max_steps:
            self._last = now
            self.report(CompareProgress(self.init, step, max_steps))

    def finished(self, step: int, reason: str) -> None:
        self.report(CompareProgress(self.init, step, self.max_steps))


def headline(report: dict[str, Any]) -> dict[str, float]:
    """The test figures worth a column: accuracy and macro F1, or exact match and F1, and loss."""
    return {k: report[k] for k in HEADLINE_KEYS if isinstance(report.get(k), float)}


def compare_init(
    cfg_pretrained: RunConfig,
    run_dirs: tuple[Path, Path],
    sink_factory: Callable[[str], MetricsSink | None] | None = None,
    control: RunControl | None = None,
) -> tuple[InitResult, InitResult]:
    """Fine-tune twice with equal budgets, from the pretrained run and from scratch.

    `run_dirs` are the (pretrained, scratch) run folders; `sink_factory(init)` gives each run
    its MetricsSink. Returns both results, pretrained first; a failed side carries its error,
    and a side a stop kept from starting has the reason NOT_STARTED.
    """
    # Imported here: the verdict and the progress reports above serve a window that has not
    # loaded PyTorch yet.
    from ..objectives.finetune_setup import scratch_twin
    from .trainer import Trainer

    out: list[InitResult] = []
    for init, cfg, run_dir in (("pretrained", cfg_pretrained, run_dirs[0]),
                               ("scratch", scratch_twin(cfg_pretrained), run_dirs[1])):
        if control is not None and control.stop_requested:
            out.append(InitResult(init, Path(run_dir), NOT_STARTED, 0))
            continue
        sink = sink_factory(init) if sink_factory else None
        result = Trainer(cfg, Path(run_dir), sink, control).run()
        out.append(InitResult(init, Path(run_dir), result.reason, result.step,
                              runs.read_file(run_dir, runs.RESULTS), result.error))
    return out[0], out[1]


@dataclass(frozen=True)
class Verdict:
    """What a comparison says: the metric compared, both scores, their difference and a line.

    `difference` is pretrained minus scratch (score units: accuracy or F1 in [0, 1]); it is
    None unless both sides completed.
    """

    metric: str | None
    pretrained: float | None
    scratch: float | None
    difference: float | None
    complete: bool
    text: str


def verdict(pre: InitResult, scr: InitResult) -> Verdict:
    """The comparison's verdict: no verdict without both test scores."""
    a, b = headline(pre.report), headline(scr.report)
    unfinished = [f"{r.init} {r.reason} at step {r.step:,}" if r.reason != NOT_STARTED
                  else f"{r.init} did not start"
                  for r in (pre, scr) if r.reason != "completed"]
    metric = next((k for k in _VERDICT_KEYS if k in a and k in b), None)
    if unfinished:
        stopped = any(r.reason in ("stopped", NOT_STARTED) for r in (pre, scr))
        text = (f"Comparison {'stopped' if stopped else 'incomplete'}: "
                + "; ".join(unfinished) + ". No verdict without both test scores.")
        return Verdict(metric, a.get(metric or ""), b.get(metric or ""), None, False, text)
    if metric is None:
        return Verdict(None, None, None, None, True, "Both runs ended; see the table.")
    diff = a[metric] - b[metric]
    helps = "helps" if diff > 0 else "does not help"
    text = (f"Pretraining {helps} here: {metric} {a[metric]:.3f} versus {b[metric]:.3f} from "
            f"scratch ({diff * 100:+.1f} points).")
    return Verdict(metric, a[metric], b[metric], diff, True, text)
