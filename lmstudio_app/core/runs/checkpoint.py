"""Checkpoints: weights in safetensors, training state in a weights-only torch file, committed
together as one unit.

A checkpoint is model.safetensors, state.pt and (when the score improved) best.safetensors, all
of one step. They cannot be replaced at once, so a save is a small journal:

1. each file is written to a temporary name beside its place and fsynced;
2. checkpoint.json, naming the step and each temporary, replaces the old one atomically: this is
   the commit; before it the old checkpoint stands whole, after it the new one does;
3. each temporary is moved into place.

Whoever opens the folder to write next (`recover`, under the run's lock) finishes step 3 if a
kill stopped it, and removes temporaries of a save that never committed. Whatever dies when,
weights, state and the manifest agree. State is loaded with `torch.load(weights_only=True)`: a
file that carries pickled code is refused before anything in it runs.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from .. import runs
from ..errors import UserError
from ..util.atomic import atomic_path, atomic_write_json, fsync_dir, fsync_file, new_temporary
from ..util.disk import ensure_space, storage

MANIFEST_FORMAT = 1


def save_weights(model: torch.nn.Module, path: Path,
                 metadata: dict[str, str] | None = None) -> None:
    """Write the model's weights (tied tensors once) atomically, on their own (an export)."""
    with atomic_path(path, needed=weights_bytes(model)) as tmp:
        save_model(model, str(tmp), metadata=metadata)


