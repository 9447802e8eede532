"""export --format peft: adapters that PeftModel.from_pretrained loads onto the base run's own
Hugging Face export give our LoRA run's outputs; hf and gguf write the merged model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.interchange.gguf_export import export_gguf
from lmstudio_app.core.interchange.hf_export import export_hf
from lmstudio_app.core.interchange.peft_export import export_peft
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.lora_fixtures import task_config

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

AUTO = {"classify": "AutoModelForSequenceClassification",
        "qa-generative": "AutoModelForCausalLM",
        "qa-extractive": "AutoModelForQuestionAnswering"}


def _lora_run(base: Path, task: str, out: Path) -> Path:
    cfg = task_config(base, task, 12, learning_rate=1e-2)
    result = Trainer(cfg, out, RecordingSink()).run()
    assert result.reason == "completed", result.error
    return out


def _ours(model: torch.nn.Module, task: str, ids: torch.Tensor) -> torch.Tensor:
    mask = torch.ones_like(ids)
    if task == "classify":
        return model(ids, mask)
    if task == "qa-extractive":
        return torch.stack(model(ids, mask, torch.zeros_like(ids)))
    out = model(ids)
    return out[0] if isinstance(out, tuple) else out


def _theirs(model: torch.nn.Module, task: str, ids: torch.Tensor) -> torch.Tensor:
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    if task == "qa-extractive":
        return torch.stack((out.start_logits, out.end_logits))
    return out.logits


@pytest.mark.parametrize(("arch", "task"), [
    ("gpt", "classify"), ("bert", "classify"), ("gpt", "qa-generative"),
    ("llama", "qa-generative"), ("bert", "qa-extractive")])
def test_exported_adapters_on_the_exported_base_give_our_outputs(arch, task, lora_bases,
                                                                 tmp_path):
    run = _lora_run(lora_bases[arch], task, tmp_path / "run")
    export_hf(lora_bases[arch], tmp_path / "base")
    result = export_peft(run, tmp_path / "adapter", "latest")
    files = {p.name for p in result.out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files
    config = json.loads((result.out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 16
    # Megabytes at most: the adapters, not the model.
    assert (result.out / "adapter_model.safetensors").stat().st_size < \
        (lora_bases[arch] / "best.safetensors").stat().st_size

    loaded = load_run(run, "latest")
    extra = {"num_labels": len(loaded.config.finetune.labels)} if task == "classify" else {}
    hf = getattr(transformers, AUTO[task]).from_pretrained(tmp_path / "base", **extra)
    adapted = peft.PeftModel.from_pretrained(hf, result.out).eval()
    ids = torch.randint(3, loaded.config.model.vocab_size, (1, 24))
    with torch.no_grad():
        ours, theirs = _ours(loaded.model, task, ids), _theirs(adapted, task, ids)
        with adapted.disable_adapter():
            bare = _theirs(adapted, task, ids)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
    assert not torch.allclose(ours, bare, atol=1e-3)  # the adapters carry the fine-tune


def test_hf_and_gguf_exports_of_a_lora_run_are_the_merged_model(lora_bases, tmp_path):
    run = _lora_run(lora_bases["gpt"], "qa-generative", tmp_path / "run")
    export_hf(run, tmp_path / "hf", "latest")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    merged = load_run(run, "latest").model
    ids = torch.randint(3, 300, (1, 16))
    with torch.no_grad():
        assert torch.allclose(_ours(merged, "qa-generative", ids), hf(ids).logits, atol=1e-4)
    pytest.importorskip("gguf")
    gguf = export_gguf(run, tmp_path / "m.gguf", "latest", "f32")
    assert gguf.out.stat().st_size > (run / "model.safetensors").stat().st_size


def test_peft_export_of_a_full_fine_tune_points_at_hf(lora_bases, tmp_path):
    cfg = task_config(lora_bases["gpt"], "classify", 2, full=True)
    assert Trainer(cfg, tmp_path / "run", RecordingSink()).run().reason == "completed"
    with pytest.raises(UserError) as err:
        export_peft(tmp_path / "run", tmp_path / "adapter")
    assert err.value.field == "format" and err.value.option == "hf"
    assert not (tmp_path / "adapter").exists()
