"""Argument helpers shared by the commands: typed values checked at the edge, and the groups of
options several commands take (run folders, devices, overrides, labeled columns).

Each option's `dest` is the configuration field it sets, so an engine error that names a field
(`UserError.field`) finds its flag in the parser (`flag_for`).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ..core.arch_fields import OPTIMIZERS
from ..core.config import ARCHS, POOLINGS, SEED_MAX, TASKS, settable_fields
from ..core.data.delimited import DELIMITERS, QUOTINGS
from ..core.data.text import ENCODINGS
from ..core.data.tokenizer import MIN_VOCAB
from ..core.presets import LLAMA_PRESETS, PRESETS
from ..core.util.home import HOME_ENV, default_runs_root

ENCODING_CHOICES = ENCODINGS
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported as one line (and exit status 2), not the usage."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _number(kind: type, low: float | None = None, high: float | None = None,
            low_open: bool = False, what: str = "") -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: must be {what}")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


positive_int = _number(int, 1, what="at least 1")
count = _number(int, 0, what="0 or more")
fraction = _number(float, 0.0, 1.0, low_open=True, what="in (0, 1]")
share = _number(float, 0.0, 1.0, what="in [0, 1]")
non_negative = _number(float, 0.0, what="0 or more")
positive = _number(float, 0.0, low_open=True, what="above 0")
seed = _number(int, 0, SEED_MAX, what=f"from 0 to {SEED_MAX}")
val_share = _number(float, 0.0, 0.5, low_open=True, what="above 0 and at most 0.5")
body_scale = _number(float, 0.0, 10.0, low_open=True, what="above 0 and at most 10")
vocab_size = _number(int, MIN_VOCAB, 1 << 20, what=f"from {MIN_VOCAB} to {1 << 20}")
port = _number(int, 1, 65535, what="from 1 to 65535")


def add_set(s: argparse.ArgumentParser, what: str = "a field") -> None:
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override {what}, e.g. --set learning_rate=3e-4 "
                        f"(fields: {', '.join(sorted(settable_fields()))})")


def add_device(s: argparse.ArgumentParser, default: str | None = None) -> None:
    s.add_argument("--device", default=default, metavar="auto|cpu|cuda|cuda:N|mps",
                   help="default auto: CUDA, else MPS, else CPU")


RUNS_ROOT_HELP = ("where runs live (default: the runs folder of the app's data folder, shared "
                  f"with the window; ${HOME_ENV} moves the data folder)")


def runs_root(args: argparse.Namespace, name: str = "runs_root") -> Path:
    """The runs root the user named, else the one the window uses."""
    chosen = getattr(args, name)
    return Path(chosen) if chosen is not None else default_runs_root()


def add_run_folder(s: argparse.ArgumentParser) -> None:
    """Where a new run goes: --out, or a fresh folder under the runs root named --name."""
    s.add_argument("--out", metavar="RUN_DIR",
                   help="the run folder (default: <runs root>/<time>-<name>)")
    s.add_argument("--runs-root", type=Path, default=None, metavar="DIR",
                   help=RUNS_ROOT_HELP)
    s.add_argument("--name", help="a name for the run folder")
    s.add_argument("--json", action="store_true", help="one JSON object per line, for scripts")


def checkpoint_choice(text: str) -> str | int:
    """best, latest, or the step of a kept snapshot."""
    if text in ("best", "latest"):
        return text
    try:
        step = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: choose best, latest or the step of a kept checkpoint") from None
    if step < 0:
        raise argparse.ArgumentTypeError(f"{text}: a step is 0 or more")
    return step


def add_loaded_run(s: argparse.ArgumentParser, device: str = "auto") -> None:
    """A finished run to use: --run, which weights, on which device."""
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("--checkpoint", type=checkpoint_choice, default="best",
                   metavar="best|latest|STEP",
                   help="which weights: the best, the latest, or a kept snapshot's step")
    add_device(s, device)


def add_keep_checkpoints(s: argparse.ArgumentParser) -> None:
    s.add_argument("--keep-checkpoints", dest="keep_checkpoints", type=count, metavar="N",
                   help="weight snapshots kept along the curve, spread evenly in log steps, "
                        "plus the latest and the best (default 20; 0 keeps none)")


def add_report_to(s: argparse.ArgumentParser) -> None:
    s.add_argument("--report-to", dest="report_to", metavar="LIST",
                   help="trackers that also get every metric: a comma list of tensorboard "
                        "(event files in <run>/tensorboard/), trackio, wandb, mlflow; all; "
                        "default none")


def add_columns(s: argparse.ArgumentParser, defaults: bool) -> None:
    d = (lambda v: v) if defaults else (lambda v: None)
    g = s.add_argument_group("columns (CSV/TSV header names or JSONL fields)")
    g.add_argument("--text-col", default=d("text"), metavar="C", help="classify: the text")
    g.add_argument("--label-col", default=d("label"), metavar="L", help="classify: the label")
    g.add_argument("--question-col", default=d("question"), metavar="Q")
    g.add_argument("--context-col", default=d("context"), metavar="X")
    g.add_argument("--answer-col", default=d("answer"), metavar="A")
    g.add_argument("--answer-start-col", default=None, metavar="S",
                   help="the answer's character offset (default: found in the context)")


def add_encoding(s: argparse.ArgumentParser) -> None:
    """How files are read: encoding, and for CSV/TSV the delimiter and quoting."""
    s.add_argument("--encoding", choices=ENCODING_CHOICES, default="utf-8",
                   help="how to read files without a byte-order mark (default utf-8: refuse "
                        "bytes that are not UTF-8; replace marks them)")
    s.add_argument("--delimiter", choices=tuple(DELIMITERS), default="auto",
                   help="CSV/TSV: the field separator (default: tab for .tsv, else detected)")
    s.add_argument("--quoting", choices=QUOTINGS, default="auto",
                   help="CSV/TSV: standard double quotes, or none (quotes are text); auto: "
                        "standard, unless a TSV's first lines use quotes as text")


PRESET_CHOICES = sorted(set(PRESETS) | set(LLAMA_PRESETS))


def add_arch_optimizer(s: argparse.ArgumentParser) -> None:
    """--arch and --optimizer of a run from scratch."""
    s.add_argument("--arch", choices=ARCHS,
                   help="the architecture (default: the objective's, gpt for clm); a preset "
                        "gives each its sizes")
    s.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adamw, or muon (Muon on the hidden matrices, AdamW on the rest); "
                        "default: the preset's")


def add_finetune(s: argparse.ArgumentParser) -> None:
    """The options of a fine-tuning run (finetune and compare-init)."""
    s.add_argument("--task", choices=TASKS,
                   help="default: the one the training file's fields make (question, context, "
                        "answer: qa-extractive; text, label: classify)")
    s.add_argument("--train", dest="train_file", metavar="FILE",
                   help="labeled .csv .tsv or .jsonl (optionally .gz)")
    s.add_argument("--val", dest="val_file", metavar="FILE",
                   help="default: split off the training file")
    s.add_argument("--test", dest="test_file", metavar="FILE",
                   help="default: split off the training file")
    s.add_argument("--from", dest="base_run", metavar="RUN_DIR", help="the pretrained run")
    s.add_argument("--scratch", action="store_true", help="random weights instead")
    s.add_argument("--preset", default="tiny", choices=PRESET_CHOICES,
                   help="with --scratch: the model's shape")
    s.add_argument("--arch", choices=ARCHS,
                   help="with --scratch: the body (default: the task's first, gpt or bert)")
    s.add_argument("--tokenizer-from", metavar="RUN_DIR|DATA_DIR",
                   help="with --scratch: where tokenizer.model is")
    add_columns(s, defaults=True)
    add_encoding(s)
    s.add_argument("--max-steps", type=positive_int, metavar="N",
                   help="default: 3 epochs of the training rows, at least 300 steps")
    s.add_argument("--num-train-epochs", type=positive, metavar="E",
                   help="the budget in passes over the training rows (default 3)")
    s.add_argument("--early-stopping-patience", type=count, metavar="N",
                   help="stop after N evaluations without a better validation score "
                        "(default 0: off)")
    add_keep_checkpoints(s)
    add_report_to(s)
    add_set(s, "a training field")
    s.add_argument("--freeze-embeddings", action="store_true")
    s.add_argument("--freeze-layers", type=count, default=0, metavar="N",
                   help="freeze the lowest N blocks")
    s.add_argument("--body-lr-scale", type=body_scale, default=1.0, metavar="F",
                   help="the pretrained body learns at F times the head's rate")
    s.add_argument("--class-weights", action="store_true",
                   help="classify: weight the loss by inverse label frequency")
    s.add_argument("--pooling", choices=POOLINGS, default="auto",
                   help="classify: what the head reads (auto: BERT [CLS]; GPT an appended end "
                        "token, eos, from 1,000 training rows, else the last token)")
    s.add_argument("--max-length", type=count, default=0, metavar="N",
                   help="tokens per example (default: the model's block_size)")
    s.add_argument("--stride", type=positive_int, default=64, metavar="N",
                   help="qa-extractive: overlap of the windows of a long context")
    s.add_argument("--template", metavar="TEXT",
                   help="qa-generative prompt with {question} and {context} (\\n for newline)")
    s.add_argument("--val-fraction", type=share, default=0.1, metavar="F")
    s.add_argument("--test-fraction", type=share, default=0.1, metavar="F")
    s.add_argument("--split-seed", type=seed, default=1337, metavar="S")
    s.add_argument("--keep-label-case", action="store_true",
                   help="classify: keep labels that differ only in case as separate classes")
    add_sft(s)
    add_device(s)
    add_run_folder(s)
    add_lora(s)


def add_lora(s: argparse.ArgumentParser) -> None:
    """LoRA's options (PEFT's LoraConfig names: r, lora_alpha, lora_dropout, target_modules)."""
    g = s.add_argument_group("LoRA (low-rank adapters through peft; the base stays frozen)")
    g.add_argument("--lora", action="store_true",
                   help="train LoRA adapters and the task head instead of every weight")
    g.add_argument("--lora-r", dest="r", type=positive_int, metavar="R",
                   help="the adapters' rank (default 8)")
    g.add_argument("--lora-alpha", dest="lora_alpha", type=positive, metavar="A",
                   help="scale alpha / r on the adapters (default 16)")
    g.add_argument("--lora-dropout", dest="lora_dropout", type=share, metavar="P",
                   help="dropout on the adapters' input (default 0.05)")
    g.add_argument("--lora-target", dest="lora_target", metavar="NAMES",
                   help="comma-separated layer names, e.g. c_attn,c_fc (default: every linear "
                        "layer of the blocks)")
    g.add_argument("--qlora", dest="load_in_4bit", action="store_true",
                   help="LoRA on a 4-bit base (CUDA with bitsandbytes)")
    s.add_argument("--beta", type=positive, default=0.1, metavar="B",
                   help="dpo: how far the tuned model may move from its starting point "
                        "(TRL's beta; default 0.1)")


def add_sft(s: argparse.ArgumentParser) -> None:
    """The options of supervised fine-tuning on conversations (task sft; TRL's names)."""
    s.add_argument("--chat-template", metavar="FILE",
                   help="sft: a Jinja chat template (.jinja, or a tokenizer_config.json); "
                        "default: the model's own, else ChatML")
    s.add_argument("--assistant-only-loss", action=argparse.BooleanOptionalAction,
                   default=True, help="sft: loss on the assistant's tokens only (default on)")
    s.add_argument("--packing", action="store_true",
                   help="sft: pack short conversations into full windows")


def flag_for(parser: argparse.ArgumentParser, field: str) -> str | None:
    """The option that sets configuration field `field` in this command, if it has one."""
    for action in parser._actions:
        if action.dest == field and action.option_strings:
            return action.option_strings[0]
    if field in settable_fields() and any(a.dest == "set" for a in parser._actions):
        return "--set"
    return None
