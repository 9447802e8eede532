"""Does pretraining help? The same fine-tuning from a pretrained run and from scratch, and the
verdict both faces show.

Both sides get the same shape, tokenizer, data split, seed and step budget; only the initial
weights differ (the scratch twin is `objectives.finetune_setup.scratch_twin`). On a small labeled
set one seed is not enough to tell (on 1,800 tweets single seeds gave +3.8 to +7.1 points):
the comparison is repeated over seeds (`compare_seeds`, the same split every time) and the
verdict reads the gain paired by seed, with its spread.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Sequence
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
HEADLINE_KEYS = ("accuracy", "macro_f1", "exact_match", "f1", "rewards/accuracies",
                 "rewards/margins", "loss")
_VERDICT_KEYS = ("accuracy", "f1", "macro_f1", "exact_match")
# Under this many training rows a comparison averages over SMALL_SET_SEEDS seeds: the spread
# between seeds is then as large as the gain (bench/results/finetune_defaults.md).
SMALL_SET_ROWS = 10_000
SMALL_SET_SEEDS = 3


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
    """Where a comparison stands: which seed (1 of 3, ...), which side trains (1 of 2, 2 of 2)
    and its step."""

    init: str  # one of SIDES
    step: int
    max_steps: int
    seed_index: int = 1  # the seed's place in the comparison, from 1
    seeds: int = 1  # how many seeds the comparison runs

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
                 max_rate_hz: float = 10.0, seed_index: int = 1, seeds: int = 1) -> None:
        self.init = init
        self._report = report
        self._seed = (seed_index, seeds)
        self.max_steps = 0
        self._interval = 1.0 / max_rate_hz
        self._last = float("-inf")  # the first step is always reported

    def report(self, p: CompareProgress) -> None:
        self._report(CompareProgress(p.init, p.step, p.max_steps, *self._seed))

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


def default_seeds(training_rows: int) -> int:
    """How many seeds a comparison runs when the user does not say: SMALL_SET_SEEDS under
    SMALL_SET_ROWS training rows, else 1."""
    return SMALL_SET_SEEDS if training_rows < SMALL_SET_ROWS else 1


def seed_list(first: int, n: int) -> list[int]:
    """The seeds of an n-seed comparison: first, first + 1, ..."""
    return [first + i for i in range(n)]


def seeds_for(cfg: RunConfig, n: int | None = None) -> list[int]:
    """The seeds a comparison of `cfg` runs: `n` of them, else `default_seeds` of its training
    split (the labeled files are read: UserError when they cannot be)."""
    if n is None:
        from ..objectives.finetune_setup import load_task_data

        assert cfg.finetune is not None
        split, _ = load_task_data(cfg.finetune)
        n = default_seeds(len(split.train))
    return seed_list(cfg.train.seed, n)


def with_seed(cfg: RunConfig, seed: int) -> RunConfig:
    """A copy of `cfg` trained with `seed` (the data split, `split_seed`, stays the same)."""
    out = copy.deepcopy(cfg)
    out.train.seed = seed
    return out


def compare_seeds(
    cfg_pretrained: RunConfig,
    seeds: Sequence[int],
    dirs_for: Callable[[int], tuple[Path, Path]],
    sink_factory: Callable[[str, int], MetricsSink | None] | None = None,
    control: RunControl | None = None,
) -> list[tuple[InitResult, InitResult]]:
    """`compare_init` once per seed: the (pretrained, scratch) pair of each, in seed order.

    `dirs_for(seed)` gives a seed's two run folders; `sink_factory(init, seed)` each run's sink.
    After a stop the seeds left are NOT_STARTED on both sides.
    """
    pairs = []
    for seed in seeds:
        def sink(init: str, seed: int = seed) -> MetricsSink | None:
            return sink_factory(init, seed) if sink_factory else None

        pairs.append(compare_init(with_seed(cfg_pretrained, seed), dirs_for(seed), sink,
                                  control))
    return pairs


@dataclass(frozen=True)
class Verdict:
    """What a comparison says: the metric compared, both scores, their difference and a line.

    Over several seeds the scores are means, `*_sd` their sample standard deviations, and
    `difference` the mean of the gains paired by seed (pretrained minus scratch; score units:
    accuracy or F1 in [0, 1]); `better` counts the seeds where pretrained scored higher.
    `difference` is None unless at least one seed's sides both completed.
    """

    metric: str | None
    pretrained: float | None
    scratch: float | None
    difference: float | None
    complete: bool
    text: str
    seeds: int = 1
    pretrained_sd: float | None = None
    scratch_sd: float | None = None
    difference_sd: float | None = None
    better: int = 0


def verdict(pre: InitResult, scr: InitResult) -> Verdict:
    """The verdict of one pair: no verdict without both test scores."""
    return verdict_of([(pre, scr)])


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def completed_pairs(pairs: Sequence[tuple[InitResult, InitResult]]
                    ) -> list[tuple[InitResult, InitResult]]:
    return [(p, s) for p, s in pairs if p.reason == s.reason == "completed"]


def summarize_pairs(pairs: Sequence[tuple[InitResult, InitResult]]
                    ) -> dict[str, dict[str, float]]:
    """Per headline figure of the completed seeds: each side's mean and sample standard
    deviation, and the gain paired by seed ("difference", pretrained minus scratch).
    {"accuracy": {"pretrained", "pretrained_sd", "scratch", "scratch_sd", "difference",
    "difference_sd"}, ...}; sd 0 for one seed."""
    done = completed_pairs(pairs)
    out: dict[str, dict[str, float]] = {}
    for key in HEADLINE_KEYS:
        if not done or not all(key in headline(r.report) for pair in done for r in pair):
            continue
        a = [headline(p.report)[key] for p, _ in done]
        b = [headline(s.report)[key] for _, s in done]
        gains = [x - y for x, y in zip(a, b, strict=True)]
        out[key] = {"pretrained": statistics.fmean(a), "pretrained_sd": _sd(a),
                    "scratch": statistics.fmean(b), "scratch_sd": _sd(b),
                    "difference": statistics.fmean(gains), "difference_sd": _sd(gains)}
    return out


def baselines_of(pairs: Sequence[tuple[InitResult, InitResult]]) -> dict[str, Any]:
    """The baselines both sides' reports share (one split for every seed and side)."""
    return next((r.report["baselines"] for pair in pairs for r in pair
                 if isinstance(r.report.get("baselines"), dict)), {})


