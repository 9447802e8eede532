"""Export a LoRA run's adapters as a PEFT folder: adapter_config.json and
adapter_model.safetensors, which `peft.PeftModel.from_pretrained` loads onto the Hugging Face
export of the base run (`export --format hf` of that run, loaded with the task's transformers
class: AutoModelForCausalLM, AutoModelForSequenceClassification, ...).

The folder is written by PEFT itself (`save_pretrained`) from a PEFT model built on the
transformers model: the adapters' A and B are copied under transformers' module names (GPT-2's
Conv1D layers take them with `fan_in_fan_out`, as PEFT does for GPT-2), and whatever the task
adds to the base export (the head; for GPT-2's classifier the final LayerNorm that carries the
head's bias; for BERT's the pooler, see hf_export.py) travels as `modules_to_save`.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import UserError
from ..inference.loading import LoadedRun, load_run
from ..models.lora import merge, require_peft
from .hf_export import ExportResult, build_hf_model
from .staging import Progress, folder_bytes, require_transformers, staged_folder


def hf_module_name(name: str, arch: str) -> str:
    """The transformers name of one of our modules (a body's, in a task model or not)."""
    bare = name.removeprefix("body.")
    return f"bert.{bare}" if arch == "bert" else bare


def _unloaded(model: nn.Module) -> nn.Module:
    """Our plain model without the adapters (base weights; the head as it started)."""
    plain: nn.Module = copy.deepcopy(model).unload()  # type: ignore[operator]
    return plain


def _added_modules(merged: dict[str, Any], hf_reference: nn.Module,
                   adapted: set[str]) -> list[str]:
    """The modules of the merged export, other than the `adapted` ones, whose weights the base
    run's own export lacks or holds otherwise: what the task adds, saved in full."""
    reference = hf_reference.state_dict()
    added = set()
    for key, value in merged.items():
        if key.rsplit(".", 1)[0] in adapted:
            continue
        if key not in reference or reference[key].shape != value.shape \
                or not bool((reference[key] == value).all()):
            added.add(key.rsplit(".", 1)[0])
    return sorted(added)


def _base_export(transformers: Any, loaded: LoadedRun) -> nn.Module:
    """The transformers model of the base run itself (what `export --format hf` of it holds)."""
    ft = loaded.config.finetune
    assert ft is not None
    base = load_run(Path(ft.base_run), "best", "cpu")
    model: nn.Module = build_hf_model(transformers, base.model, base.config, base.tokenizer)
    return model


def adapter_model(loaded: LoadedRun) -> Any:
    """A PEFT model on the transformers form of the run's base, holding the run's adapters and
    task modules (a `peft.PeftModel`)."""
    peft, transformers = require_peft(), require_transformers()
    cfg, ours = loaded.config, loaded.model
    lora, arch = cfg.lora, cfg.model.arch
    assert lora is not None
    tok = loaded.tokenizer
    hf_base = build_hf_model(transformers, _unloaded(ours), cfg, tok)
    merged_sd = build_hf_model(transformers, merge(copy.deepcopy(ours)), cfg, tok).state_dict()
    ours_names = ours.peft_config["default"].target_modules  # type: ignore[index,union-attr]
    hf_names = {hf_module_name(n, arch): n for n in ours_names}
    heads = _added_modules(merged_sd, _base_export(transformers, loaded), set(hf_names))
    config = peft.LoraConfig(
        r=lora.r, lora_alpha=lora.lora_alpha, lora_dropout=lora.lora_dropout,
        target_modules=sorted(hf_names), modules_to_save=heads or None, bias="none",
        fan_in_fan_out=arch == "gpt", base_model_name_or_path=cfg.finetune.base_run
        if cfg.finetune else None)
    hf_peft = peft.get_peft_model(hf_base, config)
    params = dict(hf_peft.named_parameters())
    ours_params = dict(ours.named_parameters())
    for hf_name, name in hf_names.items():
        for part in ("lora_A", "lora_B"):
            src = ours_params[f"base_model.model.{name}.{part}.default.weight"]
            params[f"base_model.model.{hf_name}.{part}.default.weight"].data.copy_(src.detach())
    for key, value in merged_sd.items():
        module, _, leaf = key.rpartition(".")
        if module in heads:
            params[f"base_model.model.{module}.modules_to_save.default.{leaf}"].data.copy_(value)
    return hf_peft


def export_peft(run_dir: Path, out: Path, checkpoint: str = "best",
                progress: Progress | None = None) -> ExportResult:
    """Write the LoRA run `run_dir`'s adapters as a PEFT folder `out` (new, or empty).

    Raises UserError for a run without adapters (export it with format hf), a missing peft or
    transformers, a head transformers lacks; nothing is written then.
    """
    start = time.monotonic()
    report = progress or (lambda stage, done: None)
    report("loading the run", 0.0)
    loaded = load_run(Path(run_dir), checkpoint, "cpu", merge=False)
    if loaded.config.lora is None:
        raise UserError(f"{run_dir} trained every weight, not LoRA adapters: export it with "
                        "format hf (or gguf).", field="format", option="hf")
    report("converting the adapters", 0.3)
    hf_peft = adapter_model(loaded)
    report("writing", 0.6)
    with staged_folder(Path(out)) as tmp:
        hf_peft.save_pretrained(str(tmp))
    report("done", 1.0)
    return ExportResult(Path(out), "PEFT LoRA adapters", folder_bytes(Path(out)),
                        time.monotonic() - start)
