"""Fine-tuning set-up: a labeled dataset, a pretrained run (or random weights of its shape) and
a task, made into a model, its objective and what config.json records.

The model, the tokenizer and the class names are recorded in config.json, so
`inference.loading.load_run` rebuilds a fine-tuned model from its run folder.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from .. import runs
from ..config import (
    ARCH_TITLES,
    FinetuneConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    needs_arch,
    objective_spec,
    split_overrides,
)
from ..data import labeled
from ..data.conversations import Check, load_conversation_splits
from ..data.layout import TOKENIZER
from ..data.preference import load_preference_splits
from ..data.tokenizer_base import BaseTokenizer as Tokenizer
from ..data.tokenizer_files import find_tokenizer, load_tokenizer
from ..errors import UserError
from ..models import BODY_NAMES
from ..models.heads import default_pooling
from ..presets import FINETUNE_TRAIN, preset_names, preset_part
from ..runs.weights import weights_path
from ..util.device import process_rank
from .adapters import adapted_model, record_base, recorded_base
from .base import Setup
from .task import TaskObjective, finetune_of, max_length


def tokenizer_file(folder: Path, field: str) -> Path:
    """The tokenizer file of a run or data folder (or the file itself); `field` names the
    setting that gave the folder, for the error."""
    path = find_tokenizer(folder)
    if path is None:
        raise UserError(f"{folder}: no {TOKENIZER} here; name a run folder or a prepared data "
                        "folder.", field=field)
    return path


def read_base(base: Path, task: str) -> tuple[RunConfig, dict[str, Any]]:
    """The config and recorded data facts of a pretrained run to start `task` from."""
    if not runs.is_run_dir(base):
        raise UserError(f"{base}: not a run folder (no {runs.CONFIG}); start from a pretrained "
                        "run.", field="base_run")
    cfg = runs.read_config(base)
    if cfg.is_finetune:
        raise UserError(f"{base} is a fine-tuned ({cfg.objective}) run; start from a "
                        "pretraining (clm or mlm) run.", field="base_run")
    spec = objective_spec(task, "task")
    if cfg.model.arch not in spec.archs:
        raise UserError(f"{base} is a {ARCH_TITLES[cfg.model.arch]} run; {task} needs "
                        f"{needs_arch(spec)} run.", field="base_run")
    return cfg, runs.read_file(base, runs.CONFIG).get("data", {})


def _base_tokenizer(base: Path, recorded_sha: str | None) -> Tokenizer:
    path = tokenizer_file(base, "base_run")
    tokenizer = load_tokenizer(path)
    if recorded_sha and recorded_sha != tokenizer.sha256:
        raise UserError(
            f"{base}: {path.name} differs from the tokenizer this run was trained with "
            f"(sha256 {tokenizer.sha256[:12]} vs {recorded_sha[:12]} in {runs.CONFIG}); put the "
            f"run's own {path.name} back.", field="base_run")
    return tokenizer


def _check_vocab(tokenizer: Tokenizer, model: ModelConfig, origin: str, field: str) -> None:
    if tokenizer.vocab_size != model.vocab_size:
        raise UserError(
            f"{origin}: its tokenizer has {tokenizer.vocab_size} pieces but the model's "
            f"vocabulary is {model.vocab_size}; use the tokenizer the model was made for.",
            field=field)


def columns_of(ft: FinetuneConfig) -> labeled.ClassificationColumns | labeled.QAColumns:
    """The labeled file's columns, as the task's family reads them."""
    if ft.spec.family == "classify":
        return labeled.ClassificationColumns(text=ft.text_col, label=ft.label_col)
    return labeled.QAColumns(question=ft.question_col, context=ft.context_col,
                             answer=ft.answer_col, answer_start=ft.answer_start_col or None)


def load_task_data(
    ft: FinetuneConfig, check: Check | None = None,
) -> tuple[labeled.Split[Any], dict[str, labeled.ValidationReport]]:
    """The train / validation / test split of a fine-tuning config's files (a chat task's
    conversations pass `check`, else are skipped and reported by line)."""
    if ft.spec.family == "chat":
        return load_conversation_splits(
            ft.train_file, ft.val_file or None, ft.test_file or None, encoding=ft.encoding,
            val_fraction=ft.val_fraction, test_fraction=ft.test_fraction, seed=ft.split_seed,
            delimiter=ft.delimiter, quoting=ft.quoting, check=check)
    if ft.spec.family == "preference":
        return load_preference_splits(
            ft.train_file, ft.val_file or None, ft.test_file or None, encoding=ft.encoding,
            val_fraction=ft.val_fraction, test_fraction=ft.test_fraction, seed=ft.split_seed,
            delimiter=ft.delimiter, quoting=ft.quoting)
    return labeled.load_splits(
        ft.train_file, ft.val_file or None, ft.test_file or None, columns=columns_of(ft),
        encoding=ft.encoding, val_fraction=ft.val_fraction, test_fraction=ft.test_fraction,
        seed=ft.split_seed, delimiter=ft.delimiter, quoting=ft.quoting,
        keep_label_case=ft.keep_label_case,
    )


def _freeze(model: nn.Module, ft: FinetuneConfig, mcfg: ModelConfig) -> list[str]:
    """Switch off gradients of the embeddings and the lowest blocks; the names frozen."""
    if ft.freeze_layers > mcfg.n_layer:
        raise UserError(f"freeze_layers={ft.freeze_layers}: the model has only {mcfg.n_layer} "
                        "layers.", field="freeze_layers", option=str(mcfg.n_layer))
    embeddings, block = BODY_NAMES[mcfg.arch]
    prefixes: list[str] = list(embeddings) if ft.freeze_embeddings else []
    prefixes += [block.format(k) for k in range(ft.freeze_layers)]
    frozen = []
    for name, p in model.named_parameters():
        bare = name.removeprefix("body.")
        if any(bare.startswith(x) for x in prefixes):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def _base_weights(base: Path) -> Path:
    return weights_path(base, "best", field="base_run")


def _starting_point(cfg: RunConfig, ft: FinetuneConfig, run_dir: Path, resume: bool,
                    info: dict[str, Any]) -> tuple[Tokenizer, Path | None]:
    """The run's tokenizer and the weights its body starts from (None: random, or the run's own
    on resume), noted in `info`. A fine-tune of a base run takes that run's model shape."""
    if resume:
        return load_tokenizer(run_dir, field="run"), None
    if ft.base_run:
        base = Path(ft.base_run)
        base_cfg, base_data = read_base(base, ft.task)
        tokenizer = _base_tokenizer(base, base_data.get("tokenizer_sha256"))
        cfg.model = copy.deepcopy(base_cfg.model)
        body_weights = _base_weights(base)
        info.update(base_run=str(base.resolve()), base_weights=body_weights.name,
                    base_objective=base_cfg.objective)
        return tokenizer, body_weights
    tokenizer = load_tokenizer(tokenizer_file(Path(ft.tokenizer_from), "tokenizer_from"))
    _check_vocab(tokenizer, cfg.model, ft.tokenizer_from, "tokenizer_from")
    info.update(scratch=True, tokenizer_from=str(Path(ft.tokenizer_from).resolve()))
    return tokenizer, None


