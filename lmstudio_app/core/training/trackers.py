"""Tracker sinks (`report_to`, Hugging Face's name): every scalar of metrics.jsonl, under the
same names, also written to TensorBoard, Trackio, Weights & Biases or MLflow.

A tag is a metrics record's key ("loss", "lr", "val_loss", ...); a figure nested in a record
(an evaluation's task metrics) is its path, "extra/accuracy". The step is the record's "step".
This is the one module that imports the trackers' libraries; `report_to.report_to_list` has
already refused a tracker that is not installed, before the run started.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..report_to import report_to_list
from .sinks import EvalMetrics, MetricsSink, StepMetrics

TENSORBOARD_DIR = "tensorboard"  # <run>/tensorboard/: TensorBoard's event files


def scalars(record: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """A metrics record's finite numbers by tag (nested keys joined with "/"), without "step"
    (the x-axis) and without text, flags or absent figures."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if key == "step" and not prefix:
            continue
        if isinstance(value, dict):
            out.update(scalars(value, f"{prefix}{key}/"))
        elif (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value)):
            out[prefix + key] = float(value)
    return out


class _Writer:
    """One tracker: log(tags, step), flush, close."""

    def log(self, values: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _TensorBoard(_Writer):
    """Event files in <run>/tensorboard/ (torch.utils.tensorboard's SummaryWriter). A resumed
    run purges the events past the step it resumed from."""

    def __init__(self, run_dir: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / TENSORBOARD_DIR),
                                    purge_step=start_step or None)

    def log(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _DictLogger(_Writer):
    """Trackers whose API is init(...), log(dict, step=...), finish(): trackio and wandb."""

    def __init__(self, module: str, cfg: RunConfig, run_dir: Path) -> None:
        self.lib: Any = importlib.import_module(module)
        kwargs: dict[str, Any] = {"project": "lmstudio_app", "name": run_dir.name,
                                  "config": cfg.to_dict()}
        if module == "wandb":
            kwargs["dir"] = str(run_dir)
        self.lib.init(**kwargs)

    def log(self, values: dict[str, float], step: int) -> None:
        self.lib.log(values, step=step)

    def close(self) -> None:
        self.lib.finish()


class _MLflow(_Writer):
    def __init__(self, cfg: RunConfig, run_dir: Path) -> None:
        self.lib: Any = importlib.import_module("mlflow")
        self.lib.start_run(run_name=run_dir.name)
        self.lib.log_params({f"{k}": str(v) for k, v in cfg.train.__dict__.items()})

    def log(self, values: dict[str, float], step: int) -> None:
        self.lib.log_metrics(values, step=step)

    def close(self) -> None:
        self.lib.end_run()


def _open(name: str, cfg: RunConfig, run_dir: Path, start_step: int) -> _Writer:
    if name == "tensorboard":
        return _TensorBoard(run_dir, start_step)
    if name == "mlflow":
        return _MLflow(cfg, run_dir)
    return _DictLogger(name, cfg, run_dir)


class TrackerSink(MetricsSink):
    """Writes each step and evaluation record's scalars to the trackers of `cfg.train.report_to`;
    they open when the run starts (`started`) and close with the run. A tracker that fails
    while the run trains is told once through `say` and dropped: a tracker never stops a run."""

    def __init__(self, cfg: RunConfig, run_dir: Path, say: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.names = report_to_list(cfg.train.report_to)
        self.writers: dict[str, _Writer] = {}
        self.say = say

    def started(self, info: dict[str, Any]) -> None:
        start = int(info.get("start_step") or 0)
        for name in self.names:
            try:
                self.writers[name] = _open(name, self.cfg, self.run_dir, start)
            except Exception as exc:  # a tracker's own failure (network, server)
                self._drop(name, exc)

    def _drop(self, name: str, exc: Exception) -> None:
        self.writers.pop(name, None)
        self.say(f"report_to {name}: {type(exc).__name__}: {exc}; no longer written")

    def _log(self, record: dict[str, Any], step: int, flush: bool) -> None:
        values = scalars(record)
        for name, writer in list(self.writers.items()):
            try:
                writer.log(values, step)
                if flush:
                    writer.flush()
            except Exception as exc:
                self._drop(name, exc)

    def step(self, m: StepMetrics) -> None:
        self._log(asdict(m), m.step, flush=False)

    def evaluation(self, m: EvalMetrics) -> None:
        self._log(asdict(m), m.step, flush=True)

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        self.writers.clear()
