"""The training loop: Trainer(config, run_dir, sink, control).run().

One loop serves every objective. It talks out only through its sink and listens only to its
RunControl, checked between steps. Everything a resumed run needs (weights, optimizer, schedule
position, the loop's TrainState: step, tokens, best scores, RNG states; the batch sampler's
state) is checkpointed as one unit (`checkpoint.save_checkpoint`), after the metrics up to its
step are on disk, so a resumed run continues exactly as if it had never stopped, whatever
killed it when. The budget is resolved once, when the data is read (`Budget`); the best score
and early stopping are `best`'s, the lock, status and failures `record`'s.

Read beside nanoGPT's train.py: `_loop` is its `while True` (learning rate, micro-batches,
clipping, `optimizer.step()`, logging, evaluation and checkpoint).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .. import runs
from ..config import RunConfig
from ..errors import UserError
from ..runs import checkpoint as ckpt
from ..util.atomic import remove_temporaries
from ..util.device import Runtime, describe_device, process_rank
from . import distributed as dist
from . import snapshots
from .best import early_stop_note, note_evaluation
from .budget import Budget, check_steps_left, describe_budget
from .control import RunControl
from .device_figures import DeviceFigures
from .evaluation import autocast, check_finite, evaluate, final_report
from .log_window import LogWindow
from .optim import lr_at
from .parts import Parts, build_parts, wrap, write_run_files
from .record import NonFiniteLoss, RunRecord, SetupFailed, TrainResult, open_folder
from .sinks import FanOutSink, JsonLinesSink, LogFileSink, MetricsSink
from .state import TrainState
from .step import MicroBatchSteps
from .trackers import TrackerSink

__all__ = ["NonFiniteLoss", "TrainResult", "Trainer", "train"]


class Trainer:
    """Pretrains (or fine-tunes, through its objective) one run folder."""

    def __init__(self, cfg: RunConfig, run_dir: Path, sink: MetricsSink | None = None,
                 control: RunControl | None = None, resume: bool = False) -> None:
        cfg.validate()
        runs.absolute_paths(cfg)  # the run reads the same files from any working folder
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.user_sink = sink or MetricsSink()
        self.control = control or RunControl()
        self.resume = resume
        self.state = TrainState()
        self.record = RunRecord(self.run_dir, process_rank() == 0)  # rank 0 writes the folder
        self.sink: MetricsSink = self.user_sink
        self.metrics: JsonLinesSink | None = None
        self._file_sinks: list[MetricsSink] = []
        self.last_loss: float | None = None  # the last logged window's mean loss (nats)
        self._agreed = (False, False)  # under DDP: (stop, pause) every rank heard of

    def run(self) -> TrainResult:
        """Train until max_steps or a stop; report failures through the sink, never raise
        (a KeyboardInterrupt, the second Ctrl-C, is recorded and raised again)."""
        lock = runs.lock(self.run_dir)
        try:
            dist.on_main(lambda: open_folder(self.run_dir, self.resume, lock))
        except dist.DecidedOnMain as exc:
            return TrainResult(self.run_dir, 0, "failed", None, None, str(exc), exc)
        except (UserError, OSError) as exc:
            return self.record.refused(exc, self.user_sink)
        try:
            self._prepare_folder()
            return self._loop(self._build())
        except KeyboardInterrupt:
            if self.record.training:
                self.record.write("interrupted", self.state)
            raise
        except Exception as exc:
            return self._fail(exc)
        finally:
            for s in self._file_sinks:
                s.close()
            lock.release()

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self, p: Parts) -> TrainResult:
        s, b, t, rt = self.state, p.budget, self.cfg.train, p.rt
        tokens_per_step = p.objective.tokens_per_batch * t.grad_accum * rt.world_size
        global_rows = t.batch_size * t.grad_accum * rt.world_size
        mine = dist.rank_rows(global_rows, rt.rank, rt.world_size)
        passes = MicroBatchSteps(p.objective, t.batch_size, rt.device, p.ddp, self.sink,
                                 lambda: autocast(rt))
        window = LogWindow(rt.device, tokens_per_step,
                           DeviceFigures(self.cfg.model, rt.device, rt.world_size))
        if s.tokens_seen < 0:  # a new run, or a state saved before tokens were counted
            s.tokens_seen = s.step * tokens_per_step
        reason = "completed"
        while s.step < b.max_steps:
            stop, pause = self._asked(rt)
            if stop:
                reason = "stopped"
                break
            if pause:
                self._pause(p, window)
                continue
            lr = lr_at(s.step, t.learning_rate, t.min_lr_value, b.warmup_steps, b.max_steps)
            for group in p.optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            # The step's global batch, from the stream every rank draws alike; this rank's part.
            batch = dist.take_rows(p.objective.draw(global_rows), mine)
            loss = passes.run(p.step_model, batch, p.scaler, p.optimizer, s.step)
            if rt.distributed:
                loss, *agreed = dist.reduce_step(loss, self.control.stop_requested,
                                                 self.control.paused)
                self._agreed = (agreed[0], agreed[1])
            window.add(loss)
            grad_norm = self._clip(p)
            p.scaler.step(p.optimizer)
            p.scaler.update()
            p.optimizer.zero_grad(set_to_none=True)
            s.step += 1
            s.tokens_seen += tokens_per_step
            self.sink.progress(s.step, b.max_steps)
            if self._after_step(p, window, lr, grad_norm):
                break
        return self._finish(p, reason)

    def _asked(self, rt: Runtime) -> tuple[bool, bool]:
        """(stop, pause) for this step; under DDP what every rank heard after the last step."""
        if not rt.distributed:
            return self.control.stop_requested, self.control.paused
        stop, pause = self._agreed
        self._agreed = (stop, False)
        return stop, pause

    def _clip(self, p: Parts) -> torch.Tensor:
        """Clip the gradients' global norm to grad_clip; the norm before clipping (0 when off)."""
        clip, device = self.cfg.train.grad_clip, p.rt.device
        if clip <= 0:
            return torch.zeros((), device=device)
        p.scaler.unscale_(p.optimizer)
        # foreach: one fused norm over all gradients instead of a loop per tensor.
        return torch.nn.utils.clip_grad_norm_(
            p.model.parameters(), clip, foreach=device.type in ("cpu", "cuda") or None)

    def _after_step(self, p: Parts, window: LogWindow, lr: float,
                    grad_norm: torch.Tensor) -> bool:
        """Log, evaluate and save as the budget says; True when early stopping ends the run."""
        s, b = self.state, p.budget
        last = s.step == b.max_steps
        log_now = s.step % b.log_interval == 0 or last
        if log_now or p.rt.device.type == "cpu":
            # A host sync: every step on the CPU (free there), every log interval elsewhere.
            total = window.loss_total()
            if not math.isfinite(total):
                raise NonFiniteLoss(self.record.non_finite(f"the loss became {total}", s.step))
        if log_now:
            self.last_loss = window.loss_total() / window.steps
            self.sink.step(window.record(s.step, self.last_loss, lr, float(grad_norm),
                                         b.max_steps, s.tokens_seen))
        if s.step % b.eval_interval == 0 or last:
            with window.excluded():
                self.sink.phase("evaluating")
                self._evaluate_and_save(p)
            return not last and self._patience_spent(b)
        if s.step % b.checkpoint_interval == 0:
            self._save(p, best=False)
        return False

    def _pause(self, p: Parts, window: LogWindow) -> None:
        """Save, then wait for the resume (every rank of a job waits)."""
        self.control.pause()
        with window.excluded():
            self._save(p, best=False)
            self.record.write("paused", self.state)
            self.control.wait_if_paused(lambda: self.sink.paused(self.state.step))
            self.record.write("running", self.state)

    def _evaluate_and_save(self, p: Parts) -> None:
        m = evaluate(p.model, p.objective, p.rt, self.state.step, self.last_loss,
                     self._non_finite)
        self.sink.evaluation(m)
        self._save(p, best=note_evaluation(self.state, m, self.cfg.spec.best_metric))
        if p.rt.is_main:
            manifest = ckpt.read_manifest(self.run_dir) or {}
            snapshots.keep_snapshot(self.run_dir, self.state.step, p.budget.keep_checkpoints,
                                    p.budget.max_steps, manifest.get("best_step"))

    def _patience_spent(self, b: Budget) -> bool:
        """Early stopping: the run then completes as if it had reached max_steps (its best
        checkpoint is scored on the test split)."""
        note = early_stop_note(self.state, b.patience)
        if note is None:
            return False
        self.record.stop_note = note
        self.sink.message(f"{note} (step {self.state.step:,} of {b.max_steps:,})")
        return True

    def _finish(self, p: Parts, reason: str) -> TrainResult:
        if reason == "stopped":
            self._save(p, best=False)
        elif p.rt.is_main and p.objective.reports_on_test:
            final_report(p.model, p.objective, self.run_dir, self.sink)
        self.record.check_folder(self.state.step)
        self.record.write(reason, self.state)
        dist.barrier()  # every rank ends together, after rank 0's last save
        self.sink.finished(self.state.step, reason)
        return TrainResult(self.run_dir, self.state.step, reason, self.state.best_val_loss,
                           self.last_loss, early_stopped=self.record.stop_note is not None)

    def _non_finite(self, what: str) -> str:
        return self.record.non_finite(what, self.state.step)
    def _fail(self, exc: BaseException) -> TrainResult:
        message = self.record.describe(exc, self.state.step, self.sink)
        cause = exc.__cause__ if isinstance(exc, SetupFailed) else exc
        if self.record.training:
            self.sink.failed(message)
            self.record.write("failed", self.state, message)
        else:  # a failed start: the record (status, metrics) stays as it was
            self.user_sink.failed(message)
            self.record.failed_start(message, self.resume, self._file_sinks)
        return TrainResult(self.run_dir, self.state.step, "failed", self.state.best_val_loss,
                           self.last_loss, message,
                           cause if isinstance(cause, UserError) else None)

    # -- set-up --------------------------------------------------------------------------------

    def _prepare_folder(self) -> None:
        """Finish a save a kill interrupted; open the log; a resume without a checkpoint
        starts again from step 0."""
        if self.record.main:
            self.record.committed = ckpt.recover(self.run_dir)
            remove_temporaries(self.run_dir)
            self._file_sinks.append(LogFileSink(self.run_dir / runs.LOG))
        dist.barrier()  # the others read the folder once rank 0 has put it in order
        if not self.record.main:
            self.record.committed = ckpt.committed_step(self.run_dir)
        self.sink = FanOutSink(*self._file_sinks, self.user_sink)
        if self.resume and self.record.committed is None:
            self.sink.message("no checkpoint was saved before the run stopped: it starts again "
                              "from step 0 in the same folder")
            self.resume = False

    def _build(self) -> Parts:
        """Set up on every rank; a failure on any rank is SetupFailed on all (rank 0 says why)."""
        self.sink.phase("loading the data and building the model")
        try:
            p = self._parts()
        except Exception as exc:
            dist.first_failure(self.record.describe(exc, self.state.step, self.sink)
                               if dist.world_size() > 1 else None)
            raise SetupFailed() from exc
        failure = dist.first_failure(None)
        if failure is not None:  # another process failed to start: rank 0 says why
            raise SetupFailed() from dist.DecidedOnMain(failure)
        self._begin(p)
        return p

    def _parts(self) -> Parts:
        p = build_parts(self.cfg, self.run_dir, self.resume)
        if self.resume:
            self._restore(p)
            check_steps_left(self.state.step, p.budget.max_steps, self.run_dir)
            if p.rt.rank:
                torch.manual_seed(self.cfg.train.seed + p.rt.rank + self.state.step)
        return p

    def _begin(self, p: Parts) -> None:
        """From here on the run's record changes: it is this run's now."""
        self.record.training = True
        self.record.max_steps = p.budget.max_steps
        if self.record.main:
            runs.truncate_metrics(self.run_dir, self.state.step)
            if self.resume:
                runs.record_resume(self.run_dir, self.cfg, self.state.step)
            else:
                write_run_files(self.run_dir, self.cfg, p)
            self.metrics = JsonLinesSink(self.run_dir / runs.METRICS)
            self._file_sinks.insert(0, self.metrics)
            if self.cfg.train.report_to_list:
                self._file_sinks.append(TrackerSink(self.cfg, self.run_dir,
                                                    lambda text: self.sink.message(text)))
        dist.barrier()
        self.sink = FanOutSink(*self._file_sinks, self.user_sink)
        t, rt = self.cfg.train, p.rt
        if t.max_steps is None or t.eval_interval is None:
            self.sink.message(f"budget: {describe_budget(t, p.budget, p.rows)}")
        wrap(p, self.cfg, self.sink.message)
        if t.compile:
            self.sink.phase("compiling the model: the first steps take longer")
        p.model.train()
        p.objective.eval_batch_size = t.batch_size * rt.world_size
        self.sink.started({
            "run_dir": str(self.run_dir), "objective": self.cfg.objective,
            "preset": self.cfg.preset, "parameters": p.parameters,
            "device": describe_device(rt.device),
            "dtype": str(rt.dtype).replace("torch.", ""), "start_step": self.state.step,
            "max_steps": p.budget.max_steps,
            "tokens_per_step": p.objective.tokens_per_batch * t.grad_accum * rt.world_size,
            "processes": rt.world_size,
        })
        self.record.write("running", self.state)

    # -- checkpoints ---------------------------------------------------------------------------

    def _save(self, p: Parts, best: bool) -> None:
        if not p.rt.is_main:
            return
        self.record.check_folder(self.state.step)
        check_finite(p.model, self._non_finite, "")
        state = {**self.state.state_dict(p.rt.device), "optimizer": p.optimizer.state_dict(),
                 "scaler": p.scaler.state_dict(), "objective": p.objective.state_dict()}
        if self.metrics is not None:
            self.metrics.sync()  # the records up to this step, on disk before the commit
        step = self.state.step
        meta = {"step": str(step), "objective": self.cfg.objective}
        ckpt.save_checkpoint(self.run_dir, step, p.model, state, best, meta)
        self.record.committed = step
        self.record.write("running", self.state)
        self.sink.checkpoint(step, str(self.run_dir / runs.WEIGHTS), best)

    def _restore(self, p: Parts) -> None:
        state = ckpt.load_state(self.run_dir / runs.STATE)
        ckpt.check_agreement(self.run_dir, state)
        ckpt.load_weights(p.model, self.run_dir / runs.WEIGHTS)
        try:
            p.optimizer.load_state_dict(state["optimizer"])
            p.scaler.load_state_dict(state["scaler"])
            p.objective.load_state_dict(state["objective"])
            self.state.load_state_dict(state, p.rt.device)
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise UserError(f"{self.run_dir / runs.STATE}: the training state does not fit "
                            f"this run ({type(exc).__name__}: {exc}); start a new run.",
                            field="run") from None
        self.record.committed = self.state.step
        self.sink.message(f"resumed at step {self.state.step}")


def train(cfg: RunConfig, run_dir: Path, sink: MetricsSink | None = None,
          control: RunControl | None = None, resume: bool = False) -> TrainResult:
    """Convenience wrapper: build a Trainer and run it."""
    return Trainer(cfg, run_dir, sink, control, resume).run()