def verdict_of(pairs: Sequence[tuple[InitResult, InitResult]]) -> Verdict:
    """The verdict over seeds (one pair per seed): the mean gain paired by seed, said to help
    only when it is more than twice its standard error (sd / sqrt(n)) above 0. Seeds that did
    not finish are left out and named; with none finished there is no verdict."""
    done = completed_pairs(pairs)
    if len(pairs) == 1 or not done:
        return _pair_verdict(*pairs[0])
    summary = summarize_pairs(done)
    metric = next((k for k in _VERDICT_KEYS if k in summary), None)
    missing = len(pairs) - len(done)
    note = f" ({missing} of {len(pairs)} seeds did not finish)" if missing else ""
    if metric is None:
        return Verdict(None, None, None, None, not missing, "Both runs ended; see the table."
                       + note, len(done))
    m, n = summary[metric], len(done)
    mean, sd = m["difference"], m["difference_sd"]
    margin = 2 * sd / math.sqrt(n)
    better = sum(headline(p.report)[metric] > headline(s.report)[metric] for p, s in done)
    scores = (f"{metric} {m['pretrained']:.3f} ± {m['pretrained_sd']:.3f} versus "
              f"{m['scratch']:.3f} ± {m['scratch_sd']:.3f} from scratch, "
              f"{mean * 100:+.1f} ± {sd * 100:.1f} points over {n} seeds "
              f"({better} of {n} better)")
    if mean - margin > 0:
        text = f"Pretraining helps here: {scores}{note}."
    elif mean + margin < 0:
        text = f"Pretraining does not help here: {scores}{note}."
    else:
        text = (f"No clear difference: {scores}; the seeds disagree by as much as the gain"
                f"{note}.")
    return Verdict(metric, m["pretrained"], m["scratch"], mean, not missing, text, n,
                   m["pretrained_sd"], m["scratch_sd"], sd, better)


def _pair_verdict(pre: InitResult, scr: InitResult) -> Verdict:
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
    return Verdict(metric, a[metric], b[metric], diff, True, text, better=int(diff > 0))
