"""config.json: the run's settings, its paths relative to the folder, its resumes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..config import PATH_FIELDS, RunConfig, split_overrides
from ..errors import UserError
from .folder import write_json
from .names import CONFIG


def read_config(run_dir: Path) -> RunConfig:
    """The run's configuration; UserError naming the file and what is wrong with it."""
    path = Path(run_dir) / CONFIG
    data = _config_data(run_dir)
    try:
        cfg = RunConfig.from_dict(data["run"] if "run" in data else data)
    except UserError as exc:
        raise UserError(f"{path}: damaged ({str(exc).rstrip('.')}); restore the file or start "
                        "a new run.", field="run") from None
    return cfg


def _config_data(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder (no {CONFIG}).", field="run") from None
    except IsADirectoryError:
        raise UserError(f"{path}: a folder, not a file.", field="run") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc}).", field="run") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: damaged (not UTF-8 text at byte {exc.start}); restore the "
                        "file or start a new run.", field="run") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: damaged (not valid JSON at line {exc.lineno}); restore the "
                        "file or start a new run.", field="run") from None
    except RecursionError:
        raise UserError(f"{path}: damaged (nested too deeply).", field="run") from None
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        raise UserError(f"{path}: damaged (a JSON {kind}, not an object); restore the file or "
                        "start a new run.", field="run")
    return data



def _get_path(cfg: RunConfig, section: str, name: str) -> str | None:
    holder = getattr(cfg, section) if section else cfg
    return getattr(holder, name) if holder is not None else None


def _set_path(cfg: RunConfig, section: str, name: str, value: str) -> None:
    holder = getattr(cfg, section) if section else cfg
    setattr(holder, name, value)


def absolute_paths(cfg: RunConfig) -> None:
    """Make the config's paths absolute (in place): the run no longer depends on the folder
    it was started from."""
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        if value:
            _set_path(cfg, section, name, os.path.abspath(os.path.expanduser(value)))


def relative_paths(cfg: RunConfig, run_dir: Path) -> dict[str, str]:
    """Each path of the config relative to the run folder (config.json's "paths")."""
    out = {}
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        if value:
            try:
                out[f"{section}.{name}" if section else name] = os.path.relpath(
                    value, os.path.abspath(run_dir))
            except ValueError:  # another drive (Windows)
                continue
    return out


def _locate_paths(cfg: RunConfig, run_dir: Path, relative: dict[str, Any]) -> None:
    """A path that no longer exists is looked for relative to the run folder (the tree moved)."""
    for section, name in PATH_FIELDS:
        value = _get_path(cfg, section, name)
        rel = relative.get(f"{section}.{name}" if section else name)
        if not value or os.path.exists(value) or not isinstance(rel, str):
            continue
        candidate = os.path.normpath(os.path.join(os.path.abspath(run_dir), rel))
        if os.path.exists(candidate):
            _set_path(cfg, section, name, candidate)


def write_config(run_dir: Path, cfg: RunConfig, data: dict[str, Any], parameters: int,
                 versions: dict[str, str], batch: dict[str, Any] | None = None) -> None:
    """config.json of a run that starts; `batch` notes the global batch (rows per step over
    all processes) where the trainer gives it."""
    out: dict[str, Any] = {
        "run": cfg.to_dict(), "paths": relative_paths(cfg, run_dir), "data": data,
        "parameters": parameters, "versions": versions,
    }
    if batch is not None:
        out["batch"] = batch
    write_json(run_dir, CONFIG, out)


def record_resume(run_dir: Path, cfg: RunConfig, step: int) -> None:
    """config.json after a resume: the run's settings as they now are (max_steps, learning
    rate, ...), and a line for the resume, what it changed."""
    data = _config_data(run_dir)
    before = data.get("run", {}).get("train", {}) if isinstance(data.get("run"), dict) else {}
    now = cfg.to_dict()
    changed = {k: [before.get(k), v] for k, v in now["train"].items() if before.get(k) != v}
    data["run"] = now
    data["paths"] = relative_paths(cfg, run_dir)
    resumes = data.get("resumes")
    resumes = resumes if isinstance(resumes, list) else []
    data["resumes"] = [*resumes, {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                  "changed": changed}]
    write_json(run_dir, CONFIG, data)


def resume_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The run's config with what a resumed run may change: training fields (max_steps, the
    learning rate, the device, ...). The model keeps its shape; derived values are derived again
    from the new settings. Paths that moved with the run folder are found again."""
    cfg = read_config(run_dir)
    relative = _config_data(run_dir).get("paths")
    _locate_paths(cfg, Path(run_dir), relative if isinstance(relative, dict) else {})
    _, train_kw = split_overrides(overrides or {}, model_fields=())
    for key, value in train_kw.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg
