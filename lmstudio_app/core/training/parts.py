"""What a run's set-up builds before its first step: the runtime, the objective's setup, the
budget, the model (and the wrapped one that steps), the optimizer and the gradient scaler; and
the files a new run writes once it is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import runs
from ..config import RunConfig
from ..models.checkpointing import set_gradient_checkpointing
from ..models.lora import check_4bit
from ..objectives import Objective, Setup, build_setup
from ..util.atomic import atomic_write_bytes
from ..util.device import Runtime, setup_runtime
from ..util.versions import versions
from .budget import Budget
from .optim import make_optimizer
from .step import compile_for_training


@dataclass
class Parts:
    """`step_model` is `model` wrapped (DDP, torch.compile) for the steps; `ddp` the DDP
    wrapper under torchrun; `rows` a task's training rows (None for pretraining)."""

    setup: Setup
    rows: int | None
    budget: Budget
    rt: Runtime
    model: nn.Module
    step_model: nn.Module
    objective: Objective
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ddp: nn.Module | None = None

    @property
    def parameters(self) -> int:
        """The model's parameters, each shared tensor (tied embeddings) counted once."""
        return sum(q.numel() for q in {id(q): q for q in self.model.parameters()}.values())


def build_parts(cfg: RunConfig, run_dir: Path, resume: bool) -> Parts:
    """Pick the device, seed, read the data, build the model and its optimizer. Raises what
    the set-up raises (UserError for the data, the device or the budget)."""
    t = cfg.train
    rt = setup_runtime(t.device, t.dtype)
    if cfg.lora is not None:
        check_4bit(cfg.lora, rt.device)
    # One data seed on every rank: each draws the same global batch and takes its slice.
    # The model's seed (dropout) differs by rank; DDP gives all rank 0's weights.
    torch.manual_seed(t.seed + rt.rank)
    setup = build_setup(cfg, run_dir, resume, seed=t.seed)
    rows = setup.data_info.get("training_rows") if cfg.spec.is_task else None
    model = setup.model.to(rt.device)
    set_gradient_checkpointing(model, t.gradient_checkpointing)
    fp16 = rt.dtype == torch.float16 and rt.device.type == "cuda"
    return Parts(setup, rows, Budget.of(t, rows), rt, model, model, setup.objective,
                 make_optimizer(model, cfg, rt.device, setup.lr_scale),
                 torch.amp.GradScaler(rt.device.type, enabled=fp16))


def wrap(p: Parts, cfg: RunConfig, say: Callable[[str], None]) -> None:
    """Set `p.step_model`: DDP under torchrun, compiled when asked (and when it can be: `say`
    tells why not)."""
    rt = p.rt
    if rt.distributed:
        from torch.nn.parallel import DistributedDataParallel

        # A fine-tuned body may hold parts its task never uses (a pretraining head).
        p.ddp = p.step_model = DistributedDataParallel(
            p.model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None,
            find_unused_parameters=cfg.finetune is not None)
    if cfg.train.compile:
        p.step_model = compile_for_training(p.step_model, rt.device, say)


def write_run_files(run_dir: Path, cfg: RunConfig, p: Parts) -> None:
    """A new run's tokenizer and config.json (with the global batch it trains on)."""
    tokenizer = p.setup.tokenizer
    atomic_write_bytes(run_dir / tokenizer.file_name, tokenizer.model_bytes, parents=False)
    t, world = cfg.train, p.rt.world_size
    batch = {"batch_size": t.batch_size, "grad_accum": t.grad_accum, "processes": world,
             "global_batch": t.batch_size * t.grad_accum * world,
             "note": "batch_size is per process; each step trains on the global batch"}
    runs.write_config(run_dir, cfg, p.setup.data_info, p.parameters, versions(), batch=batch)
