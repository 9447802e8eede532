"""Run configuration as dataclasses, validated once at the edge, and the table of objectives.

`ModelConfig` is the architecture, `TrainConfig` the optimisation, `FinetuneConfig` a labeled
task, `RunConfig` ties them to the data and the objective. Field names shared with nanoGPT keep
nanoGPT's spelling (n_layer, n_head, n_embd, block_size, dropout, batch_size, learning_rate) so
`--set` overrides read the same. A value the engine derives (the decay floor, the warm-up, the
checkpoint interval) is stored as None and derived again wherever it is read, so a resumed run
with another learning rate derives its floor from the new rate.

Every validation error names its field (`UserError.field`), so each face can point at it.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .config_json import from_known_fields, json_kind, section
from .errors import UserError
from .lora_config import LoraSettings
from .presets import PRESETS, preset_names, preset_part  # noqa: F401 (re-exported)
from .report_to import report_to_list

# ---------------------------------------------------------------------------------------------
# The objectives: the one table that names them.


@dataclass(frozen=True)
class ObjectiveSpec:
    """What an objective is, for everyone who must not import its code (config, models, faces).

    `archs` are the bodies it trains (the first is the default); `family` is the kind of labeled
    data a task reads ("classify", "qa" or "chat": conversations), None for pretraining on a
    token store; `head` is the layer a task puts on the body ("sequence-classification",
    "span"), None for the language model itself; `best_metric` is the validation score that
    picks best.safetensors (higher is better), None for the validation loss; `columns` are the
    FinetuneConfig fields naming its columns.
    """

    name: str
    title: str
    archs: tuple[str, ...]
    family: str | None = None
    head: str | None = None
    best_metric: str | None = None
    columns: tuple[str, ...] = ()

    @property
    def is_task(self) -> bool:
        """A fine-tuning task on labeled data (else pretraining on a token store)."""
        return self.family is not None


_QA_COLUMNS = ("question_col", "context_col", "answer_col", "answer_start_col")
OBJECTIVES: dict[str, ObjectiveSpec] = {s.name: s for s in (
    ObjectiveSpec("clm", "Causal LM (GPT)", ("gpt", "llama")),
    ObjectiveSpec("mlm", "Masked LM (BERT)", ("bert",)),
    ObjectiveSpec("classify", "Classify texts", ("gpt", "bert", "llama"), family="classify",
                  head="sequence-classification", best_metric="accuracy",
                  columns=("text_col", "label_col")),
    ObjectiveSpec("qa-extractive", "Extractive QA", ("bert", "gpt", "llama"), family="qa",
                  head="span", best_metric="f1", columns=_QA_COLUMNS),
    ObjectiveSpec("qa-generative", "Generative QA (GPT)", ("gpt", "llama"), family="qa",
                  best_metric="f1", columns=_QA_COLUMNS),
    ObjectiveSpec("sft", "Chat (SFT on conversations)", ("gpt", "llama"), family="chat"),
    ObjectiveSpec("dpo", "Preference tuning (DPO)", ("gpt", "llama"), family="preference"),
)}
PRETRAIN_OBJECTIVES = tuple(n for n, s in OBJECTIVES.items() if not s.is_task)
TASKS = tuple(n for n, s in OBJECTIVES.items() if s.is_task)
ARCHS = ("gpt", "bert", "llama")
ARCH_TITLES = {"gpt": "GPT", "bert": "BERT", "llama": "Llama"}
# The GELU of the feed-forward layers, by Hugging Face's names: "gelu" is the exact (erf) form,
# "gelu_new" GPT-2's tanh approximation (Hendrycks & Gimpel 2016), kept for imported GPT-2s.
ACTIVATIONS = ("gelu", "gelu_new")


def objective_spec(name: str, field_name: str = "objective") -> ObjectiveSpec:
    """The table's row for `name`; an unknown name is a UserError naming `field_name`."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        known = TASKS if field_name == "task" else tuple(OBJECTIVES)
        raise UserError(f"{field_name}={name!r}: choose one of {', '.join(known)}.",
                        field=field_name) from None


def needs_arch(spec: ObjectiveSpec) -> str:
    """"a GPT or BERT" (for messages saying which body an objective trains)."""
    return "a " + " or ".join(ARCH_TITLES[a] for a in spec.archs)


def _at_least_one(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise UserError(f"{name}={getattr(obj, name)}: must be at least 1.", field=name)


def _in_range(obj: Any, name: str, low: float, high: float, *, low_open: bool = False,
              high_open: bool = False) -> None:
    """A finite value in [low, high] (open ends where asked), else a UserError naming it."""
    value = getattr(obj, name)
    ok = math.isfinite(value) and (value > low if low_open else value >= low) \
        and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        upper = "" if high == math.inf else f", {high:g}"
        what = f"in {lo}{low:g}{upper}{hi}" if high != math.inf else \
            (f"above {low:g}" if low_open else f"{low:g} or more")
        raise UserError(f"{name}={value}: must be {what}.", field=name)


SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes a signed 64-bit seed


# ---------------------------------------------------------------------------------------------
# The sections of a run's configuration


@dataclass
class ModelConfig:
    """The shape of a GPT-style or Llama-style decoder or a BERT-style encoder."""

    arch: str = "gpt"  # "gpt", "llama" (causal decoders) or "bert" (bidirectional encoder)
    vocab_size: int = 8000
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128  # tokens per training window
    max_positions: int = 0  # rows of the position table; 0 means "same as block_size"
    dropout: float = 0.0
    bias: bool = True
    type_vocab_size: int = 2  # BERT segment embeddings (question / context)
    activation: str = "gelu"  # one of ACTIVATIONS
    # arch "llama" only (see arch_fields.py): Hugging Face's LlamaConfig/Qwen2Config/Qwen3Config
    n_kv_head: int = 0  # key/value heads (grouped-query attention); 0: n_head
    head_size: int = 0  # width of one head; 0: n_embd // n_head
    intermediate_size: int = 0  # SwiGLU width; 0: 4 * n_embd
    rope_theta: float = 10000.0
    rope_scaling: str = ""  # Hugging Face's rope_scaling as JSON; "": none
    norm_eps: float = 1e-5  # RMSNorm epsilon
    qkv_bias: bool = False  # biases on q, k, v (Qwen2)
    qk_norm: bool = False  # RMSNorm on each head's queries and keys (Qwen3)
    tie_word_embeddings: bool = True

    def __post_init__(self) -> None:
        # The position table is part of the weights' shape: once built, it is a fact of the model.
        if self.max_positions == 0:
            self.max_positions = self.block_size

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise UserError(f"arch={self.arch!r}: choose one of {', '.join(ARCHS)}.",
                            field="arch")
        _at_least_one(self, ("vocab_size", "n_layer", "n_head", "n_embd", "block_size",
                             "max_positions"))
        from .arch_fields import validate_llama_fields

        validate_llama_fields(self)
        if self.n_embd % self.n_head and not self.head_size:
            raise UserError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                "choose a width that is a multiple of the number of heads.",
                field=("n_embd", "n_head"),
            )
        if self.block_size > self.max_positions:
            raise UserError(
                f"block_size={self.block_size} is above the position table "
                f"(max_positions={self.max_positions}): lower block_size or raise max_positions.",
                field=("block_size", "max_positions"), option=str(self.max_positions),
            )
        _in_range(self, "dropout", 0.0, 1.0, high_open=True)
        _at_least_one(self, ("type_vocab_size",))
        if self.activation not in ACTIVATIONS:
            raise UserError(f"activation={self.activation!r}: choose one of "
                            f"{', '.join(ACTIVATIONS)}.", field="activation")

    @property
    def head_dim(self) -> int:
        return self.head_size or self.n_embd // self.n_head