def adapter_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """What a checkpoint of a model with PEFT adapters keeps: the parameters it trains (the
    adapters and the head, by their names in the adapted model); None for any other model,
    whose checkpoint keeps every tensor. The frozen base is its base run's weights."""
    if not hasattr(model, "peft_config"):
        return None
    return {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _write_weights(model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
    kept = adapter_tensors(model)
    if kept is None:
        save_model(model, str(path), metadata=metadata)
    else:
        save_file(kept, str(path), metadata=metadata)


def _load_adapters(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint of adapters and head into an adapted model: every trained tensor."""
    kept = adapter_tensors(model) or {}
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UserError(f"{path}: cannot read these weights ({exc}).", field="run") from None
    if set(tensors) != set(kept):
        odd = sorted(set(tensors) ^ set(kept))[:3]
        raise UserError(f"{path}: these adapters do not fit the model config.json describes "
                        f"(for example {', '.join(odd)}).", field="run")
    model.load_state_dict(tensors, strict=False)


def weights_bytes(model: torch.nn.Module) -> int:
    """About the size of the model's safetensors file (tied tensors once), in bytes."""
    seen: dict[int, int] = {}
    for t in model.state_dict().values():
        seen[t.untyped_storage().data_ptr()] = t.numel() * t.element_size()
    return sum(seen.values()) + (64 << 10)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights into `model`; a shape or name mismatch is a UserError. A model
    with adapters takes its trained tensors (`adapter_tensors`) from the file."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such weights file.", field="run")
    if hasattr(model, "peft_config"):
        _load_adapters(model, path)
        return
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
    if not all(bool(torch.isfinite(p).all()) for p in model.state_dict().values()
               if p.is_floating_point()):
        raise UserError(f"{path}: the weights hold NaN or infinite values (a run that "
                        "diverged); use another checkpoint or train again.", field="run")


def weights_step(path: Path) -> int | None:
    """The step recorded in a weights file's metadata, or None."""
    try:
        with safe_open(str(path), framework="pt") as f:
            step = (f.metadata() or {}).get("step")
    except (SafetensorError, OSError, RuntimeError):
        return None
    try:
        return int(step) if step is not None else None
    except ValueError:
        return None


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write the resumable training state atomically (tensors and plain Python values only)."""
    with atomic_path(path) as tmp:
        _write_state(state, tmp)


def _write_state(state: dict[str, Any], path: Path) -> None:
    # Through a Python file object, so a failed write keeps its OSError (torch's own writer
    # reports only "unexpected pos").
    with open(path, "wb") as fh:
        torch.save(state, fh)


def load_state(path: Path) -> dict[str, Any]:
    """Load training state without executing any pickled code."""
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        return state
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


# ---------------------------------------------------------------------------------------------
# The checkpoint as one unit


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """checkpoint.json of a run folder; None when there is none (no checkpoint yet, or a run
    folder written before manifests) or it cannot be read."""
    path = Path(run_dir) / runs.CHECKPOINT
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None


def committed_step(run_dir: Path) -> int | None:
    """The step of the run's last committed checkpoint, or None when it has none."""
    manifest = read_manifest(run_dir)
    if manifest is not None:
        return int(manifest.get("step", 0))
    run_dir = Path(run_dir)
    if (run_dir / runs.WEIGHTS).is_file() and (run_dir / runs.STATE).is_file():
        return weights_step(run_dir / runs.WEIGHTS)  # a folder written before manifests
    return None


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, state: dict[str, Any],
                    best: bool, metadata: dict[str, str]) -> None:
    """Commit the weights, the state (and, when `best`, best.safetensors) of `step` as one unit.

    Raises StorageError (nothing committed, the previous checkpoint intact) when the disk is
    full or the folder cannot be written.
    """
    run_dir = Path(run_dir)
    names = [runs.WEIGHTS, runs.STATE] + ([runs.BEST_WEIGHTS] if best else [])
    kept = adapter_tensors(model)
    size = weights_bytes(model) if kept is None else \
        sum(t.numel() * t.element_size() for t in kept.values()) + (64 << 10)
    needed = size * (2 if best else 1) + 3 * size  # the state holds two moments per weight
    ensure_space(run_dir / runs.WEIGHTS, needed)
    temps: dict[str, Path] = {}
    try:
        for name in names:
            temps[name] = new_temporary(run_dir / name)
            with storage(run_dir / name, needed):
                if name == runs.STATE:
                    _write_state(state, temps[name])
                else:
                    _write_weights(model, temps[name], metadata)
                fsync_file(temps[name])
        manifest = {
            "format": MANIFEST_FORMAT,
            "step": step,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "files": {name: {"temporary": temps[name].name, "bytes": temps[name].stat().st_size}
                      for name in names},
        }
        previous = read_manifest(run_dir)
        if previous is not None and not best and "best_step" in previous:
            manifest["best_step"] = previous["best_step"]
        if best:
            manifest["best_step"] = step
        atomic_write_json(run_dir / runs.CHECKPOINT, manifest, parents=False)  # the commit
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    _install(run_dir, manifest)


def _install(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Move a committed checkpoint's temporaries into place (again after a kill: idempotent)."""
    moved = False
    for name, entry in manifest["files"].items():
        tmp = run_dir / str(entry.get("temporary", ""))
        if entry.get("temporary") and tmp.is_file():
            with storage(run_dir / name):
                os.replace(tmp, run_dir / name)
            moved = True
    if moved:
        fsync_dir(run_dir)


def recover(run_dir: Path) -> int | None:
    """Finish a committed checkpoint a kill interrupted; the committed step (None: none).

    Call it holding the run's lock, before removing the folder's temporaries.
    """
    manifest = read_manifest(run_dir)
    if manifest is not None:
        _install(Path(run_dir), manifest)
    return committed_step(run_dir)


def check_agreement(run_dir: Path, state: dict[str, Any]) -> None:
    """Refuse to resume from weights and state of different steps (a folder written before
    checkpoints were committed as a unit, killed between its files)."""
    w_step = weights_step(Path(run_dir) / runs.WEIGHTS)
    s_step = int(state.get("step", -1))
    if w_step is not None and w_step != s_step:
        raise UserError(
            f"{run_dir}: the weights are of step {w_step} but the training state of step "
            f"{s_step} (a save cut short by an older version); this run cannot continue "
            "exactly. Start a new run.", field="run")
