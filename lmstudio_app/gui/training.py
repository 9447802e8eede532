"""TrainingSession: one training run at a time, held by a Runner, heard through signals.

A run trains in a Runner: a worker thread (ThreadRunner, here) or a command of several
processes (process_session.ProcessRunner). Either talks out only through a `QtSink`, which turns
the Trainer's calls (made in the worker thread, or by the runner that follows the run folder)
into signals received in the GUI thread: step metrics are coalesced and sent at most
`max_rate_hz` times a second as a small numpy array of runs.metrics.STEP_COLUMNS (numbers only);
evaluations, checkpoints, pauses, completion and failures are sent at once, after any held
steps. The window steers the loop only through flags (a RunControl's, or the run folder's
control file), never through queued slots on the busy worker.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.config import RunConfig
from ..core.errors import UserError
from ..core.runs.metrics import STEP_COLUMNS, step_row
from ..core.training.control import RunControl
from ..core.training.sinks import EvalMetrics, MetricsSink, StepMetrics
from .jobs import BackgroundJob, wait_for

__all__ = ["STEP_COLUMNS", "QtSink", "Runner", "ThreadRunner", "TrainingSession", "row_values",
           "resources_text"]

log = logging.getLogger(__name__)

def row_values(row: np.ndarray) -> dict[str, float]:
    """A logged row (STEP_COLUMNS) by column name."""
    return dict(zip(STEP_COLUMNS, (float(v) for v in row), strict=False))


def resources_text(row: np.ndarray) -> str:
    """What a logged row (STEP_COLUMNS) says the run takes: "RAM 1.2 GiB · GPU 3.4 GiB, 87%"
    ("" when it says nothing)."""
    from ..core.util.units import human_bytes

    values = row_values(row)
    rss, gpu, busy = (values.get(k, math.nan)
                      for k in ("rss_bytes", "gpu_memory_bytes", "gpu_utilization"))
    parts = []
    if math.isfinite(rss):
        parts.append(f"RAM {human_bytes(rss)}")
    if math.isfinite(gpu):
        parts.append(f"GPU {human_bytes(gpu)}" + (f", {busy:.0f}%" if math.isfinite(busy) else ""))
    return " · ".join(parts)


class QtSink(QObject, MetricsSink):
    """A MetricsSink whose events become signals; created in the GUI thread, called by the worker.

    Signals emitted from the worker thread reach receivers living in the GUI thread through
    queued connections, so the receivers' slots run in the GUI thread.
    """

    sig_started = Signal(object)  # dict
    sig_steps = Signal(object, int)  # ndarray (n, len(STEP_COLUMNS)), max_steps
    sig_evaluation = Signal(object)  # EvalMetrics (floats and a string)
    sig_checkpoint = Signal(int, str, bool)
    sig_message = Signal(str)
    sig_paused = Signal(int)
    sig_finished = Signal(int, str)
    sig_failed = Signal(str)
    sig_phase = Signal(str)

    def __init__(self, max_rate_hz: float = 4.0, parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        self._interval = 1.0 / max_rate_hz
        self._lock = threading.Lock()
        self._pending: list[tuple[float, ...]] = []
        self._max_steps = 0
        self._last_emit = 0.0
        self.emitted_batches = 0  # how many sig_steps were sent (for tests and benchmarks)
        self.live_step = 0  # the last step done, set every step; the GUI thread polls it

    # -- the worker thread calls these --------------------------------------------------------

    def started(self, info: dict[str, Any]) -> None:
        self.sig_started.emit(dict(info))

    def step(self, m: StepMetrics) -> None:
        self.step_record(vars(m))

    def step_record(self, record: dict[str, Any]) -> None:
        """A step record (StepMetrics' fields, or a "step" line of metrics.jsonl), held and sent
        with the others at most `max_rate_hz` times a second (runs.metrics.step_row's row)."""
        with self._lock:
            self._pending.append(step_row(record))
            self._max_steps = int(record.get("max_steps") or self._max_steps)
        now = time.monotonic()
        if now - self._last_emit >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Send the held step metrics now (before any other event, so the order is kept)."""
        with self._lock:
            rows, self._pending = self._pending, []
            max_steps = self._max_steps
        if rows:
            self._last_emit = time.monotonic()
            self.emitted_batches += 1
            self.sig_steps.emit(np.asarray(rows, dtype=np.float64), max_steps)

    def progress(self, step: int, max_steps: int) -> None:
        self.live_step = step  # one int: no signal per step, no lock (an int store is atomic)

    def phase(self, text: str) -> None:
        self.sig_phase.emit(text)

    def evaluation(self, m: EvalMetrics) -> None:
        self.flush()
        self.sig_evaluation.emit(m)

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        self.flush()
        self.sig_checkpoint.emit(step, path, best)

    def message(self, text: str) -> None:
        self.sig_message.emit(text)

    def paused(self, step: int) -> None:
        self.flush()
        self.sig_paused.emit(step)

    def finished(self, step: int, reason: str) -> None:
        self.flush()
        self.sig_finished.emit(step, reason)

    def failed(self, message: str) -> None:
        self.flush()
        self.sig_failed.emit(message)


class Runner(QObject):
    """Where a run trains, behind one small interface: a worker thread (ThreadRunner) or a
    command of several processes (process_session.ProcessRunner).

    A runner reports everything through its QtSink (`sink`): started, steps, evaluations,
    checkpoints, pauses, then finished or failed; `sig_ended` comes last, once it has ended.
    """

    sig_ended = Signal()

    def __init__(self, sink: QtSink, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sink = sink

    def start(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop at the next step boundary (the run saves)."""
        raise NotImplementedError

    def is_running(self) -> bool:
        raise NotImplementedError

    def process_id(self) -> int | None:
        """The launched command's process id while it runs; None in-process."""
        return None


# The sink's signals a session passes on as they come; it handles the others first.
RELAYED = ("sig_evaluation", "sig_checkpoint", "sig_message", "sig_phase")


def relay(source: QObject, target: QObject, names: tuple[str, ...]) -> None:
    """Connect each signal of `source` named in `names` to `target`'s signal of the same name
    (queued across threads, as any connection between QObjects is)."""
    for name in names:
        getattr(source, name).connect(getattr(target, name))


def _refuse(exc: UserError) -> None:
    raise exc


class ThreadRunner(Runner):
    """The Trainer in a worker thread (a BackgroundJob), steered through a RunControl."""

    def __init__(self, cfg: RunConfig, run_dir: Path, resume: bool, sink: QtSink,
                 parent: QObject | None = None) -> None:
        super().__init__(sink, parent)
        from ..core.training.trainer import Trainer

        self.control = RunControl()
        try:  # checks the settings (at once) and makes its paths absolute
            call: Callable[[], Any] = Trainer(cfg, run_dir, sink, self.control, resume).run
        except UserError as exc:  # said through the job, as a failure in the thread would be
            call = functools.partial(_refuse, exc)
        # Trainer.run builds the model, picks the device and opens the store in the thread. It
        # uses the cores the machine leaves it (core/util/threads.py: the thread governor) and the
        # window redraws a few times a second, so the window keeps its latency.
        self._job = BackgroundJob(None, self, call=call)
        self._job.sig_error.connect(sink.failed)  # a bug out of Trainer.run: one line
        self._job.sig_finished.connect(self.sig_ended)

    def start(self) -> None:
        self._job.start()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        self.control.stop()

    def is_running(self) -> bool:
        return self._job.is_running()


class TrainingSession(QObject):
    """Start, pause, resume and stop one training run at a time, in a worker thread.

    States: idle -> running <-> paused -> stopping -> idle. Signals arrive in the GUI thread.
    `sig_done(run_dir, reason)` is emitted once the run has ended (reason: completed, stopped
    or failed), after `sig_failed` when the run failed. The run itself is a Runner's
    (`_make_runner`); the session hears it through the runner's QtSink.
    """

    sig_state = Signal(str)  # idle | starting | running | pausing | paused | stopping
    sig_started = Signal(object)  # the trainer's info dict (run_dir, parameters, device, ...)
    sig_steps = Signal(object, int)
    sig_evaluation = Signal(object)
    sig_checkpoint = Signal(int, str, bool)
    sig_message = Signal(str)
    sig_paused = Signal(int)
    sig_failed = Signal(str)
    sig_phase = Signal(str)  # what the loop does between steps: loading, compiling, evaluating
    sig_done = Signal(object, str)

    def __init__(self, parent: QObject | None = None, max_rate_hz: float = 4.0) -> None:
        super().__init__(parent)
        self._max_rate_hz = max_rate_hz
        self._runner: Runner | None = None
        self.run_dir: Path | None = None
        self.config: RunConfig | None = None
        self.state = "idle"
        self.reason = ""
        self.step = 0

    # -- commands ------------------------------------------------------------------------------

    def start(self, cfg: RunConfig, run_dir: Path, resume: bool = False, nproc: int = 1) -> None:
        """Train `cfg` into `run_dir` (`nproc` processes where the session can launch them)."""
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self.config, self.run_dir = cfg, Path(run_dir)
        self.reason, self.step = "", 0
        sink = QtSink(self._max_rate_hz, self)
        relay(sink, self, RELAYED)
        sink.sig_started.connect(self._on_started)
        sink.sig_steps.connect(self._on_steps)
        sink.sig_paused.connect(self._on_paused)
        sink.sig_finished.connect(self._on_finished)
        sink.sig_failed.connect(self._on_failed)
        runner = self._runner = self._make_runner(cfg, self.run_dir, resume, nproc, sink)
        runner.sig_ended.connect(self._on_ended)
        self._set_state("starting")
        log.info("%s run %s (%s, preset %s, %s steps, device %s%s)",
                 "resuming" if resume else "starting", run_dir, cfg.objective, cfg.preset,
                 cfg.train.max_steps or "derived", cfg.train.device,
                 f", {nproc} processes" if nproc > 1 else "")
        runner.start()

    def _make_runner(self, cfg: RunConfig, run_dir: Path, resume: bool, nproc: int,
                     sink: QtSink) -> Runner:
        return ThreadRunner(cfg, run_dir, resume, sink, self)

    def pause(self) -> None:
        if self._runner is not None and self.state in ("starting", "running"):
            log.info("run %s: pausing at step %d", self.run_dir, self.live_step())
            self._runner.pause()
            self._set_state("pausing")

    def resume(self) -> None:
        if self._runner is not None and self.state in ("pausing", "paused"):
            self._runner.resume()
            self._set_state("running")

    def stop(self) -> None:
        """Ask the run to stop at the next step boundary; it saves, then it ends."""
        if self._runner is not None and self.is_running() and self.state != "stopping":
            log.info("run %s: stop asked at step %d", self.run_dir, self.live_step())
            self._runner.stop()
            self._set_state("stopping")

    def is_running(self) -> bool:
        return self._runner is not None and self._runner.is_running()

    @property
    def control(self) -> RunControl | None:
        """The in-process run's RunControl (None for a run in other processes, or idle)."""
        return self._runner.control if isinstance(self._runner, ThreadRunner) else None

    @property
    def sink(self) -> QtSink | None:
        return self._runner.sink if self._runner is not None else None

    def process_id(self) -> int | None:
        """The launched command's process id while it runs (None in-process or idle)."""
        return self._runner.process_id() if self._runner is not None else None

    def live_step(self) -> int:
        """The last step the loop has done (between log points too): poll it, a few times a
        second, while a run goes."""
        return max(self.step, self.sink.live_step if self.sink is not None else 0)

    def wait_finished(self, timeout_ms: int = 60000) -> bool:
        """Wait in a local event loop until the run has ended (never QThread.wait)."""
        return wait_for(self.sig_state, lambda: self._runner is None, timeout_ms)

    # -- slots (GUI thread) --------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.sig_state.emit(state)

    @Slot(object)
    def _on_started(self, info: dict[str, Any]) -> None:
        self.step = int(info.get("start_step", 0))
        if self.state == "starting":
            self._set_state("running")
        self.sig_started.emit(info)

    @Slot(object, int)
    def _on_steps(self, rows: np.ndarray, max_steps: int) -> None:
        self.step = int(rows[-1, 0])
        self.sig_steps.emit(rows, max_steps)

    @Slot(int)
    def _on_paused(self, step: int) -> None:
        self.step = step
        if self.state == "pausing":
            self._set_state("paused")
        self.sig_paused.emit(step)

    @Slot(int, str)
    def _on_finished(self, step: int, reason: str) -> None:
        self.step, self.reason = max(self.step, step), reason

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.reason = "failed"
        log.warning("training failed: %s", message)
        self.sig_failed.emit(message)

    @Slot()
    def _on_ended(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.sink.deleteLater()
            runner.deleteLater()
        reason = self.reason or "stopped"
        log.info("run %s: %s at step %d", self.run_dir, reason, self.step)
        self._set_state("idle")
        self.sig_done.emit(self.run_dir, reason)