@dataclass
class TrainConfig:
    """How to optimise: schedule, batch, evaluation, checkpoints, device.

    `min_lr`, `warmup_steps` and `checkpoint_interval` are None unless the user set them; the
    `*_value` properties give what the run uses. A fine-tune may leave `max_steps` and
    `eval_interval` None: they are derived from `num_train_epochs` and the training split's size
    when the run starts (`training.budget.resolve_budget`), so a user's own `max_steps` wins.
    """

    batch_size: int = 16
    grad_accum: int = 1
    learning_rate: float = 1e-3
    min_lr: float | None = None  # None: learning_rate / 10
    warmup_steps: int | None = None  # None: warmup_ratio * max_steps, else min(100, 5%)
    warmup_ratio: float | None = None  # share of max_steps spent warming up (HF's name)
    max_steps: int | None = 1000  # None: num_train_epochs passes over the training split
    num_train_epochs: float | None = None  # fine-tuning: the budget in passes over the train split
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 disables clipping
    eval_interval: int | None = 200  # None (fine-tuning): every half epoch
    early_stopping_patience: int | None = None  # evaluations without a new best; None/0: off
    eval_batches: int = 20
    log_interval: int = 10
    checkpoint_interval: int | None = None  # None: at every evaluation
    keep_checkpoints: int = 20  # weight snapshots kept along the curve, log-spaced; 0: none
    mask_prob: float = 0.15  # masked-LM selection rate
    seed: int = 1337
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    compile: bool = False
    optimizer: str = "adamw"  # adamw | muon (Muon on hidden matrices, AdamW on the rest)
    gradient_checkpointing: bool = False  # recompute block activations in the backward pass
    sample_prompt: str = "\n"  # GPT runs: generated from at each evaluation ("" disables)
    sample_tokens: int = 48
    # Trackers that receive every scalar of metrics.jsonl (Hugging Face's name): a comma list of
    # REPORT_TO, "all" (every one installed) or "none".
    report_to: str = "none"

    @property
    def min_lr_value(self) -> float:
        """The floor of the cosine decay (learning rate units)."""
        return self.learning_rate / 10 if self.min_lr is None else self.min_lr

    @property
    def warmup_steps_value(self) -> int:
        """Warm-up steps: the user's, else `warmup_ratio` of max_steps, else min(100, 5%)."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        steps = self.max_steps or 0  # 0 until a derived budget is resolved
        if self.warmup_ratio is not None:
            return round(self.warmup_ratio * steps)
        return min(100, steps // 20)

    @property
    def report_to_list(self) -> list[str]:
        """The trackers this run writes to (`report_to.report_to_list`)."""
        return report_to_list(self.report_to)

    @property
    def checkpoint_interval_value(self) -> int | None:
        return self.eval_interval if self.checkpoint_interval is None else self.checkpoint_interval

    @property
    def early_stopping(self) -> bool:
        return bool(self.early_stopping_patience)

    def validate(self) -> None:
        """Raises UserError naming the first field out of range (budget, optimizer, runtime)."""
        self._validate_budget()
        self._validate_optimizer()
        self._validate_runtime()

    def _validate_budget(self) -> None:
        _at_least_one(self, ("batch_size", "grad_accum", "eval_batches", "log_interval"))
        _at_least_one(self, tuple(n for n in ("max_steps", "eval_interval", "checkpoint_interval")
                                  if getattr(self, n) is not None))
        if self.max_steps is None and self.num_train_epochs is None:
            raise UserError("max_steps is unset and so is num_train_epochs: give one of them.",
                            field="max_steps", option="1000")
        if self.num_train_epochs is not None:
            _in_range(self, "num_train_epochs", 0.0, 10_000.0, low_open=True)
        if self.warmup_ratio is not None:
            _in_range(self, "warmup_ratio", 0.0, 1.0)
        if self.early_stopping_patience is not None and self.early_stopping_patience < 0:
            raise UserError(f"early_stopping_patience={self.early_stopping_patience}: must be 0 "
                            "(off) or more.", field="early_stopping_patience", option="0")

    def _validate_optimizer(self) -> None:
        _in_range(self, "learning_rate", 0.0, math.inf, low_open=True)
        _in_range(self, "weight_decay", 0.0, math.inf)
        _in_range(self, "beta1", 0.0, 1.0, high_open=True)
        _in_range(self, "beta2", 0.0, 1.0, high_open=True)
        _in_range(self, "grad_clip", 0.0, math.inf)
        _in_range(self, "seed", 0, SEED_MAX)
        if self.keep_checkpoints < 0:
            raise UserError(f"keep_checkpoints={self.keep_checkpoints}: must be 0 (keep no "
                            "snapshots) or more.", field="keep_checkpoints", option="20")
        if self.sample_tokens < 0:
            raise UserError(f"sample_tokens={self.sample_tokens}: must be 0 or more.",
                            field="sample_tokens")
        if self.min_lr is not None and not (math.isfinite(self.min_lr)
                                            and 0 <= self.min_lr <= self.learning_rate):
            raise UserError(
                f"min_lr={self.min_lr} is outside [0, learning_rate={self.learning_rate}]: "
                "lower it, or leave it unset (learning_rate / 10).", field="min_lr")
        if self.max_steps is not None and not 0 <= self.warmup_steps_value <= self.max_steps:
            raise UserError(f"warmup_steps={self.warmup_steps}: must be in [0, max_steps].",
                            field="warmup_steps")

    def _validate_runtime(self) -> None:
        if not 0.0 < self.mask_prob < 1.0:
            raise UserError(f"mask_prob={self.mask_prob}: must be in (0, 1).", field="mask_prob")
        from .arch_fields import validate_optimizer

        validate_optimizer(self.optimizer)
        report_to_list(self.report_to)
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise UserError(f"dtype={self.dtype!r}: choose auto, float32, bfloat16 or float16.",
                            field="dtype")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise UserError(f"device={self.device!r}: choose auto, cpu, cuda, cuda:N or mps.",
                            field="device")


POOLINGS = ("auto", "last", "cls", "mean", "eos")


@dataclass
class FinetuneConfig:
    """A fine-tuning task on a labeled dataset, starting from a pretrained run or from scratch."""

    task: str = "classify"  # one of TASKS
    train_file: str = ""
    val_file: str = ""  # empty: split off the training file
    test_file: str = ""  # empty: split off the training file
    encoding: str = "utf-8"
    delimiter: str = "auto"  # CSV/TSV: auto | comma | tab | semicolon | pipe
    quoting: str = "auto"  # CSV/TSV: auto | standard | none
    keep_label_case: bool = False  # keep labels that differ only in case as separate classes
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
    # classify: what the head reads. eos: an end token appended to the text (GPT); auto: the
    # body's default, written out when the run starts (BERT cls; GPT eos from 1,000 training
    # rows, else last); an "auto" stored by a run made before eos existed reads the last token.
    pooling: str = "auto"  # auto | last | cls | mean | eos
    max_length: int = 0  # tokens per example; 0 means the model's block_size
    stride: int = 64  # qa-extractive: overlap between windows of a long context
    template: str = "Context: {context}\nQuestion: {question}\nAnswer:"  # qa-generative prompt
    # sft (TRL's names): a Jinja chat template file ("": the model's own, else ChatML), loss on
    # the assistant's tokens only, and short conversations packed into full windows.
    chat_template: str = ""
    assistant_only_loss: bool = True
    packing: bool = False
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 1337
    beta: float = 0.1  # dpo: how far the tuned model may move from the reference (TRL's beta)

    @property
    def spec(self) -> ObjectiveSpec:
        return objective_spec(self.task, "task")

    def validate(self) -> None:
        spec = self.spec
        if not spec.is_task:
            raise UserError(f"task={self.task!r}: choose one of {', '.join(TASKS)}.",
                            field="task")
        if not self.train_file:
            raise UserError("fine-tuning needs a labeled training file.", field="train_file")
        if self.scratch == bool(self.base_run):
            raise UserError("choose where to start: a pretrained run, or random weights "
                            "(scratch) with a preset.", field="base_run")
        if self.scratch and not self.tokenizer_from:
            raise UserError("a model from scratch needs a tokenizer: name a run or data folder "
                            "that holds tokenizer.model.", field="tokenizer_from")
        if self.freeze_layers < 0:
            raise UserError(f"freeze_layers={self.freeze_layers}: must be 0 or more.",
                            field="freeze_layers")
        _in_range(self, "body_lr_scale", 0.0, 10.0, low_open=True)
        _in_range(self, "split_seed", 0, SEED_MAX)
        _in_range(self, "beta", 0.0, math.inf, low_open=True)
        from .data.delimited import check_options
        from .data.text import check_encoding

        check_encoding(self.encoding)
        check_options(self.delimiter, self.quoting)
        if self.pooling not in POOLINGS:
            raise UserError(f"pooling={self.pooling!r}: choose {', '.join(POOLINGS)}.",
                            field="pooling")
        if self.stride < 1:
            raise UserError(f"stride={self.stride}: must be at least 1.", field="stride")
        if self.max_length < 0:
            raise UserError(f"max_length={self.max_length}: must be 0 (the model's block_size) "
                            "or more.", field="max_length")
        if spec.family == "qa" and spec.head is None and "{question}" not in self.template:
            raise UserError("the prompt template must contain {question}.", field="template")


@dataclass
class RunConfig:
    """Everything a run needs; saved as config.json in the run folder."""

    data_dir: str = ""
    objective: str = "clm"
    preset: str = "tiny"
    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig | None = None  # set for fine-tuning runs (objective = the task)
    lora: LoraSettings | None = None  # set for runs that train LoRA adapters (models/lora.py)

    @property
    def is_finetune(self) -> bool:
        return self.finetune is not None

    @property
    def spec(self) -> ObjectiveSpec:
        return objective_spec(self.objective)

    def validate(self) -> None:
        spec = self.spec
        if self.finetune is not None:
            self.finetune.validate()
            if self.objective != self.finetune.task:
                raise UserError(f"objective {self.objective} differs from the fine-tuning task "
                                f"{self.finetune.task}.", field="objective")
        elif spec.is_task:
            raise UserError(f"objective {self.objective} is a fine-tuning task: it needs a "
                            "labeled dataset.", field="objective")
        if self.model.arch not in spec.archs:
            raise UserError(f"{self.objective} trains {needs_arch(spec)} model, not "
                            f"arch={self.model.arch}.", field="arch")
        if self.finetune is not None and self.finetune.pooling == "eos" \
                and self.model.arch == "bert":
            raise UserError("pooling=eos appends an end token for a GPT body to read; a BERT "
                            "reads [CLS] (pooling auto or cls).", field="pooling", option="cls")
        self.model.validate()
        self.train.validate()
        if self.lora is not None:
            self._validate_lora(self.lora)
        if not spec.is_task:  # epochs are counted over labeled rows: pretraining counts steps
            for name, option in (("max_steps", "1000"), ("eval_interval", "200")):
                if getattr(self.train, name) is None:
                    raise UserError(f"{name} is unset: pretraining needs a number of steps.",
                                    field=name, option=option)

    def _validate_lora(self, lora: LoraSettings) -> None:
        lora.validate(self.model.arch)
        if self.finetune is None or not self.finetune.base_run:
            raise UserError("LoRA adapts a pretrained model: fine-tune from a pretrained run.",
                            field="lora")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """From config.json's "run" object; keys this version does not know are ignored.

        Raises UserError naming the field when a value has the wrong type (a string where a
        number belongs, a list where a section belongs).
        """
        if not isinstance(data, dict):
            raise UserError(f"the run's settings are a {json_kind(data)}, not an object.")
        data = dict(data)
        model = from_known_fields(ModelConfig, section(data.pop("model", {}), "model"))
        train = from_known_fields(TrainConfig, section(data.pop("train", {}), "train"))
        ft = data.pop("finetune", None)
        finetune = from_known_fields(FinetuneConfig, section(ft, "finetune")) if ft else None
        lo = data.pop("lora", None)
        lora = from_known_fields(LoraSettings, section(lo, "lora")) if lo else None
        return from_known_fields(cls, data, model=model, train=train, finetune=finetune,
                                 lora=lora)


# Fields that hold paths: (section or "" for the run itself, field). Stored absolute, with the
# form relative to the run folder beside them, so a run resumes from any working folder and
# after its whole tree was moved.
PATH_FIELDS: tuple[tuple[str, str], ...] = (
    ("", "data_dir"), ("finetune", "train_file"), ("finetune", "val_file"),
    ("finetune", "test_file"), ("finetune", "base_run"), ("finetune", "tokenizer_from"),
)


# ---------------------------------------------------------------------------------------------
# Overrides: KEY=VALUE pairs typed by the field they set


def _coerce(value: str, target: Any, key: str) -> Any:
    """Parse an override's text into the type of the field it sets."""
    if target is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UserError(f"{key}={value}: expected true or false.", field=key)
    if value.lower() in ("", "none", "auto") and key in _DERIVED:
        return None
    try:
        out = target(value)
    except ValueError:
        kind = {int: "a whole number", float: "a number"}.get(target, target.__name__)
        raise UserError(f"{key}={value}: expected {kind}.", field=key) from None
    if isinstance(out, float) and not math.isfinite(out):
        raise UserError(f"{key}={value}: expected a finite number.", field=key)
    return out


