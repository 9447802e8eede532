"""Checkpoints: weights in safetensors, training state in a weights-only torch file.

Both are written to a temporary name and moved into place, so a crash never leaves half a
checkpoint. State is loaded with `torch.load(weights_only=True)`: a file that carries pickled
code is refused before anything in it runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from .errors import UserError
from .util.atomic import atomic_path


def save_weights(model: torch.nn.Module, path: Path,
                 metadata: dict[str, str] | None = None) -> None:
    """Write the model's weights (tied tensors once) atomically."""
    with atomic_path(path) as tmp:
        save_model(model, str(tmp), metadata=metadata)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights into `model`; a shape or name mismatch is a UserError."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such weights file.", field="run")
    try:
        missing, unexpected = load_model(model, str(path), strict=False)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: cannot load these weights into the model ({first}).") from None
    if missing or unexpected:
        names = ", ".join(sorted(missing)[:3] + sorted(unexpected)[:3])
        raise UserError(
            f"{path}: the weights do not match the model described by config.json "
            f"(for example {names})."
        )


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write the resumable training state atomically (tensors and plain Python values only)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: Path) -> dict[str, Any]:
    """Load training state without executing any pickled code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no training state here; this run cannot be resumed.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, TypeError) as exc:
        if "weights_only" in str(exc) or isinstance(exc, pickle.UnpicklingError):
            raise UserError(
                f"{path}: refused. This file carries pickled Python objects beyond plain tensors, "
                "which could run code; nothing in it was executed. Only load checkpoints written "
                "by lmstudio_app, or start a new run."
            ) from None
        raise UserError(f"{path}: unreadable training state ({exc}).") from None
