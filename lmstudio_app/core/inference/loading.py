"""Open a run folder's model for inference (playground, generate, fill-mask, classify, QA)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .. import runs
from ..config import FinetuneConfig, RunConfig, objective_spec
from ..data.tokenizer_base import BaseTokenizer
from ..data.tokenizer_files import load_tokenizer
from ..errors import UserError
from ..models import build_model
from ..models.heads import build_task_model
from ..models.lora import merge as merge_adapters
from ..objectives.adapters import build_adapted
from ..runs import checkpoint as ckpt
from ..runs.weights import weights_path
from ..util.device import resolve_device


@dataclass
class LoadedRun:
    run_dir: Path
    config: RunConfig
    tokenizer: BaseTokenizer
    model: nn.Module
    weights: Path


def load_run(run_dir: Path, checkpoint: str | int = "best", device: str = "cpu",
             merge: bool = True) -> LoadedRun:
    """Build the run's model on `device`, load its weights and tokenizer, in eval mode.
    `checkpoint`: "best", "latest", or the step of a kept snapshot (see weights_path).

    A LoRA run is its base run's weights plus its adapters and head: merged into one plain
    model (W + scaling B A), or with `merge` False the `peft.PeftModel` itself.

    Raises UserError when the folder is not a run, has no weights yet, or its files are damaged.
    """
    run_dir = Path(run_dir)
    cfg = runs.read_config(run_dir)
    tokenizer = load_tokenizer(run_dir, field="run")
    path = weights_path(run_dir, checkpoint)
    # A fine-tuned run is its body plus the task's head, shaped by config.json.
    if cfg.lora is not None:
        model = build_adapted(cfg, runs.read_file(run_dir, runs.CONFIG).get("data", {}))
    else:
        model = build_task_model(cfg) if cfg.finetune is not None else build_model(cfg.model)
    ckpt.load_weights(model, path)
    if merge:
        model = merge_adapters(model)
    model.to(resolve_device(device)).eval()
    return LoadedRun(run_dir, cfg, tokenizer, model, path)


def require_objective(loaded: LoadedRun, objective: str) -> None:
    """Refuse a run of another objective (a GPT for fill-mask, a classifier for chat, ...)."""
    if loaded.config.objective != objective:
        want, have = objective_spec(objective), loaded.config.spec
        raise UserError(f"{loaded.run_dir} is a {have.title} run; this needs a {want.title} "
                        "run.", field="run")


def require_task(loaded: LoadedRun, family: str | None = None) -> FinetuneConfig:
    """The run's fine-tuning config; refuse a pretraining run, or a task of another family."""
    ft = loaded.config.finetune
    if ft is None or (family is not None and ft.spec.family != family):
        have = loaded.config.spec.title
        want = "a fine-tuned" if family is None else f"a fine-tuned {family}"
        raise UserError(f"{loaded.run_dir} is a {have} run; this needs {want} run.", field="run")
    return ft
