"""The training loop: Trainer(config, run_dir, sink, control).run().

One loop serves every objective. It talks out only through its sink and listens only to its
RunControl, checked between steps. Everything a resumed run needs (weights, optimizer, schedule
position, RNG and batch-sampler states, best score) is checkpointed atomically, so a resumed
run continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import checkpoint as ckpt
from .. import runs
from ..config import RunConfig
from ..errors import UserError
from ..objectives import Objective, Setup, build_setup
from ..util.atomic import atomic_write_bytes
from ..util.device import Runtime, describe_device, setup_runtime
from .control import RunControl
from .sinks import EvalMetrics, FanOutSink, JsonLinesSink, LogFileSink, MetricsSink, StepMetrics


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    reason: str  # completed | stopped | failed
    best_val_loss: float | None
    last_loss: float | None


def lr_at(step: int, lr: float, min_lr: float, warmup: int, max_steps: int) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr` at `max_steps`."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_steps:
        return min_lr
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def make_optimizer(model: nn.Module, cfg: RunConfig, device: torch.device,
                   lr_scale: Callable[[str], float] | None = None) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; fused kernels where the device has them.

    `lr_scale(name)` gives a parameter's share of the scheduled rate (a fine-tuned body may
    learn slower than its new head); each group carries it as "lr_scale".
    """
    t = cfg.train
    buckets: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        scale = lr_scale(name) if lr_scale else 1.0
        buckets.setdefault((p.dim() >= 2, scale), []).append(p)
    groups = [
        {"params": ps, "weight_decay": t.weight_decay if decay else 0.0, "lr_scale": scale}
        for (decay, scale), ps in sorted(buckets.items(), key=lambda kv: kv[0], reverse=True)
    ]
    kwargs: dict[str, Any] = {"lr": t.learning_rate, "betas": (t.beta1, t.beta2)}
    if device.type in ("cuda", "cpu", "mps"):
        kwargs["fused"] = True
    try:
        return torch.optim.AdamW(groups, **kwargs)
    except (RuntimeError, TypeError):
        kwargs.pop("fused", None)
        return torch.optim.AdamW(groups, **kwargs)


