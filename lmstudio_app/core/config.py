"""Run configuration as dataclasses, validated once at the edge.

`ModelConfig` is the architecture, `TrainConfig` the optimisation, `RunConfig` ties them to the
data and the objective. Field names shared with nanoGPT keep nanoGPT's spelling (n_layer, n_head,
n_embd, block_size, dropout, batch_size, learning_rate) so `--set` overrides read the same.
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import UserError
from .util.atomic import atomic_write_text

OBJECTIVES = ("clm", "mlm")
ARCH_FOR_OBJECTIVE = {"clm": "gpt", "mlm": "bert"}
TASKS = ("classify", "qa-extractive", "qa-generative")
# Which architectures each fine-tuning task can start from.
ARCHS_FOR_TASK = {"classify": ("gpt", "bert"), "qa-extractive": ("bert",),
                  "qa-generative": ("gpt",)}


@dataclass
class ModelConfig:
    """The shape of a GPT-style decoder or BERT-style encoder."""

    arch: str = "gpt"  # "gpt" (causal decoder) or "bert" (bidirectional encoder)
    vocab_size: int = 8000
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128  # tokens per training window
    max_positions: int = 0  # rows of the position table; 0 means "same as block_size"
    dropout: float = 0.0
    bias: bool = True
    type_vocab_size: int = 2  # BERT segment embeddings (question / context)

    def __post_init__(self) -> None:
        if self.max_positions == 0:
            self.max_positions = self.block_size

    def validate(self) -> None:
        if self.arch not in ("gpt", "bert"):
            raise UserError(f"arch={self.arch!r}: choose 'gpt' or 'bert'.")
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size", "max_positions"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}={getattr(self, name)}: must be at least 1.")
        if self.n_embd % self.n_head:
            raise UserError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                "choose a width that is a multiple of the number of heads."
            )
        if self.block_size > self.max_positions:
            raise UserError(
                f"block_size={self.block_size} is above the position table "
                f"(max_positions={self.max_positions}): lower block_size or raise max_positions."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout={self.dropout}: must be in [0, 1).")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


@dataclass
class TrainConfig:
    """How to optimise: schedule, batch, evaluation, checkpoints, device."""

    batch_size: int = 16
    grad_accum: int = 1
    learning_rate: float = 1e-3
    min_lr: float = 0.0  # 0 means learning_rate / 10
    warmup_steps: int = 0  # 0 means min(100, max_steps // 20)
    max_steps: int = 1000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 disables clipping
    eval_interval: int = 200
    eval_batches: int = 20
    log_interval: int = 10
    checkpoint_interval: int = 0  # 0 means every evaluation
    mask_prob: float = 0.15  # masked-LM selection rate
    seed: int = 1337
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    compile: bool = False
    sample_prompt: str = "\n"  # GPT runs: generated from at each evaluation ("" disables)
    sample_tokens: int = 48

    def __post_init__(self) -> None:
        if self.min_lr == 0.0:
            self.min_lr = self.learning_rate / 10
        if self.warmup_steps == 0:
            self.warmup_steps = min(100, self.max_steps // 20)
        if self.checkpoint_interval == 0:
            self.checkpoint_interval = self.eval_interval

    def validate(self) -> None:
        for name in ("batch_size", "grad_accum", "max_steps", "eval_interval", "eval_batches",
                     "log_interval", "checkpoint_interval"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}={getattr(self, name)}: must be at least 1.")
        if self.learning_rate <= 0:
            raise UserError(f"learning_rate={self.learning_rate}: must be positive.")
        if self.min_lr > self.learning_rate:
            raise UserError(f"min_lr={self.min_lr} is above learning_rate={self.learning_rate}.")
        if self.warmup_steps < 0 or self.warmup_steps > self.max_steps:
            raise UserError(f"warmup_steps={self.warmup_steps}: must be in [0, max_steps].")
        if not 0.0 < self.mask_prob < 1.0:
            raise UserError(f"mask_prob={self.mask_prob}: must be in (0, 1).")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise UserError(f"dtype={self.dtype!r}: choose auto, float32, bfloat16 or float16.")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise UserError(f"device={self.device!r}: choose auto, cpu, cuda, cuda:N or mps.")


@dataclass
class FinetuneConfig:
    """A fine-tuning task on a labeled dataset, starting from a pretrained run or from scratch."""

    task: str = "classify"  # classify | qa-extractive | qa-generative
    train_file: str = ""
    val_file: str = ""  # empty: split off the training file
    test_file: str = ""  # empty: split off the training file
    encoding: str = "utf-8"
    text_col: str = "text"
    label_col: str = "label"
    question_col: str = "question"
    context_col: str = "context"
    answer_col: str = "answer"
    answer_start_col: str = ""  # empty: find the answer in the context
    base_run: str = ""  # the pretrained run folder; empty with `scratch`
    scratch: bool = False  # random weights of the same shape, for comparison
    tokenizer_from: str = ""  # with scratch: a run or data folder holding tokenizer.model
    labels: list[str] = field(default_factory=list)  # class names, filled in from the data
    freeze_embeddings: bool = False
    freeze_layers: int = 0  # freeze the lowest N blocks of the body
    body_lr_scale: float = 1.0  # the body learns at learning_rate * this; the head at the full rate
    class_weights: bool = False  # weight the loss by inverse label frequency
    pooling: str = "auto"  # classify: auto (GPT last token, BERT [CLS]) | last | cls | mean
    max_length: int = 0  # tokens per example; 0 means the model's block_size
    stride: int = 64  # qa-extractive: overlap between windows of a long context
    template: str = "Context: {context}\nQuestion: {question}\nAnswer:"  # qa-generative prompt
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 1337

    def validate(self) -> None:
        if self.task not in TASKS:
            raise UserError(f"--task {self.task}: choose one of {', '.join(TASKS)}.")
        if not self.train_file:
            raise UserError("fine-tuning needs --train FILE.")
        if self.scratch == bool(self.base_run):
            raise UserError("choose where to start: --from RUN_DIR or --scratch --preset NAME.")
        if self.scratch and not self.tokenizer_from:
            raise UserError("--scratch needs --tokenizer-from RUN_DIR|DATA_DIR.")
        if self.freeze_layers < 0:
            raise UserError(f"freeze_layers={self.freeze_layers}: must be 0 or more.")
        if not 0.0 < self.body_lr_scale <= 10.0:
            raise UserError(f"body_lr_scale={self.body_lr_scale}: must be in (0, 10].")
        if self.pooling not in ("auto", "last", "cls", "mean"):
            raise UserError(f"pooling={self.pooling!r}: choose auto, last, cls or mean.")
        if self.stride < 1 or self.max_length < 0:
            raise UserError("stride must be at least 1 and max_length 0 or more.")
        if self.task == "qa-generative" and "{question}" not in self.template:
            raise UserError("the prompt template must contain {question}.")


@dataclass
class RunConfig:
    """Everything a pretraining run needs; saved as config.json in the run folder."""

    data_dir: str = ""
    objective: str = "clm"
    preset: str = "tiny"
    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig | None = None  # set for fine-tuning runs (objective = the task)

    @property
    def is_finetune(self) -> bool:
        return self.finetune is not None

    def validate(self) -> None:
        if self.finetune is not None:
            self.finetune.validate()
            if self.objective != self.finetune.task:
                raise UserError(f"objective {self.objective} differs from the fine-tuning task.")
            allowed = ARCHS_FOR_TASK[self.finetune.task]
            if self.model.arch not in allowed:
                kinds = " or ".join(a.upper() for a in allowed)
                raise UserError(
                    f"{self.finetune.task} needs a {kinds} model; this one is {self.model.arch}."
                )
        else:
            if self.objective not in OBJECTIVES:
                raise UserError(
                    f"objective={self.objective!r}: choose one of {', '.join(OBJECTIVES)}."
                )
            expected = ARCH_FOR_OBJECTIVE[self.objective]
            if self.model.arch != expected:
                raise UserError(
                    f"objective {self.objective} trains a {expected} model, "
                    f"not arch={self.model.arch}."
                )
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        model = _from_known_fields(ModelConfig, data.pop("model", {}))
        train = _from_known_fields(TrainConfig, data.pop("train", {}))
        ft = data.pop("finetune", None)
        finetune = _from_known_fields(FinetuneConfig, ft) if ft else None
        return _from_known_fields(cls, data, model=model, train=train, finetune=finetune)


def _from_known_fields(cls: type, data: dict[str, Any], **extra: Any) -> Any:
    """Build a dataclass from a dict, ignoring keys it does not know (newer or older files)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names}, **extra)


# ---------------------------------------------------------------------------------------------
# Presets: a model shape and the training settings that suit it.

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {  # about 1M parameters with an 8k vocabulary: minutes on a laptop CPU
        "model": {"n_layer": 4, "n_head": 4, "n_embd": 96, "block_size": 128},
        "train": {"batch_size": 16, "learning_rate": 2e-3, "max_steps": 2000},
    },
    "small": {  # about 14M parameters with an 8k vocabulary
        "model": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "dropout": 0.1},
        "train": {"batch_size": 32, "learning_rate": 6e-4, "max_steps": 5000},
    },
    "baby": {  # nanoGPT's CPU example shape (character vocabulary)
        "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0},
        "train": {"batch_size": 12, "learning_rate": 1e-3, "max_steps": 2000},
    },
    "gpt2-124m": {  # GPT-2 small's shape, for a GPU
        "model": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024, "dropout": 0.0},
        "train": {"batch_size": 12, "grad_accum": 40, "learning_rate": 6e-4, "max_steps": 600000,
                  "weight_decay": 0.1, "beta2": 0.95},
    },
    "bert-base": {  # BERT-base's shape, for a GPU
        "model": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 512, "dropout": 0.1},
        "train": {"batch_size": 32, "grad_accum": 8, "learning_rate": 1e-4, "max_steps": 100000,
                  "weight_decay": 0.01, "beta2": 0.999},
    },
}