def _lora_base(cfg: RunConfig, run_dir: Path, body_weights: Path | None,
               info: dict[str, Any]) -> Path:
    """The frozen base of a LoRA run: the base run's weights (a resumed run: those recorded,
    checked against their digest)."""
    if body_weights is None:  # resumed: the base recorded when the run started
        return recorded_base(cfg, runs.read_file(run_dir, runs.CONFIG).get("data", {}))
    record_base(info, body_weights)
    return body_weights


def build_finetune_setup(cfg: RunConfig, run_dir: Path, resume: bool, seed: int,
                         objective_cls: type[TaskObjective]) -> Setup:
    """The task model (pretrained body or random of the same shape), its objective and data.

    Writes data_report.json (what the labeled files held) into `run_dir`.
    """
    ft = cfg.finetune
    if ft is None:
        raise ValueError("not a fine-tuning configuration")
    spec = ft.spec
    run_dir = Path(run_dir)
    info: dict[str, Any] = {"task": ft.task}
    tokenizer, body_weights = _starting_point(cfg, ft, run_dir, resume, info)
    if tokenizer.vocab_size > cfg.model.vocab_size:
        _check_vocab(tokenizer, cfg.model, ft.base_run or str(run_dir), "base_run")
    if max_length(cfg) > cfg.model.max_positions:
        raise UserError(f"max_length={max_length(cfg)} is above the model's "
                        f"{cfg.model.max_positions} positions; lower it.", field="max_length",
                        option=str(cfg.model.max_positions))
    known = tokenizer.vocab_size
    tokenizer, extras = objective_cls.adapt(cfg, tokenizer, run_dir, resume)

    split, reports = load_task_data(ft, extras.pop("check", None))
    objective_cls.prepare(ft, split, resume)
    if not resume and ft.pooling == "auto" and spec.head == "sequence-classification":
        # Written out with the labels: config.json says what the head reads.
        ft.pooling = default_pooling(cfg.model.arch, len(split.train))
    if cfg.lora is not None:
        if tokenizer.vocab_size > known:
            raise UserError(
                f"LoRA keeps the base's embeddings frozen, but the chat template adds "
                f"{tokenizer.vocab_size - known} tokens to the tokenizer; fine-tune in full, or "
                "start from a model whose tokenizer has the template's tokens.", field="lora")
        body_weights = _lora_base(cfg, run_dir, body_weights, info)
    model = adapted_model(cfg, body_weights, training=True,
                          new_rows=(known, tokenizer.vocab_size))
    frozen = _freeze(model, ft, cfg.model) if cfg.lora is None else []
    objective = objective_cls(cfg, tokenizer, split, seed, **extras)

    summary = "\n".join(r.summary() for r in reports.values())
    report = {
        "splits": dict(zip(("train", "val", "test"), split.sizes(), strict=True)),
        "files": {k: r.to_dict() for k, r in reports.items()},
        "summary": summary,
        "training_rows": len(objective.rows),
    }
    if process_rank() == 0:  # under torchrun, rank 0 alone writes the run folder
        run_dir.mkdir(parents=True, exist_ok=True)
        runs.write_json(run_dir, runs.DATA_REPORT, report)
        objective.write_files(run_dir)
    info.update(
        tokenizer_sha256=tokenizer.sha256, tokenizer_kind=tokenizer.kind,
        tokenizer_backend=tokenizer.backend,
        splits=report["splits"], training_rows=len(objective.rows), labels=list(ft.labels),
        skipped_rows=sum(len(r.skipped) for r in reports.values()), data_summary=summary,
        frozen_parameters=len(frozen), **objective.info(),
    )
    scale = ft.body_lr_scale
    lr_scale: Callable[[str], float] | None = None
    if spec.head is not None and scale != 1.0:  # a body and a new head learn at two rates
        def lr_scale(name: str) -> float:
            return scale if name.startswith("body.") else 1.0
    return Setup(model, objective, tokenizer, info, lr_scale)