def versions() -> dict[str, str]:
    import h5py
    import numpy
    import sentencepiece

    from ... import __version__

    out = {
        "lmstudio_app": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sentencepiece": sentencepiece.__version__,
        "h5py": h5py.__version__,
    }
    if torch.version.cuda:
        out["cuda"] = torch.version.cuda
    return out


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
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.user_sink = sink or MetricsSink()
        self.control = control or RunControl()
        self.resume = resume

    # -- set-up --------------------------------------------------------------------------------

    def _write_run_files(self, setup: Setup, n_params: int) -> None:
        atomic_write_bytes(self.run_dir / setup.tokenizer.file_name, setup.tokenizer.model_bytes)
        runs.write_json(self.run_dir, runs.CONFIG, {
            "run": self.cfg.to_dict(),
            "data": setup.data_info,
            "parameters": n_params,
            "versions": versions(),
        })

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """Train until max_steps or a stop; report failures through the sink, never raise."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        file_sinks = [JsonLinesSink(self.run_dir / runs.METRICS),
                      LogFileSink(self.run_dir / runs.LOG)]
        self.sink = FanOutSink(*file_sinks, self.user_sink)
        self.step = 0
        self.best: float | None = None  # lowest validation loss so far
        self.best_score: float | None = None  # what chose best.safetensors (lower is better)
        self.last_loss: float | None = None
        try:
            return self._run()
        except (UserError, NonFiniteLoss) as exc:
            return self._fail(str(exc))
        except torch.cuda.OutOfMemoryError:
            return self._fail(
                "the GPU ran out of memory. Lower batch_size or block_size "
                "(use grad_accum to keep the effective batch), or pick a smaller preset."
            )
        except Exception as exc:  # a bug: keep the traceback in the log, a line for the user
            import traceback

            self.sink.message(traceback.format_exc())
            return self._fail(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            for s in file_sinks:
                s.close()

    def _fail(self, message: str) -> TrainResult:
        self.sink.failed(message)
        runs.write_status(self.run_dir, "failed", self.step, self.best, error=message)
        return TrainResult(self.run_dir, self.step, "failed", self.best, self.last_loss)

    def _run(self) -> TrainResult:
        cfg, t = self.cfg, self.cfg.train
        self.sink.phase("loading the data and building the model")
        rt = setup_runtime(t.device, t.dtype)
        self.rt = rt
        torch.manual_seed(t.seed + rt.rank)
        setup = build_setup(cfg, self.run_dir, self.resume, seed=t.seed + rt.rank)
        model, objective = setup.model.to(rt.device), setup.objective
        n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
        optimizer = make_optimizer(model, cfg, rt.device, setup.lr_scale)
        fp16 = rt.dtype == torch.float16 and rt.device.type == "cuda"
        scaler = torch.amp.GradScaler(rt.device.type, enabled=fp16)
        if self.resume:
            self._restore(model, optimizer, scaler, objective)
        elif rt.is_main:
            self._write_run_files(setup, n_params)

        train_model: nn.Module = model
        if rt.distributed:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(
                model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None
            )
        step_model = torch.compile(train_model) if t.compile else train_model
        if t.compile:
            self.sink.phase("compiling the model: the first steps take longer")
        self._ddp = train_model if rt.distributed else None

        self.sink.started({
            "run_dir": str(self.run_dir), "objective": cfg.objective, "preset": cfg.preset,
            "parameters": n_params, "device": describe_device(rt.device),
            "dtype": str(rt.dtype).replace("torch.", ""), "start_step": self.step,
            "max_steps": t.max_steps, "tokens_per_step": objective.tokens_per_batch * t.grad_accum,
        })
        runs.write_status(self.run_dir, "running", self.step, self.best)
        return self._loop(model, step_model, objective, optimizer, scaler, rt)

    def _autocast(self, rt: Runtime) -> contextlib.AbstractContextManager[Any]:
        if rt.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(rt.device.type, dtype=rt.dtype)

    def _loop(self, model: nn.Module, step_model: nn.Module, objective: Objective,
              optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              rt: Runtime) -> TrainResult:
        t = self.cfg.train
        device = rt.device
        non_blocking = device.type == "cuda"
        model.train()
        tokens_per_step = objective.tokens_per_batch * t.grad_accum * rt.world_size
        window_start, window_steps = time.perf_counter(), 0
        run_start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        reason = "completed"

        while self.step < t.max_steps:
            if self.control.stop_requested:
                reason = "stopped"
                break
            if self.control.paused:
                paused_at = time.perf_counter()
                self._save(model, optimizer, scaler, objective, best=False)
                runs.write_status(self.run_dir, "paused", self.step, self.best)
                self.control.wait_if_paused(lambda: self.sink.paused(self.step))
                runs.write_status(self.run_dir, "running", self.step, self.best)
                # The log window keeps its steps and their summed loss; only the pause's time
                # leaves it (restarting it would divide the window's loss by fewer steps).
                window_start += time.perf_counter() - paused_at
                continue

            lr = lr_at(self.step, t.learning_rate, t.min_lr_value, t.warmup_steps_value,
                       t.max_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            for micro in range(t.grad_accum):
                batch = tuple(b.to(device, non_blocking=non_blocking)
                              for b in objective.next_batch())
                # Under DDP, gradients are all-reduced once, on the last micro-batch.
                no_sync = (self._ddp.no_sync()  # type: ignore[union-attr]
                           if self._ddp is not None and micro < t.grad_accum - 1
                           else contextlib.nullcontext())
                with no_sync, self._autocast(rt):
                    loss = objective.loss(step_model, batch) / t.grad_accum
                scaler.scale(loss).backward()
                loss_sum += loss.detach()
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
            window_steps += 1
            self.sink.progress(self.step, t.max_steps)

            last = self.step == t.max_steps
            log_now = self.step % t.log_interval == 0 or last
            if log_now or device.type == "cpu":
                # A host sync: every step on the CPU (free there), every log interval elsewhere.
                loss_total = loss_sum.item()
                if not math.isfinite(loss_total):
                    raise NonFiniteLoss(
                        f"the loss became {loss_total} at step {self.step}. The last good "
                        "checkpoint is kept. Lower learning_rate or set grad_clip, then resume "
                        "or start again."
                    )
            if log_now:
                now = time.perf_counter()
                self.last_loss = loss_total / window_steps
                self.sink.step(StepMetrics(
                    step=self.step, loss=self.last_loss, lr=lr, grad_norm=float(grad_norm),
                    tokens_per_s=tokens_per_step * window_steps / max(now - window_start, 1e-9),
                    elapsed_s=now - run_start, max_steps=t.max_steps,
                ))
                loss_sum.zero_()
                window_start, window_steps = time.perf_counter(), 0

            if self.step % t.eval_interval == 0 or last:
                evaluating_at = time.perf_counter()
                self.sink.phase("evaluating")
                self._evaluate_and_save(model, objective, optimizer, scaler, rt)
                window_start += time.perf_counter() - evaluating_at
            elif self.step % t.checkpoint_interval_value == 0:
                self._save(model, optimizer, scaler, objective, best=False)

        if reason == "stopped":
            self._save(model, optimizer, scaler, objective, best=False)
        elif rt.is_main and objective.reports_on_test:
            self._final_report(model, objective)
        runs.write_status(self.run_dir, reason, self.step, self.best)
        self.sink.finished(self.step, reason)
        return TrainResult(self.run_dir, self.step, reason, self.best, self.last_loss)

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, objective: Objective, rt: Runtime) -> EvalMetrics:
        model.eval()
        try:
            total, n = 0.0, 0
            for batch in objective.eval_batches():
                batch = tuple(b.to(rt.device) for b in batch)
                with self._autocast(rt):
                    total += float(objective.loss(model, batch))
                n += 1
            val_loss = total / max(n, 1)
            extra = objective.eval_extra(model, val_loss)
            bpc = extra.pop("bits_per_char", None)
            sample = objective.sample(model) if rt.is_main else None
        finally:
            model.train()
        return EvalMetrics(
            step=self.step, val_loss=val_loss,
            val_ppl=math.exp(min(val_loss, 50.0)), bits_per_char=bpc,
            train_loss=self.last_loss, extra=extra, sample=sample,
        )

    def _evaluate_and_save(self, model: nn.Module, objective: Objective,
                           optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                           rt: Runtime) -> None:
        m = self._evaluate(model, objective, rt)
        if not math.isfinite(m.val_loss):
            raise NonFiniteLoss(
                f"the validation loss became {m.val_loss} at step {self.step}. The last good "
                "checkpoint is kept. Lower learning_rate, then start again."
            )
        self.sink.evaluation(m)
        # best.safetensors follows the task's own score where it has one (accuracy, F1: higher
        # is better), else the validation loss; the status keeps the lowest validation loss.
        key = self.cfg.spec.best_metric
        score = -m.extra[key] if key is not None and key in m.extra else m.val_loss
        improved = self.best_score is None or score < self.best_score
        if improved:
            self.best_score = score
        if self.best is None or m.val_loss < self.best:
            self.best = m.val_loss
        self._save(model, optimizer, scaler, objective, best=improved)

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
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise NonFiniteLoss(
                f"the weights became NaN or infinite at step {self.step}. The last good "
                "checkpoint is kept. Lower learning_rate or set grad_clip, then start again."
            )
        meta = {"step": str(self.step), "objective": self.cfg.objective}
        weights = self.run_dir / runs.WEIGHTS
        ckpt.save_weights(model, weights, meta)
        if best:
            ckpt.save_weights(model, self.run_dir / runs.BEST_WEIGHTS, meta)
        state = {
            "step": self.step,
            "best_val_loss": self.best,
            "best_score": self.best_score,
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "objective": objective.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.rt.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.rt.device)
        ckpt.save_state(state, self.run_dir / runs.STATE)
        runs.write_status(self.run_dir, "running", self.step, self.best)
        self.sink.checkpoint(self.step, str(weights), best)

    def _restore(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, objective: Objective) -> None:
        state = ckpt.load_state(self.run_dir / runs.STATE)
        ckpt.load_weights(model, self.run_dir / runs.WEIGHTS)
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        objective.load_state_dict(state["objective"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.rt.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.rt.device)
        self.step = int(state["step"])
        self.best = state["best_val_loss"]
        self.best_score = state.get("best_score", self.best)
        self.sink.message(f"resumed at step {self.step}")


def train(cfg: RunConfig, run_dir: Path, sink: MetricsSink | None = None,
          control: RunControl | None = None, resume: bool = False) -> TrainResult:
    """Convenience wrapper: build a Trainer and run it."""
    return Trainer(cfg, run_dir, sink, control, resume).run()
