"""Open a run folder's model for inference (playground, generate, fill-mask)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .. import checkpoint as ckpt
from .. import runs
from ..config import RunConfig
from ..data.tokenizer import Tokenizer
from ..errors import UserError
from ..models import build_model
from ..util.device import resolve_device


@dataclass
class LoadedRun:
    run_dir: Path
    config: RunConfig
    tokenizer: Tokenizer
    model: nn.Module
    weights: Path


def weights_path(run_dir: Path, checkpoint: str = "best") -> Path:
    """best.safetensors when asked and present, else model.safetensors (the latest)."""
    run_dir = Path(run_dir)
    if checkpoint not in ("best", "latest"):
        raise UserError(f"checkpoint {checkpoint!r}: choose best or latest.")
    best, latest = run_dir / ckpt.BEST_WEIGHTS, run_dir / ckpt.WEIGHTS
    if checkpoint == "best" and best.is_file():
        return best
    if latest.is_file():
        return latest
    raise UserError(f"{run_dir}: no weights yet (the run has not reached its first checkpoint).")


def load_run(run_dir: Path, checkpoint: str = "best", device: str = "cpu") -> LoadedRun:
    """Build the run's model on `device`, load its weights and tokenizer, in eval mode."""
    run_dir = Path(run_dir)
    cfg = runs.read_config(run_dir)
    tokenizer = Tokenizer.load(run_dir / runs.TOKENIZER)
    path = weights_path(run_dir, checkpoint)
    if cfg.finetune is not None:
        # A fine-tuned run: its body plus the task's head, shaped by config.json.
        from ..models.heads import build_task_model

        model = build_task_model(cfg)
    else:
        model = build_model(cfg.model)
    ckpt.load_weights(model, path)
    model.to(resolve_device(device)).eval()
    return LoadedRun(run_dir, cfg, tokenizer, model, path)


def require_objective(loaded: LoadedRun, objective: str, command: str) -> None:
    if loaded.config.finetune is not None and objective in ("clm", "mlm"):
        raise UserError(
            f"{loaded.run_dir} is a fine-tuned {loaded.config.objective} run; {command} needs a "
            f"pretrained {'GPT (clm)' if objective == 'clm' else 'BERT (mlm)'} run."
        )
    if loaded.config.objective != objective:
        kind = {"clm": "a GPT (clm)", "mlm": "a BERT (mlm)"}[objective]
        raise UserError(
            f"{loaded.run_dir} is a {loaded.config.objective} run; {command} needs {kind} run."
        )


