"""The model card (README.md) of a Hugging Face export: YAML metadata, then what the run is.

The metadata follows the Hub's model-card fields (huggingface.co/docs/hub/model-cards):
library_name, pipeline_tag, license, base_model (for a fine-tune of an imported model),
datasets (the training data's file names) and tags; the body gives the architecture, the
tokenizer, the training data's sizes and the run's figures (steps, best validation loss), and
how to load it. Nothing is guessed: a language the app does not know is not named, and the
license is the one the user gives (`other` when none is).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import runs
from ..config import RunConfig

# A transformers class name's ending -> the Hub's pipeline tag (GPT2LMHeadModel,
# LlamaForCausalLM, Qwen3ForCausalLM, BertForMaskedLM, ...ForSequenceClassification, ...).
PIPELINE_TAGS = {"LMHeadModel": "text-generation", "ForCausalLM": "text-generation",
                 "ForMaskedLM": "fill-mask", "ForSequenceClassification": "text-classification",
                 "ForQuestionAnswering": "question-answering"}
AUTO_CLASSES = {"text-generation": "AutoModelForCausalLM", "fill-mask": "AutoModelForMaskedLM",
                "text-classification": "AutoModelForSequenceClassification",
                "question-answering": "AutoModelForQuestionAnswering"}


def pipeline_tag(architecture: str) -> str:
    """The Hub's pipeline tag for a transformers model class; ValueError for a class of no
    known task."""
    for ending, tag in PIPELINE_TAGS.items():
        if architecture.endswith(ending):
            return tag
    raise ValueError(f"no pipeline tag for {architecture}")


def _yaml_value(value: Any) -> str:
    """A YAML scalar or flow list (JSON is valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _data_sources(cfg: RunConfig) -> list[tuple[str, int | None]]:
    """(file name, size in bytes) of the data the run trained on."""
    if cfg.finetune is not None:
        path = Path(cfg.finetune.train_file)
        return [(path.name, path.stat().st_size if path.is_file() else None)]
    prepare = Path(cfg.data_dir) / "prepare.json"
    try:
        sources = json.loads(prepare.read_text(encoding="utf-8")).get("sources", [])
    except (OSError, ValueError):
        return []
    return [(Path(str(s.get("path", "?"))).name, s.get("size")) for s in sources]


def _base_model(cfg: RunConfig) -> str | None:
    """The name of the run a fine-tune started from (its folder's name if unreadable)."""
    base = cfg.finetune.base_run if cfg.finetune is not None else ""
    if not base:
        return None
    try:
        return runs.read_config(Path(base)).name or Path(base).name
    except Exception:  # noqa: BLE001 - a base run moved away or damaged: its folder name
        return Path(base).name


def _metadata(cfg: RunConfig, tag: str, license_: str, sources: list[Any]) -> list[str]:
    lines = ["---", "library_name: transformers", f"pipeline_tag: {tag}",
             f"license: {_yaml_value(license_)}"]
    base = _base_model(cfg)
    if base:
        lines.append(f"base_model: {_yaml_value(base)}")
    if sources:
        lines.append(f"datasets: {_yaml_value([name for name, _ in sources])}")
    lines.append(f"tags: {_yaml_value(['lmstudio-app', cfg.model.arch, cfg.objective])}")
    return [*lines, "---"]


def model_card(run_dir: Path, cfg: RunConfig, architecture: str, n_params: int,
               tokenizer_kind: str, vocab_size: int, license_: str) -> str:
    """The README.md text for the export of `run_dir`."""
    tag = pipeline_tag(architecture)
    sources = _data_sources(cfg)
    summary = runs.summarize(run_dir)
    name = cfg.name or Path(run_dir).name
    best = f"{summary.best_val_loss:.4f}" if summary.best_val_loss is not None else "not measured"
    m = cfg.model
    body = [
        f"# {name}", "",
        f"A {cfg.spec.title} run exported as `{architecture}`.", "",
        "| | |", "| --- | --- |",
        f"| parameters | {n_params:,} |",
        f"| layers, heads, width | {m.n_layer}, {m.n_head}, {m.n_embd} |",
        f"| context | {m.max_positions} tokens |",
        f"| tokenizer | {tokenizer_kind}, {vocab_size:,} pieces |",
        f"| steps trained | {summary.step:,} of {summary.max_steps:,} |",
        f"| best validation loss | {best} |",
    ]
    for source, size in sources:
        body.append(f"| training data | {source}" + (f", {size:,} bytes |" if size else " |"))
    body += ["", "```python",
             f"from transformers import AutoTokenizer, {AUTO_CLASSES[tag]}",
             'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")',
             f'model = {AUTO_CLASSES[tag]}.from_pretrained("path/to/this/folder")', "```", ""]
    return "\n".join(_metadata(cfg, tag, license_, sources) + [""] + body)
