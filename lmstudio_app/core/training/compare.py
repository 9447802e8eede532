"""Does pretraining help? The same fine-tuning from a pretrained run and from scratch, and the
verdict both faces show.

Both sides get the same shape, tokenizer, data split, seed and step budget; only the initial
weights differ (the scratch twin is `objectives.finetune_setup.scratch_twin`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runs
from ..config import RunConfig
from ..objectives.finetune_setup import scratch_twin
from .control import RunControl
from .sinks import MetricsSink
from .trainer import Trainer

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
