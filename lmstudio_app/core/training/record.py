"""A run's record while it trains: its lock, status.json, and what a failure says and leaves.

One process trains a run folder at a time (the run's lock). A run that fails before it starts
training (a resume whose tokenizer moved away, a folder in use) leaves the run's record as it
was; what it says on failure names only what exists on disk.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import runs
from ..errors import UserError
from ..util.disk import storage_error
from ..util.lock import FolderLock
from .sinks import MetricsSink
from .state import TrainState
from .step import OOM_ADVICE, OutOfMemoryAtOne


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite."""


class SetupFailed(Exception):
    """A failure before training began: the run's record stays as it was on a resume."""


def memory_error(exc: BaseException) -> bool:
    """Whether `exc` says the host ran out of memory."""
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(
            s in str(exc) for s in ("not enough memory", "DefaultCPUAllocator",
                                    "out of memory")))


def open_folder(run_dir: Path, resume: bool, lock: FolderLock) -> None:
    """Rank 0: make (or check) the run folder and take its lock; a refusal is a UserError."""
    try:
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
        elif not runs.is_run_dir(run_dir):
            runs.read_config(run_dir)  # raises: no run here, or its config damaged
        lock.acquire()
    except OSError as exc:
        raise storage_error(exc, run_dir) or UserError(
            f"{run_dir}: {exc.strerror or exc}", field="run") from None


@dataclass
class TrainResult:
    """How a run ended, for its caller (the window, the command line, a comparison)."""

    run_dir: Path
    step: int
    reason: str  # completed | stopped | failed
    best_val_loss: float | None
    last_loss: float | None
    error: str | None = None  # what failed, one line (reason "failed")
    user_error: UserError | None = None  # the mistake behind `error`, with its field and fix
    early_stopped: bool = False  # completed before max_steps: no new best in `patience` evals


class RunRecord:
    """status.json and the failure messages of one run, true to what is on disk.

    `committed` is the step of the last checkpoint on disk (None: none yet); `training` turns
    True once the run's record is this run's (past set-up); `stop_note` says why the run
    completed early. Only the main process (rank 0) writes.
    """

    def __init__(self, run_dir: Path, main: bool) -> None:
        self.run_dir = run_dir
        self.main = main
        self.committed: int | None = None
        self.training = False
        self.max_steps: int | None = None
        self.stop_note: str | None = None

    def write(self, state: str, train_state: TrainState, error: str | None = None) -> None:
        """status.json, as far as the disk allows (it may be full, or the folder gone)."""
        if not self.main:
            return
        extra: dict[str, Any] = {"checkpoint_step": self.committed, "max_steps": self.max_steps}
        if error is not None:
            extra["error"] = error
        if self.stop_note is not None:
            extra["stop_reason"] = self.stop_note
        try:
            runs.write_status(self.run_dir, state, train_state.step, train_state.best_val_loss,
                              **extra)
        except (UserError, OSError):
            pass

    def refused(self, exc: BaseException, sink: MetricsSink) -> TrainResult:
        """Nothing was touched: another process holds the run, or there is no run to open."""
        err = storage_error(exc, self.run_dir) or exc
        sink.failed(str(err))
        return TrainResult(self.run_dir, 0, "failed", None, None, str(err),
                           err if isinstance(err, UserError) else None)

    def non_finite(self, what: str, step: int) -> str:
        """The NaN message, true to what is on disk."""
        if self.committed is None:
            kept = ("No checkpoint was saved before it. Lower learning_rate or set grad_clip, "
                    "then start the run again.")
        else:
            kept = (f"The checkpoint of step {self.committed} is kept: resume it with a lower "
                    "learning_rate (or set grad_clip).")
        return f"{what} at step {step}. {kept}"

    def check_folder(self, step: int) -> None:
        """The run folder must still be there (deleted or moved under a running job: stop)."""
        if not (self.run_dir / runs.CONFIG).is_file():
            raise UserError(
                f"{self.run_dir}: the run folder was deleted or moved during training (at step "
                f"{step}); nothing more can be saved there.", field="run")

    def describe(self, exc: BaseException, step: int, sink: MetricsSink) -> str:
        """One line on why the run failed at `step` (a bug's traceback goes to `sink`)."""
        if isinstance(exc, SetupFailed):
            exc = exc.__cause__ or exc
        if isinstance(exc, (UserError, NonFiniteLoss)):
            return str(exc)
        if isinstance(exc, OutOfMemoryAtOne):
            return f"out of memory with micro-batches of one row at step {step + 1}. " \
                + OOM_ADVICE
        if isinstance(exc, torch.OutOfMemoryError):
            return (f"the GPU ran out of memory at step {step + 1}. Lower batch_size "
                    "(grad_accum keeps the global batch). " + OOM_ADVICE)
        if memory_error(exc):
            return ("not enough memory for this model and batch: lower batch_size, block_size "
                    "or the model's size (a smaller preset).")
        storage = storage_error(exc, self.run_dir / runs.STATUS)
        if storage is not None:
            return str(storage)
        sink.message("".join(traceback.format_exception(exc)))
        return f"unexpected error: {type(exc).__name__}: {exc}"

    def failed_start(self, message: str, resume: bool, file_sinks: list[MetricsSink]) -> None:
        """A failed start: the record (status, metrics) stays as it was; the log says it on a
        run folder, and a new run that never started leaves nothing behind."""
        if runs.is_run_dir(self.run_dir):
            for s in file_sinks:
                s.message(f"{'resume' if resume else 'start'} failed: {message}")
        elif self.main:
            for s in file_sinks:
                s.close()
            (self.run_dir / runs.LOG).unlink(missing_ok=True)
