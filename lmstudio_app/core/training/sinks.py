"""Metrics sinks: the only way the engine talks out.

The trainer calls a `MetricsSink`; the console, the metrics file, the window (through a Qt sink
that lives in `gui/`) and tests are all sinks. Events carry plain numbers and strings, never
tensors, so a sink can hand them to another thread.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..util.disk import storage


@dataclass
class StepMetrics:
    step: int
    loss: float
    lr: float
    grad_norm: float
    tokens_per_s: float
    elapsed_s: float  # seconds since this process began training (a resume starts at 0)
    max_steps: int
    tokens: int = 0  # tokens trained on since the run began (over resumes)
    rss_bytes: int | None = None  # process resident memory (core/util/resources.py)
    gpu_memory_bytes: int | None = None  # memory used on the training GPU
    gpu_utilization: float | None = None  # percent
    mfu: float | None = None  # model FLOPs utilisation, 0-1: CUDA devices of known peak only
    memory_allocated: int | None = None  # CUDA bytes (torch.cuda's names); None off CUDA
    memory_reserved: int | None = None
    max_memory_allocated: int | None = None


@dataclass
class EvalMetrics:
    step: int
    val_loss: float
    val_ppl: float
    bits_per_char: float | None = None
    val_bpb: float | None = None  # bits per byte of the validation text (comparable across
    # tokenizers; GPT runs)
    train_loss: float | None = None
    extra: dict[str, float] = field(default_factory=dict)  # task metrics (accuracy, F1, ...)
    sample: str | None = None  # a short generation or fill-the-mask example at this step


class MetricsSink:
    """Receives training events. Subclasses override what they need; the defaults do nothing."""

    def started(self, info: dict[str, Any]) -> None:  # run folder, parameters, device, ...
        pass

    def step(self, m: StepMetrics) -> None:
        pass

    def progress(self, step: int, max_steps: int) -> None:
        """Every optimizer step, between log points: keep it cheap (store two ints)."""

    def phase(self, text: str) -> None:
        """What the loop is doing when it is not stepping ("loading the data", "compiling the
        model", "evaluating"): for a face that shows it; not a log line."""

    def evaluation(self, m: EvalMetrics) -> None:
        pass

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def paused(self, step: int) -> None:
        pass

    def finished(self, step: int, reason: str) -> None:  # "completed" or "stopped"
        pass

    def failed(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


class FanOutSink(MetricsSink):
    """Forwards every event to several sinks."""

    def __init__(self, *sinks: MetricsSink) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def started(self, info: dict[str, Any]) -> None:
        for s in self.sinks:
            s.started(info)

    def step(self, m: StepMetrics) -> None:
        for s in self.sinks:
            s.step(m)

    def progress(self, step: int, max_steps: int) -> None:
        for s in self.sinks:
            s.progress(step, max_steps)

    def phase(self, text: str) -> None:
        for s in self.sinks:
            s.phase(text)

    def evaluation(self, m: EvalMetrics) -> None:
        for s in self.sinks:
            s.evaluation(m)

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        for s in self.sinks:
            s.checkpoint(step, path, best)

    def message(self, text: str) -> None:
        for s in self.sinks:
            s.message(text)

    def paused(self, step: int) -> None:
        for s in self.sinks:
            s.paused(step)

    def finished(self, step: int, reason: str) -> None:
        for s in self.sinks:
            s.finished(step, reason)

    def failed(self, message: str) -> None:
        for s in self.sinks:
            s.failed(message)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class JsonLinesSink(MetricsSink):
    """metrics.jsonl in the run folder: one object per event, flushed every few seconds.

    Lines have a "kind" key: "step", "eval", "checkpoint", "finished", "failed".
    """

    def __init__(self, path: Path, flush_every_s: float = 2.0) -> None:
        self.path = Path(path)
        with storage(self.path):
            self._fh: IO[str] = open(self.path, "a", encoding="utf-8")
        self._flush_every = flush_every_s
        self._last_flush = time.monotonic()

    def _write(self, kind: str, data: dict[str, Any], force: bool = False) -> None:
        record = {"kind": kind, **_clean(data), "time": round(time.time(), 3)}
        with storage(self.path):
            self._fh.write(json.dumps(record) + "\n")
            now = time.monotonic()
            if force or now - self._last_flush >= self._flush_every:
                self._fh.flush()
                self._last_flush = now

    def sync(self) -> None:
        """Everything written so far on disk (before a checkpoint commits its step)."""
        with storage(self.path):
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def step(self, m: StepMetrics) -> None:
        # The device figures only where they exist (a CPU run's lines stay as they were).
        self._write("step", {k: v for k, v in asdict(m).items() if v is not None})

    def evaluation(self, m: EvalMetrics) -> None:
        self._write("eval", asdict(m), force=True)

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        self._write("checkpoint", {"step": step, "path": path, "best": best}, force=True)

    def finished(self, step: int, reason: str) -> None:
        self._write("finished", {"step": step, "reason": reason}, force=True)

    def failed(self, message: str) -> None:
        with contextlib.suppress(OSError):  # the failure may be the disk itself
            self._write("failed", {"message": message}, force=True)

    def close(self) -> None:
        if not self._fh.closed:
            with contextlib.suppress(OSError):
                self._fh.flush()
            with contextlib.suppress(OSError):
                self._fh.close()


class LogFileSink(MetricsSink):
    """log.txt in the run folder: what happened, for a person. A line that cannot be written
    (a full disk) is dropped: the log never stops a run."""

    def __init__(self, path: Path) -> None:
        with storage(path):
            self._fh: IO[str] = open(path, "a", encoding="utf-8")

    def _line(self, text: str) -> None:
        with contextlib.suppress(OSError):
            self._fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {text}\n")
            self._fh.flush()

    def started(self, info: dict[str, Any]) -> None:
        self._line("started: " + ", ".join(f"{k}={v}" for k, v in info.items()))

    def evaluation(self, m: EvalMetrics) -> None:
        bpc = f", {m.bits_per_char:.3f} bits/char" if m.bits_per_char is not None else ""
        bpc += f", {m.val_bpb:.3f} bits/byte" if m.val_bpb is not None else ""
        extra = "".join(f", {k} {v:.4f}" for k, v in m.extra.items())
        self._line(f"step {m.step}: val loss {m.val_loss:.4f}, ppl {m.val_ppl:.2f}{bpc}{extra}")

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        self._line(f"step {step}: saved {path}" + (" (best so far)" if best else ""))

    def message(self, text: str) -> None:
        self._line(text)

    def paused(self, step: int) -> None:
        self._line(f"step {step}: paused")

    def finished(self, step: int, reason: str) -> None:
        self._line(f"step {step}: {reason}")

    def failed(self, message: str) -> None:
        self._line(f"failed: {message}")

    def close(self) -> None:
        if not self._fh.closed:
            with contextlib.suppress(OSError):
                self._fh.close()


class RecordingSink(MetricsSink):
    """Keeps every event in lists: for tests, benchmarks and scripts."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.steps: list[StepMetrics] = []
        self.evals: list[EvalMetrics] = []
        self.checkpoints: list[tuple[int, str, bool]] = []
        self.messages: list[str] = []
        self.phases: list[str] = []
        self.progress_steps: list[int] = []
        self.finish: tuple[int, str] | None = None
        self.failure: str | None = None

    def started(self, info: dict[str, Any]) -> None:
        self.info = info

    def step(self, m: StepMetrics) -> None:
        self.steps.append(m)

    def evaluation(self, m: EvalMetrics) -> None:
        self.evals.append(m)

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        self.checkpoints.append((step, path, best))

    def message(self, text: str) -> None:
        self.messages.append(text)

    def progress(self, step: int, max_steps: int) -> None:
        self.progress_steps.append(step)

    def phase(self, text: str) -> None:
        self.phases.append(text)

    def finished(self, step: int, reason: str) -> None:
        self.finish = (step, reason)

    def failed(self, message: str) -> None:
        self.failure = message

