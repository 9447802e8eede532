"""`--config FILE`: train exactly the run a JSON file describes (a RunConfig: what the window's
form holds when it launches a run in other processes, or a run's config.json to train it again).

Training options given beside it (--max-steps, --device, --set of training fields) apply on top;
the model keeps the file's shape.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.config import RunConfig, split_overrides
from ..core.errors import UserError

FLAG = "--config"


def add_config(s: argparse.ArgumentParser) -> None:
    s.add_argument(FLAG, dest="config_file", metavar="FILE",
                   help="the run's settings as JSON (a run's config.json, or the object "
                        "RunConfig.to_dict gives); training options beside it apply on top")


def config_from_file(path: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The validated RunConfig in `path` ({"run": {...}} as in config.json, or the object
    itself), with training-field `overrides` applied.

    Raises UserError (field "config_file") when the file cannot be read or is not a run's
    settings; the engine's own UserError when a value is out of range."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file.", field="config_file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc}).",
                        field="config_file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); give a JSON file.",
                        field="config_file") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}).",
                        field="config_file") from None
    if isinstance(data, dict) and isinstance(data.get("run"), dict):
        data = data["run"]
    try:
        cfg = RunConfig.from_dict(data)
    except UserError as exc:
        raise UserError(f"{path}: {str(exc).rstrip('.')}; give a run's settings "
                        "(a run folder's config.json has them).", field="config_file") from None
    _, train_kw = split_overrides(overrides or {}, model_fields=())
    for key, value in train_kw.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg
