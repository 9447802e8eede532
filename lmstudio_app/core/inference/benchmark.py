"""Benchmarks with EleutherAI's lm-evaluation-harness (`lm_eval`) on a run's own model.

`RunLM` is lm_eval's model interface (`lm_eval.api.model.TemplateLM`, an `LM`) over a loaded
causal run (GPT, Llama, an imported or a LoRA run as `load_run` gives it): log-likelihoods come
from our forward pass and generations from our sampler, so no export is needed. It follows
lm_eval's `hf` model (`lm_eval.models.huggingface.HFLM`) request for request: the same
context/continuation split (`TemplateLM._encode_pair`), the same left truncation to the model's
window, the same rolling windows for perplexity tasks, greedy generation cut at the `until`
strings. On a run exported with `export --format hf`, both give the same log-likelihoods.

Tasks are lm_eval's own (hellaswag, arc_easy, ...: their datasets come from the Hugging Face
Hub, or its cache when offline) or local YAML files in lm_eval's task format; a local YAML's
relative `data_files` are read beside it. The bundled `sentiment_mc` task (resources/benchmarks)
works out of the box, offline.

Reference: Gao et al., "A framework for few-shot language model evaluation" (EleutherAI,
lm-evaluation-harness, v0.4).
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..models.generate import as_decoder
from .loading import LoadedRun

INSTALL_HINT = "benchmarks need lm-evaluation-harness: pip install 'lmstudio-app[benchmark]'"
LOCAL_TASKS = "benchmarks"  # the bundled tasks' folder under resources/
SAMPLE_KEYS = ("doc_id", "target", "filtered_resps")  # kept per request in the results file


def _lm_eval() -> Any:
    try:
        import lm_eval
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return lm_eval


def bundled_tasks_dir() -> Path:
    """resources/benchmarks: the task YAMLs shipped with the app (in the wheel, else in the
    source tree)."""
    try:
        path = Path(str(importlib.resources.files("lmstudio_app.resources") / LOCAL_TASKS))
    except ModuleNotFoundError:
        path = Path()
    return path if path.is_dir() else Path(__file__).resolve().parents[3] / "resources" / \
        LOCAL_TASKS


def make_lm(loaded: LoadedRun, batch_size: int = 8) -> Any:
    """An lm_eval model (`RunLM`, a TemplateLM) over a causal run. Raises UserError for a BERT
    or a fine-tuned head (they cannot continue text) and when lm_eval is missing."""
    _lm_eval()
    try:
        as_decoder(loaded.model)
    except TypeError:
        raise UserError(f"{loaded.run_dir} is a {loaded.config.spec.title} run; benchmarks "
                        "need a causal language model (GPT or Llama).", field="run") from None
    from .lm_eval_model import RunLM

    return RunLM(loaded, batch_size)


# ---------------------------------------------------------------------------------------------
# Tasks


def _resolve_files(files: Any, folder: Path) -> Any:
    """data_files (a path, a list, or a split -> path(s) mapping) read relative to `folder`."""
    if isinstance(files, str):
        return files if "://" in files or Path(files).is_absolute() else str(folder / files)
    if isinstance(files, list):
        return [_resolve_files(f, folder) for f in files]
    if isinstance(files, dict):
        return {k: _resolve_files(v, folder) for k, v in files.items()}
    return files


def local_tasks(folders: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Task configs by name from the *.yaml files of `folders` (lm_eval's task format), with
    relative data_files made absolute (beside the YAML). Raises UserError for a YAML lm_eval
    cannot read, naming the file."""
    from lm_eval.tasks._yaml_loader import load_yaml

    found: dict[str, dict[str, Any]] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            raise UserError(f"{folder}: no such folder of task YAML files.", field="include")
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                cfg = load_yaml(path, resolve_func=True)
            except Exception as exc:  # yaml's and lm_eval's errors, named with the file
                raise UserError(f"{path}: not a task YAML lm_eval can read ({exc}).",
                                field="include") from None
            if isinstance(cfg, dict) and isinstance(cfg.get("task"), str):
                kwargs = dict(cfg.get("dataset_kwargs") or {})
                if "data_files" in kwargs:
                    kwargs["data_files"] = _resolve_files(kwargs["data_files"], path.parent)
                    cfg["dataset_kwargs"] = kwargs
                found[cfg["task"]] = cfg
    return found


def _offline_errors() -> tuple[type[BaseException], ...]:
    """The errors of a dataset that is neither cached nor downloadable."""
    kinds: list[type[BaseException]] = [ConnectionError, FileNotFoundError]
    try:
        from datasets.exceptions import DatasetNotFoundError  # type: ignore[import-untyped]
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

        kinds += [DatasetNotFoundError, LocalEntryNotFoundError, OfflineModeIsEnabled]
    except ImportError:
        pass
    try:
        import requests

        kinds.append(requests.exceptions.ConnectionError)
    except ImportError:
        pass
    return tuple(kinds)


def _dataset_of(manager: Any, spec: str | dict[str, Any]) -> str:
    if isinstance(spec, dict):
        files = (spec.get("dataset_kwargs") or {}).get("data_files")
        return str(files or spec.get("dataset_path", "?"))
    entry = manager.task_index.get(spec)
    cfg = getattr(entry, "cfg", None) or {}
    return str(cfg.get("dataset_path") or spec)


def load_tasks(names: list[str], include: Iterable[Path] = ()) -> tuple[Any, list[Any]]:
    """lm_eval's TaskManager and the Task (or Group) objects for `names`: local YAML tasks first
    (the bundled folder, then `include`), else lm_eval's own (indexing them takes seconds: only
    when a name is not local). Raises UserError for an unknown name, and, when
    a dataset is neither cached nor reachable, one line naming the task and its dataset."""
    from lm_eval.tasks import TaskManager

    local = local_tasks([bundled_tasks_dir(), *include])
    manager = TaskManager(include_path=[str(p) for p in include] or None) \
        if any(n not in local for n in names) else TaskManager(include_defaults=False)
    objects = []
    for name in names:
        spec: str | dict[str, Any] = local.get(name, name)
        if isinstance(spec, str) and spec not in manager.all_tasks:
            raise UserError(f"no benchmark task named {name!r} (lm_eval's task names, e.g. "
                            "hellaswag, arc_easy; or a local YAML's task with --include DIR).",
                            field="tasks", option=name)
        try:
            loaded = manager.load([spec])
        except _offline_errors() as exc:
            raise UserError(
                f"task {name}: its dataset {_dataset_of(manager, spec)} is not on this machine "
                f"and cannot be downloaded ({type(exc).__name__}); connect once to cache it, or "
                "give a local task (--include DIR).", field="tasks", option=name) from None
        tops = loaded["groups"].get(name) or list(loaded["tasks"].values())
        objects += tops if isinstance(tops, list) else [tops]
    return manager, objects


# ---------------------------------------------------------------------------------------------
# Evaluation


def _task_metrics(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} from lm_eval's results ("acc,none" -> "acc")."""
    out: dict[str, dict[str, float]] = {}
    for task, metrics in results.get("results", {}).items():
        out[task] = {key.split(",")[0].replace("sample_len", "n"): float(v)
                     for key, v in metrics.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def _samples(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per task and document: its id, target and the model's (filtered) responses."""
    return {task: [{k: s.get(k) for k in SAMPLE_KEYS} for s in rows]
            for task, rows in (results.get("samples") or {}).items()}


def run_benchmark(loaded: LoadedRun, tasks: list[str], *, limit: int | None = None,
                  num_fewshot: int | None = None, batch_size: int = 8,
                  include: Iterable[Path] = (), seed: int = 0,
                  lm_factory: Callable[[LoadedRun, int], Any] = make_lm) -> dict[str, Any]:
    """Evaluate `loaded` on `tasks` with lm_eval's `simple_evaluate` and our model.

    Returns {"settings": {...}, "tasks": {task: {metric: value}}, "samples": {task: [...]},
    "versions": {...}}; every request's log-likelihoods are in "samples" (filtered_resps).
    `limit`: at most that many documents per task. Raises UserError (missing lm_eval, an unknown
    task, a dataset that cannot be had offline, a run that is not a causal language model).
    """
    lm_eval = _lm_eval()
    lm = lm_factory(loaded, batch_size)
    manager, objects = load_tasks(tasks, include)
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    results = lm_eval.simple_evaluate(
        model=lm, tasks=objects, task_manager=manager, num_fewshot=num_fewshot, limit=limit,
        log_samples=True, bootstrap_iters=0, random_seed=seed, numpy_random_seed=seed,
        torch_random_seed=seed, fewshot_random_seed=seed)
    return {"settings": {"tasks": tasks, "limit": limit, "num_fewshot": num_fewshot,
                         "batch_size": batch_size, "weights": loaded.weights.name},
            "tasks": _task_metrics(results), "samples": _samples(results),
            "versions": {"lm_eval": getattr(lm_eval, "__version__", "?"),
                         **{k: str(v) for k, v in (results.get("versions") or {}).items()}}}