def _coerce(value: str, target: Any, key: str) -> Any:
    """Parse a `--set` value into the type of the field it overrides."""
    if target is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UserError(f"--set {key}={value}: expected true or false.")
    try:
        return target(value)
    except ValueError:
        raise UserError(f"--set {key}={value}: expected a {target.__name__}.") from None


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def settable_fields() -> dict[str, str]:
    """Every key `--set` accepts, mapped to the section ("model" or "train") that holds it."""
    out = {name: "train" for name in _field_types(TrainConfig)}
    out.update({name: "model" for name in _field_types(ModelConfig) if name != "arch"})
    return out


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ["n_layer=4", "learning_rate=3e-4"] into typed values, refusing unknown keys."""
    types = {**_field_types(TrainConfig), **_field_types(ModelConfig)}
    known = settable_fields()
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise UserError(f"--set {pair}: write KEY=VALUE, for example --set n_layer=4.")
        if key not in known:
            raise UserError(
                f"--set {key}: unknown field. Known fields: {', '.join(sorted(known))}."
            )
        out[key] = _coerce(value.strip(), types[key], key)
    return out


def build_run_config(
    objective: str,
    preset: str,
    vocab_size: int,
    overrides: dict[str, Any] | None = None,
    data_dir: str = "",
    name: str = "",
) -> RunConfig:
    """A validated RunConfig from a preset plus field overrides (already typed)."""
    if preset not in PRESETS:
        raise UserError(f"preset {preset!r}: choose one of {', '.join(PRESETS)}.")
    if objective not in OBJECTIVES:
        raise UserError(f"objective {objective!r}: choose one of {', '.join(OBJECTIVES)}.")
    model_kw = dict(PRESETS[preset]["model"])
    train_kw = dict(PRESETS[preset]["train"])
    sections = settable_fields()
    for key, value in (overrides or {}).items():
        (model_kw if sections[key] == "model" else train_kw)[key] = value
    model_kw["arch"] = ARCH_FOR_OBJECTIVE[objective]
    model_kw.setdefault("vocab_size", vocab_size)
    cfg = RunConfig(
        data_dir=data_dir,
        objective=objective,
        preset=preset,
        name=name or f"{preset}-{objective}",
        model=ModelConfig(**model_kw),
        train=TrainConfig(**train_kw),
    )
    cfg.validate()
    return cfg


def save_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically: a temporary name, then os.replace."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")