_DERIVED = ("min_lr", "warmup_steps", "checkpoint_interval", "max_steps", "eval_interval",
            "num_train_epochs", "warmup_ratio", "early_stopping_patience")


def _field_types(cls: type) -> dict[str, Any]:
    """Each field's type, with `X | None` read as X."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        out[f.name] = args[0] if args and type(None) in typing.get_args(hint) else hint
    return out


def settable_fields() -> dict[str, str]:
    """Every key an override accepts, mapped to the section ("model" or "train") that holds it."""
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
            raise UserError(f"{pair}: write KEY=VALUE, for example n_layer=4.", field="set")
        if key not in known:
            raise UserError(f"{key}: unknown field. Known fields: {', '.join(sorted(known))}.",
                            field="set")
        out[key] = _coerce(value.strip(), types[key], key)
    return out


def split_overrides(overrides: dict[str, Any],
                    model_fields: tuple[str, ...] | None = None,
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Typed overrides as (model fields, train fields). Model fields outside `model_fields`
    (when given) are refused: a model that exists keeps its shape."""
    sections = settable_fields()
    model_kw: dict[str, Any] = {}
    train_kw: dict[str, Any] = {}
    for key, value in overrides.items():
        if sections[key] == "model":
            if model_fields is not None and key not in model_fields:
                allowed = ", ".join(model_fields) if model_fields else "none"
                raise UserError(f"{key}: this model already has its shape; of its fields only "
                                f"{allowed} can change.", field=key)
            model_kw[key] = value
        else:
            train_kw[key] = value
    return model_kw, train_kw


def build_run_config(
    objective: str,
    preset: str,
    vocab_size: int,
    overrides: dict[str, Any] | None = None,
    data_dir: str = "",
    name: str = "",
    arch: str | None = None,
) -> RunConfig:
    """A validated pretraining RunConfig from a preset (its sizes for `arch`, by default the
    objective's first) plus field overrides (already typed)."""
    spec = objective_spec(objective)
    arch = arch or spec.archs[0]
    if preset not in preset_names(arch):
        raise UserError(f"preset {preset!r}: choose one of {', '.join(preset_names(arch))}.",
                        field="preset")
    if spec.is_task:
        raise UserError(f"objective {objective!r}: pretraining is one of "
                        f"{', '.join(PRETRAIN_OBJECTIVES)}.", field="objective")
    model_kw, train_kw = split_overrides(overrides or {})
    model = ModelConfig(**{**preset_part(preset, arch, "model"), "arch": arch,
                           "vocab_size": vocab_size, **model_kw})
    train = TrainConfig(**{**preset_part(preset, arch, "train"), **train_kw})
    cfg = RunConfig(data_dir=data_dir, objective=objective, preset=preset,
                    name=name or f"{preset}-{objective}", model=model, train=train)
    cfg.validate()
    return cfg
