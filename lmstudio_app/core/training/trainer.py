"""The training loop: Trainer(config, run_dir, sink, control).run().

One loop serves every objective. It talks out only through its sink and listens only to its
RunControl, checked between steps. Everything a resumed run needs (weights, optimizer, schedule
position, RNG and batch-sampler states, best score) is checkpointed as one unit
(`checkpoint.save_checkpoint`), after the metrics up to its step are on disk, so a resumed run
continues exactly as if it had never stopped, whatever killed it when.

One process trains a run folder at a time (the run's lock). A run that fails before it starts
training (a resume whose tokenizer moved away, a folder in use) leaves the run's record as it
was; what it says on failure names only what exists on disk.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import checkpoint as ckpt
from .. import runs
from ..config import RunConfig
from ..errors import UserError
from ..models.checkpointing import set_gradient_checkpointing
from ..objectives import Objective, Setup, build_setup
from ..util.atomic import atomic_write_bytes, remove_temporaries
from ..util.device import Runtime, describe_device, process_rank, setup_runtime
from ..util.disk import storage_error
from ..util.resources import ResourceSampler
from ..util.versions import versions
from . import distributed as dist
from . import snapshots
from .budget import describe_budget, resolve_budget
from .control import RunControl
from .device_figures import DeviceFigures
from .optim import lr_at, make_optimizer
from .sinks import EvalMetrics, FanOutSink, JsonLinesSink, LogFileSink, MetricsSink, StepMetrics
from .step import OOM_ADVICE, MicroBatchSteps, OutOfMemoryAtOne, compile_for_training


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    reason: str  # completed | stopped | failed
    best_val_loss: float | None
    last_loss: float | None
    error: str | None = None  # what failed, one line (reason "failed")
    user_error: UserError | None = None  # the mistake behind `error`, with its field and fix
    early_stopped: bool = False  # completed before max_steps: no new best in `patience` evals


class _SetupFailed(Exception):
    """A failure before training began: the run's record stays as it was on a resume."""


def _memory_error(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(
            s in str(exc) for s in ("not enough memory", "DefaultCPUAllocator",
                                    "out of memory")))


