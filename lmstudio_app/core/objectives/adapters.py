"""A LoRA run's model: its base run's frozen weights plus the run's own adapters and head.

A LoRA run keeps only what it trains (checkpoint.adapter_tensors); config.json names the base
run, the base weights file and that file's SHA-256, so the run is rebuilt from them
(`build_adapted`) and a base that changed since is refused rather than silently combined.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from torch import nn

from ..config import RunConfig
from ..errors import UserError
from ..models import build_model
from ..models.heads import build_task_model
from ..models.lora import add_adapters
from ..models.vocab_rows import with_new_tokens
from ..runs import checkpoint as ckpt


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def record_base(info: dict[str, Any], base_weights: Path) -> None:
    """Note in the run's data facts which base weights its adapters sit on."""
    info["base_weights_sha256"] = file_sha256(base_weights)


def recorded_base(cfg: RunConfig, data: dict[str, Any]) -> Path:
    """The base weights a LoRA run's adapters were trained on, checked against their digest.

    Raises UserError (field "base_run") when the file is gone or holds other weights now.
    """
    ft = cfg.finetune
    if ft is None or not ft.base_run:
        raise UserError("a LoRA run needs its base run.", field="base_run")
    path = Path(ft.base_run) / str(data.get("base_weights", ""))
    if not path.is_file():
        raise UserError(f"{path}: the base weights of this LoRA run are gone; put the base run "
                        "back where it was.", field="base_run")
    want = data.get("base_weights_sha256")
    if want and file_sha256(path) != want:
        raise UserError(f"{path}: these base weights changed since the adapters were trained "
                        f"(sha256 {want[:12]} recorded); restore that base run.",
                        field="base_run")
    return path


def adapted_model(cfg: RunConfig, base_weights: Path | None, training: bool = False,
                  new_rows: tuple[int, int] | None = None) -> nn.Module:
    """The run's network (body, task head) on `base_weights`, with fresh adapters when
    cfg.lora is set (for `training`, on a 4-bit base when it asks for QLoRA). `new_rows`
    (known, vocab_size): token ids known..vocab_size that a task added to the tokenizer get
    embedding rows initialised from the mean of the others (the body grows, and cfg.model's
    vocab_size with it)."""
    body = build_model(cfg.model)
    if base_weights is not None:
        ckpt.load_weights(body, base_weights)
    if new_rows is not None and new_rows[1] > new_rows[0]:
        body = with_new_tokens(body, cfg.model, *new_rows)
    model = build_task_model(cfg, body) if cfg.finetune is not None else body
    if cfg.lora is not None:
        model = add_adapters(model, cfg.lora, cfg.model.arch,
                             quantize=training and cfg.lora.load_in_4bit)
    return model


def build_adapted(cfg: RunConfig, data: dict[str, Any]) -> nn.Module:
    """A LoRA run's network on its recorded base weights, adapters not yet loaded."""
    return adapted_model(cfg, recorded_base(cfg, data))