def make_finetune_config(
    ft: FinetuneConfig,
    *,
    preset: str = "tiny",
    arch: str | None = None,
    overrides: dict[str, Any] | None = None,
    name: str = "",
) -> RunConfig:
    """A validated RunConfig for `ft`: the base run's shape, or `preset`'s from scratch.

    Training fields come from the preset, then FINETUNE_TRAIN, then `overrides`; model fields
    in `overrides` apply only to a model from scratch (a pretrained body keeps its shape, all
    but its dropout).
    """
    if ft.base_run:
        base_cfg, _ = read_base(Path(ft.base_run), ft.task)
        model_kw, train_kw = split_overrides(overrides or {}, model_fields=("dropout",))
        model = copy.deepcopy(base_cfg.model)
        model.dropout = model_kw.get("dropout", model.dropout)
        preset = base_cfg.preset
    else:
        arch = arch or ft.spec.archs[0]
        if preset not in preset_names(arch):
            raise UserError(f"preset {preset!r}: choose one of {', '.join(preset_names(arch))}.",
                            field="preset")
        model_kw, train_kw = split_overrides(overrides or {})
        tok = load_tokenizer(tokenizer_file(Path(ft.tokenizer_from or "."), "tokenizer_from"))
        model = ModelConfig(**{**preset_part(preset, arch, "model"), "arch": arch,
                               "vocab_size": tok.vocab_size, **model_kw})
    train = TrainConfig(**{**preset_part(preset, model.arch, "train"), **FINETUNE_TRAIN,
                           **train_kw})
    cfg = RunConfig(data_dir="", objective=ft.task, preset=preset,
                    name=name or f"{ft.task}-{'scratch' if ft.scratch else 'pretrained'}",
                    model=model, train=train, finetune=ft)
    cfg.validate()
    return cfg


def scratch_twin(cfg: RunConfig) -> RunConfig:
    """The same fine-tuning from random weights: same shape, tokenizer, seed and budget."""
    ft = cfg.finetune
    if ft is None or not ft.base_run:
        raise UserError("comparing with scratch needs a pretrained run to start from.",
                        field="base_run")
    twin = copy.deepcopy(cfg)
    twin_ft = finetune_of(twin)
    twin_ft.base_run = ""
    twin_ft.scratch = True
    twin_ft.tokenizer_from = ft.base_run
    twin_ft.labels = []
    twin.name = cfg.name.replace("pretrained", "scratch") if "pretrained" in cfg.name \
        else f"{cfg.name}-scratch"
    twin.validate()
    return twin