class Trainer:
    """Pretrains (or fine-tunes, through its objective) one run folder."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        sink: MetricsSink | None = None,
        control: RunControl | None = None,
        resume: bool = False,
    ) -> None:
        cfg.validate()
        runs.absolute_paths(cfg)  # the run reads the same files from any working folder
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.user_sink = sink or MetricsSink()
        self.control = control or RunControl()
        self.resume = resume

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """Train until max_steps or a stop; report failures through the sink, never raise
        (a KeyboardInterrupt, the second Ctrl-C, is recorded and raised again)."""
        self.step = 0
        self.best: float | None = None  # lowest validation loss so far
        self.best_score: float | None = None  # what chose best.safetensors (lower is better)
        self.evals_since_best = 0  # evaluations since best_score last improved
        self.stop_note: str | None = None  # why the run completed early (early stopping)
        self.t = self.cfg.train  # the budget the loop runs (resolved once the data is read)
        self.last_loss: float | None = None
        self.tokens_seen = -1  # tokens trained on over the run's life; -1: count from the step
        self.committed: int | None = None  # step of the last checkpoint on disk
        self.training = False  # past set-up: failures are written to the run's record
        self.sink: MetricsSink = self.user_sink
        self.metrics: JsonLinesSink | None = None
        self._file_sinks: list[MetricsSink] = []
        self.main = process_rank() == 0  # under torchrun, rank 0 alone writes the run folder
        lock = runs.lock(self.run_dir)
        try:
            dist.on_main(lambda: self._open_folder(lock))
        except dist.DecidedOnMain as exc:
            return TrainResult(self.run_dir, 0, "failed", None, None, str(exc), exc)
        except (UserError, OSError) as exc:
            return self._refused(exc)
        try:
            return self._run_locked()
        except KeyboardInterrupt:
            if self.training:
                self._record("interrupted", None)
            raise
        finally:
            for s in self._file_sinks:
                s.close()
            lock.release()

    def _open_folder(self, lock: Any) -> None:
        """Rank 0: make (or check) the run folder and take its lock; a refusal is a UserError."""
        try:
            if not self.resume:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            elif not runs.is_run_dir(self.run_dir):
                runs.read_config(self.run_dir)  # raises: no run here, or its config damaged
            lock.acquire()
        except OSError as exc:
            raise storage_error(exc, self.run_dir) or UserError(
                f"{self.run_dir}: {exc.strerror or exc}", field="run") from None

    def _refused(self, exc: BaseException) -> TrainResult:
        """Nothing was touched: another process holds the run, or there is no run to open."""
        err = storage_error(exc, self.run_dir) or exc
        self.user_sink.failed(str(err))
        return TrainResult(self.run_dir, 0, "failed", None, None, str(err),
                           err if isinstance(err, UserError) else None)

    def _run_locked(self) -> TrainResult:
        if self.main:
            self.committed = ckpt.recover(self.run_dir)  # finish a save a kill interrupted
            remove_temporaries(self.run_dir)
            self._file_sinks.append(LogFileSink(self.run_dir / runs.LOG))
        dist.barrier()  # the others read the folder once rank 0 has put it in order
        if not self.main:
            self.committed = ckpt.committed_step(self.run_dir)
        restarting = self.resume and self.committed is None
        self.sink = FanOutSink(*self._file_sinks, self.user_sink)
        if restarting:
            self.sink.message("no checkpoint was saved before the run stopped: it starts again "
                              "from step 0 in the same folder")
            self.resume = False
        try:
            return self._train()
        except Exception as exc:
            return self._fail(exc)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, _SetupFailed):
            exc = exc.__cause__ or exc
        if isinstance(exc, (UserError, NonFiniteLoss)):
            return str(exc)
        if isinstance(exc, OutOfMemoryAtOne):
            return f"out of memory with micro-batches of one row at step {self.step + 1}. " \
                + OOM_ADVICE
        if isinstance(exc, torch.OutOfMemoryError):
            return (f"the GPU ran out of memory at step {self.step + 1}. Lower batch_size "
                    "(grad_accum keeps the global batch). " + OOM_ADVICE)
        if _memory_error(exc):
            return ("not enough memory for this model and batch: lower batch_size, block_size "
                    "or the model's size (a smaller preset).")
        storage = storage_error(exc, self.run_dir / runs.STATUS)
        if storage is not None:
            return str(storage)
        import traceback

        self.sink.message("".join(traceback.format_exception(exc)))
        return f"unexpected error: {type(exc).__name__}: {exc}"

    def _fail(self, exc: BaseException) -> TrainResult:
        message = self._describe(exc)
        cause = exc.__cause__ if isinstance(exc, _SetupFailed) else exc
        user_error = cause if isinstance(cause, UserError) else None
        if self.training:
            self.sink.failed(message)
            self._record("failed", message)
        else:  # a failed start: the record (status, metrics) stays as it was
            self.user_sink.failed(message)
            if runs.is_run_dir(self.run_dir):
                for s in self._file_sinks:
                    s.message(f"{'resume' if self.resume else 'start'} failed: {message}")
            elif self.main:  # a new run that never started leaves nothing behind
                for s in self._file_sinks:
                    s.close()
                (self.run_dir / runs.LOG).unlink(missing_ok=True)
        return TrainResult(self.run_dir, self.step, "failed", self.best, self.last_loss, message,
                           user_error)

    def _record(self, state: str, error: str | None) -> None:
        """status.json, as far as the disk allows (it may be full, or the folder gone)."""
        if not self.main:
            return
        extra: dict[str, Any] = {"checkpoint_step": self.committed,
                                 "max_steps": self.t.max_steps}
        if error is not None:
            extra["error"] = error
        if self.stop_note is not None:
            extra["stop_reason"] = self.stop_note
        try:
            runs.write_status(self.run_dir, state, self.step, self.best, **extra)
        except (UserError, OSError):
            pass

    # -- set-up --------------------------------------------------------------------------------

    def _write_run_files(self, setup: Setup, n_params: int, rt: Runtime) -> None:
        atomic_write_bytes(self.run_dir / setup.tokenizer.file_name, setup.tokenizer.model_bytes,
                           parents=False)
        t = self.cfg.train
        batch = {"batch_size": t.batch_size, "grad_accum": t.grad_accum,
                 "processes": rt.world_size,
                 "global_batch": t.batch_size * t.grad_accum * rt.world_size,
                 "note": "batch_size is per process; each step trains on the global batch"}
        runs.write_config(self.run_dir, self.cfg, setup.data_info, n_params, versions(),
                          batch=batch)

    def _train(self) -> TrainResult:
        cfg, t = self.cfg, self.cfg.train
        rt_distributed = dist.world_size() > 1
        self.sink.phase("loading the data and building the model")
        try:
            rt = setup_runtime(t.device, t.dtype)
            self.rt = rt
            # One data seed on every rank: each draws the same global batch and takes its slice.
            # The model's seed (dropout) differs by rank; DDP gives all rank 0's weights.
            torch.manual_seed(t.seed + rt.rank)
            setup = build_setup(cfg, self.run_dir, self.resume, seed=t.seed)
            rows = setup.data_info.get("training_rows") if cfg.spec.is_task else None
            self.t = resolve_budget(t, rows)
            model, objective = setup.model.to(rt.device), setup.objective
            set_gradient_checkpointing(model, t.gradient_checkpointing)
            n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
            optimizer = make_optimizer(model, cfg, rt.device, setup.lr_scale)
            fp16 = rt.dtype == torch.float16 and rt.device.type == "cuda"
            scaler = torch.amp.GradScaler(rt.device.type, enabled=fp16)
            if self.resume:
                self._restore(model, optimizer, scaler, objective)
                if rt.rank:
                    torch.manual_seed(t.seed + rt.rank + self.step)
        except Exception as exc:
            # The others learn it and fail with it (rank 0 says it once).
            dist.first_failure(self._describe(exc) if rt_distributed else None)
            raise _SetupFailed() from exc
        failure = dist.first_failure(None)
        if failure is not None:  # another process failed to start: rank 0 says why
            raise _SetupFailed() from dist.DecidedOnMain(failure)

        # From here on the run's record changes: it is this run's now.
        self.training = True
        if self.main:
            runs.truncate_metrics(self.run_dir, self.step)
            if self.resume:
                runs.record_resume(self.run_dir, cfg, self.step)
            else:
                self._write_run_files(setup, n_params, rt)
            self.metrics = JsonLinesSink(self.run_dir / runs.METRICS)
            self._file_sinks.insert(0, self.metrics)
        dist.barrier()
        self.sink = FanOutSink(*self._file_sinks, self.user_sink)
        if t.max_steps is None or t.eval_interval is None:
            self.sink.message(f"budget: {describe_budget(self.t, rows)}")

        train_model: nn.Module = model
        if rt.distributed:
            from torch.nn.parallel import DistributedDataParallel

            # A fine-tuned body may hold parts its task never uses (a pretraining head).
            train_model = DistributedDataParallel(
                model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None,
                find_unused_parameters=cfg.finetune is not None)
        step_model = (compile_for_training(train_model, rt.device, self.sink.message)
                      if t.compile else train_model)
        if t.compile:
            self.sink.phase("compiling the model: the first steps take longer")
        self._ddp = train_model if rt.distributed else None

        self.sink.started({
            "run_dir": str(self.run_dir), "objective": cfg.objective, "preset": cfg.preset,
            "parameters": n_params, "device": describe_device(rt.device),
            "dtype": str(rt.dtype).replace("torch.", ""), "start_step": self.step,
            "max_steps": self.t.max_steps,
            "tokens_per_step": objective.tokens_per_batch * t.grad_accum * rt.world_size,
            "processes": rt.world_size,
        })
        self._record("running", None)
        return self._loop(model, step_model, objective, optimizer, scaler, rt)

    def _autocast(self, rt: Runtime) -> contextlib.AbstractContextManager[Any]:
        if rt.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(rt.device.type, dtype=rt.dtype)

    # -- the loop ------------------------------------------------------------------------------

    def _loop(self, model: nn.Module, step_model: nn.Module, objective: Objective,
              optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              rt: Runtime) -> TrainResult:
        t = self.t
        assert t.max_steps is not None and t.eval_interval is not None  # resolve_budget's
        device = rt.device
        model.train()
        tokens_per_step = objective.tokens_per_batch * t.grad_accum * rt.world_size
        objective.eval_batch_size = t.batch_size * rt.world_size
        global_rows = t.batch_size * t.grad_accum * rt.world_size
        mine = dist.rank_rows(global_rows, rt.rank, rt.world_size)
        passes = MicroBatchSteps(objective, t.batch_size, device, self._ddp, self.sink,
                                 lambda: self._autocast(rt))
        figures = DeviceFigures(self.cfg.model, device, rt.world_size)
        # Under DDP: a stop or pause every rank has heard of, after the same step.
        stop_agreed = pause_agreed = False
        window_start, window_steps = time.perf_counter(), 0
        run_start = time.perf_counter()
        resources = ResourceSampler(device)
        if self.tokens_seen < 0:  # a new run, or a state saved before tokens were counted
            self.tokens_seen = self.step * tokens_per_step
        loss_sum = torch.zeros((), device=device)
        reason = "completed"

        while self.step < t.max_steps:
            if stop_agreed or (not rt.distributed and self.control.stop_requested):
                reason = "stopped"
                break
            if pause_agreed if rt.distributed else self.control.paused:
                pause_agreed = False
                self.control.pause()  # every rank of a job waits for the resume
                paused_at = time.perf_counter()
                self._save(model, optimizer, scaler, objective, best=False)
                self._record("paused", None)
                self.control.wait_if_paused(lambda: self.sink.paused(self.step))
                self._record("running", None)
                # The log window keeps its steps and their summed loss; only the pause's time
                # leaves it (restarting it would divide the window's loss by fewer steps).
                window_start += time.perf_counter() - paused_at
                continue

            lr = lr_at(self.step, t.learning_rate, t.min_lr_value, t.warmup_steps_value,
                       t.max_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            # The step's global batch, from the stream every rank draws alike; this rank's part.
            batch = dist.take_rows(objective.draw(global_rows), mine)
            loss = passes.run(step_model, batch, scaler, optimizer, self.step)
            if rt.distributed:
                loss, stop_agreed, pause_agreed = dist.reduce_step(
                    loss, self.control.stop_requested, self.control.paused)
            loss_sum += loss
            if t.grad_clip > 0:
                scaler.unscale_(optimizer)
                # foreach: one fused norm over all gradients instead of a loop per tensor.
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    model.parameters(), t.grad_clip, foreach=device.type in ("cpu", "cuda") or None
                )
            else:
                grad_norm = torch.zeros((), device=device)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.tokens_seen += tokens_per_step
            window_steps += 1
            self.sink.progress(self.step, t.max_steps)

            last = self.step == t.max_steps
            log_now = self.step % t.log_interval == 0 or last
            if log_now or device.type == "cpu":
                # A host sync: every step on the CPU (free there), every log interval elsewhere.
                loss_total = loss_sum.item()
                if not math.isfinite(loss_total):
                    raise NonFiniteLoss(self._non_finite(f"the loss became {loss_total}"))
            if log_now:
                now = time.perf_counter()
                self.last_loss = loss_total / window_steps
                used = resources.sample()
                tps = tokens_per_step * window_steps / max(now - window_start, 1e-9)
                self.sink.step(StepMetrics(
                    step=self.step, loss=self.last_loss, lr=lr, grad_norm=float(grad_norm),
                    tokens_per_s=tps, elapsed_s=now - run_start, max_steps=t.max_steps,
                    tokens=self.tokens_seen, rss_bytes=used.rss_bytes,
                    gpu_memory_bytes=used.gpu_memory_bytes, gpu_utilization=used.gpu_utilization,
                    **figures(tps),
                ))
                loss_sum.zero_()
                window_start, window_steps = time.perf_counter(), 0

            if self.step % t.eval_interval == 0 or last:
                evaluating_at = time.perf_counter()
                self.sink.phase("evaluating")
                self._evaluate_and_save(model, objective, optimizer, scaler, rt)
                window_start += time.perf_counter() - evaluating_at
                if not last and self._patience_spent():
                    break
            elif self.step % t.checkpoint_interval_value == 0:
                self._save(model, optimizer, scaler, objective, best=False)

        if reason == "stopped":
            self._save(model, optimizer, scaler, objective, best=False)
        elif rt.is_main and objective.reports_on_test:
            self._final_report(model, objective)
        self._check_folder()
        self._record(reason, None)
        dist.barrier()  # every rank ends together, after rank 0's last save
        self.sink.finished(self.step, reason)
        return TrainResult(self.run_dir, self.step, reason, self.best, self.last_loss,
                           early_stopped=self.stop_note is not None)

    def _patience_spent(self) -> bool:
        """Early stopping: `early_stopping_patience` evaluations in a row brought no new best
        score (the one that picks best.safetensors). The run then completes as if it had
        reached max_steps: its best checkpoint is scored on the test split."""
        patience = self.t.early_stopping_patience
        if not patience or self.evals_since_best < patience:
            return False
        self.stop_note = (f"early stopping: no improvement in {patience} evaluation"
                          f"{'s' if patience != 1 else ''}")
        self.sink.message(f"{self.stop_note} (step {self.step:,} of {self.t.max_steps:,})")
        return True

    def _non_finite(self, what: str) -> str:
        """The NaN message, true to what is on disk."""
        if self.committed is None:
            kept = ("No checkpoint was saved before it. Lower learning_rate or set grad_clip, "
                    "then start the run again.")
        else:
            kept = (f"The checkpoint of step {self.committed} is kept: resume it with a lower "
                    "learning_rate (or set grad_clip).")
        return f"{what} at step {self.step}. {kept}"

    def _check_finite(self, model: nn.Module, before: str) -> None:
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise NonFiniteLoss(self._non_finite(f"the weights became NaN or infinite {before}"))

    def _check_folder(self) -> None:
        """The run folder must still be there (deleted or moved under a running job: stop)."""
        if not (self.run_dir / runs.CONFIG).is_file():
            raise UserError(
                f"{self.run_dir}: the run folder was deleted or moved during training (at step "
                f"{self.step}); nothing more can be saved there.", field="run")

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, objective: Objective, rt: Runtime) -> EvalMetrics:
        self._check_finite(model, "before the evaluation")
        model.eval()
        try:
            # Each rank scores its share of the fixed batches; the sums are reduced over ranks.
            total, n = 0.0, 0
            for batch in objective.eval_batches()[rt.rank::rt.world_size]:
                batch = tuple(b.to(rt.device) for b in batch)
                with self._autocast(rt):
                    total += float(objective.loss(model, batch))
                n += 1
            total, n = dist.reduce_sums([total, float(n)], rt.device)
            val_loss = total / max(n, 1)
            if not math.isfinite(val_loss):
                raise NonFiniteLoss(self._non_finite(f"the validation loss became {val_loss}"))
            extra = objective.eval_extra(model, val_loss)
            bpc = extra.pop("bits_per_char", None)
            bpb = extra.pop("val_bpb", None)
            try:
                sample = objective.sample(model) if rt.is_main else None
            except RuntimeError as exc:  # sampling from logits that overflowed
                if "inf" not in str(exc) and "nan" not in str(exc):
                    raise
                raise NonFiniteLoss(self._non_finite(
                    "the model's outputs became NaN or infinite")) from None
        finally:
            model.train()
        return EvalMetrics(
            step=self.step, val_loss=val_loss,
            val_ppl=math.exp(min(val_loss, 50.0)), bits_per_char=bpc, val_bpb=bpb,
            train_loss=self.last_loss, extra=extra, sample=sample,
        )

    def _evaluate_and_save(self, model: nn.Module, objective: Objective,
                           optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                           rt: Runtime) -> None:
        m = self._evaluate(model, objective, rt)
        self.sink.evaluation(m)
        # best.safetensors follows the task's own score where it has one (accuracy, F1: higher
        # is better), else the validation loss; the status keeps the lowest validation loss.
        key = self.cfg.spec.best_metric
        score = -m.extra[key] if key is not None and key in m.extra else m.val_loss
        improved = self.best_score is None or score < self.best_score
        if improved:
            self.best_score = score
        self.evals_since_best = 0 if improved else self.evals_since_best + 1
        if self.best is None or m.val_loss < self.best:
            self.best = m.val_loss
        self._save(model, optimizer, scaler, objective, best=improved)
        if self.rt.is_main:
            manifest = ckpt.read_manifest(self.run_dir) or {}
            snapshots.keep_snapshot(self.run_dir, self.step, self.t.keep_checkpoints,
                                    self.t.max_steps, manifest.get("best_step"))

    @torch.no_grad()
    def _final_report(self, model: nn.Module, objective: Objective) -> None:
        """Score the best weights on the task's test split; save results.json."""
        best = self.run_dir / runs.BEST_WEIGHTS
        if best.is_file():
            ckpt.load_weights(model, best)
        model.eval()
        report = objective.final_report(model)
        runs.write_json(self.run_dir, runs.RESULTS, report)
        headline = ", ".join(f"{k} {v:.4f}" for k, v in report.items() if isinstance(v, float))
        self.sink.message(f"test: {headline}")

    # -- checkpoints ---------------------------------------------------------------------------

    def _save(self, model: nn.Module, optimizer: torch.optim.Optimizer,
              scaler: torch.amp.GradScaler, objective: Objective, best: bool) -> None:
        if not self.rt.is_main:
            return
        self._check_folder()
        self._check_finite(model, "")
        state = {
            "step": self.step,
            "best_val_loss": self.best,
            "best_score": self.best_score,
            "evals_since_best": self.evals_since_best,
            "tokens_seen": self.tokens_seen,
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "objective": objective.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.rt.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.rt.device)
        if self.metrics is not None:
            self.metrics.sync()  # the records up to this step, on disk before the commit
        meta = {"step": str(self.step), "objective": self.cfg.objective}
        ckpt.save_checkpoint(self.run_dir, self.step, model, state, best, meta)
        self.committed = self.step
        self._record("running", None)
        self.sink.checkpoint(self.step, str(self.run_dir / runs.WEIGHTS), best)

    def _restore(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, objective: Objective) -> None:
        state = ckpt.load_state(self.run_dir / runs.STATE)
        ckpt.check_agreement(self.run_dir, state)
        ckpt.load_weights(model, self.run_dir / runs.WEIGHTS)
        try:
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            objective.load_state_dict(state["objective"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise UserError(f"{self.run_dir / runs.STATE}: the training state does not fit "
                            f"this run ({type(exc).__name__}: {exc}); start a new run.",
                            field="run") from None
        if "cuda_rng" in state and self.rt.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.rt.device)
        self.step = int(state["step"])
        self.best = state.get("best_val_loss")
        self.best_score = state.get("best_score", self.best)
        self.evals_since_best = int(state.get("evals_since_best", 0))
        self.tokens_seen = int(state.get("tokens_seen", -1))
        self.committed = self.step
        self.sink.message(f"resumed at step {self.step}")


def train(cfg: RunConfig, run_dir: Path, sink: MetricsSink | None = None,
          control: RunControl | None = None, resume: bool = False) -> TrainResult:
    """Convenience wrapper: build a Trainer and run it."""
    return Trainer(cfg, run_dir, sink, control, resume).run()
