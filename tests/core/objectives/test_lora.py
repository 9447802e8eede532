"""LoRA through PEFT on tiny real runs: what trains, what a checkpoint keeps, merging, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.lora_config import LoraSettings
from lmstudio_app.core.models import build_model
from lmstudio_app.core.models.heads import build_task_model
from lmstudio_app.core.models.lora import add_adapters, merge, peft_config, trainable_counts
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.control import RunControl
from lmstudio_app.core.training.sinks import MetricsSink, RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.lora_fixtures import LABELED, task_config

peft = pytest.importorskip("peft")



def _classify_cfg(base: Path, steps: int, lora: LoraSettings | None = None):
    return task_config(base, "classify", steps, lora or LoraSettings())


def _train(cfg, run_dir: Path, resume: bool = False, control: RunControl | None = None,
           sink: MetricsSink | None = None):
    result = Trainer(cfg, run_dir, sink or RecordingSink(), control, resume=resume).run()
    assert result.reason in ("completed", "stopped"), result.error
    return result


@pytest.mark.parametrize("arch", ["gpt", "llama", "bert"])
def test_trainable_parameters_are_what_peft_reports(arch, lora_bases, tmp_path):
    """Our adapters on a task model train exactly what PEFT counts for the same LoraConfig:
    rank-r pairs on every linear layer of the blocks, plus the head in full."""
    cfg = _classify_cfg(lora_bases[arch], 2, LoraSettings(r=4, lora_alpha=8))
    model = build_task_model(cfg, build_model(cfg.model))
    config = peft_config(model, cfg.lora, arch)
    reference = peft.get_peft_model(build_task_model(cfg, build_model(cfg.model)), config)
    adapted = add_adapters(model, cfg.lora, arch)
    trainable, total = trainable_counts(adapted)
    assert (trainable, total) == tuple(reference.get_nb_trainable_parameters())
    # By hand: r (in + out) per adapted layer, plus the head's weight and bias.
    linears = [m for n, m in model.named_modules() if n.endswith(tuple(
        f".{t}.base_layer" for t in cfg.lora.targets(arch)))]
    n_labels = len(cfg.finetune.labels) or 1
    expected = sum(4 * (m.in_features + m.out_features) for m in linears) \
        + (cfg.model.n_embd + 1) * n_labels
    assert trainable == expected
    per_block = {"gpt": 4, "llama": 7, "bert": 6}[arch]  # c_proj twice, dense three times
    assert len(linears) == per_block * cfg.model.n_layer


def test_lora_refused_without_a_pretrained_run(prepared_data):
    ft = FinetuneConfig(task="classify", train_file=str(LABELED / "sentiment.csv"),
                        scratch=True, tokenizer_from=str(prepared_data))
    cfg = make_finetune_config(ft, overrides={"max_steps": 2})
    cfg.lora = LoraSettings()
    with pytest.raises(UserError) as err:
        cfg.validate()
    assert err.value.field == "lora"


@pytest.mark.parametrize(("change", "field"), [
    ({"r": 0}, "r"), ({"lora_alpha": 0.0}, "lora_alpha"), ({"lora_dropout": 1.0}, "lora_dropout"),
    ({"target_modules": ["q_proj"]}, "lora_target")])
def test_settings_out_of_range_name_their_field(change, field):
    with pytest.raises(UserError) as err:
        LoraSettings(**change).validate("gpt")
    assert err.value.field == field


def test_qlora_is_refused_on_the_cpu_in_one_line(lora_bases, tmp_path):
    cfg = _classify_cfg(lora_bases["gpt"], 2, LoraSettings(load_in_4bit=True))
    cfg.train.device = "cpu"
    result = Trainer(cfg, tmp_path / "q", RecordingSink()).run()
    assert result.reason == "failed"
    assert result.user_error is not None and result.user_error.field == "load_in_4bit"
    assert "CUDA" in result.error and "\n" not in result.error


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_run_keeps_adapters_and_loads_as_base_plus_adapters(arch, lora_bases, tmp_path):
    """The checkpoint holds only adapters and head (a small file); load_run rebuilds base +
    adapters, and the merged model gives the adapted model's logits to 1e-5."""
    run = tmp_path / "run"
    _train(_classify_cfg(lora_bases[arch], 30), run)
    kept = (run / runs.WEIGHTS).stat().st_size
    base = (lora_bases[arch] / runs.BEST_WEIGHTS).stat().st_size
    assert kept < base / 3
    unmerged = load_run(run, "latest", merge=False).model
    assert hasattr(unmerged, "peft_config")
    assert any(float(p.detach().abs().max()) > 0 for n, p in unmerged.named_parameters()
               if "lora_B" in n)  # trained: B left zero
    merged = load_run(run, "latest").model
    assert not hasattr(merged, "peft_config")
    ids = torch.randint(0, 300, (3, 20))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a, b = unmerged(ids, mask), merged(ids, mask)
        with unmerged.disable_adapter():
            c = unmerged(ids, mask)
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-4)  # the adapters change what the model says


def test_merge_of_fresh_adapters_with_random_b_matches(lora_bases):
    cfg = build_run_config("clm", "tiny", 400, {"n_layer": 2, "n_head": 2, "n_embd": 32})
    model = add_adapters(build_model(cfg.model), LoraSettings(r=4), "gpt")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    model.eval()
    ids = torch.randint(0, 400, (2, 16))
    with torch.no_grad():
        expected = model(ids)[0]
        got = merge(model)(ids)[0]
    assert torch.allclose(expected, got, atol=1e-5)


def test_a_stopped_lora_run_resumes_where_it_stopped(lora_bases, tmp_path):
    run = tmp_path / "run"
    cfg = _classify_cfg(lora_bases["gpt"], 30)

    class StopAt(RecordingSink):
        def __init__(self, control: RunControl) -> None:
            super().__init__()
            self.control = control

        def progress(self, step: int, total: int) -> None:
            if step == 12:
                self.control.stop()

    control = RunControl()
    first = _train(cfg, run, control=control, sink=StopAt(control))
    assert first.reason == "stopped" and first.step == 12
    resumed = _train(runs.resume_config(run, {}), run, resume=True)
    assert resumed.reason == "completed" and resumed.step == 30
    steps = [r["step"] for r in runs.read_metrics(run) if r.get("kind") == "step"]
    assert steps and steps == sorted(set(steps))
    assert (run / runs.RESULTS).is_file()


def test_a_changed_base_is_refused(lora_bases, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(lora_bases["gpt"], base)
    run = tmp_path / "run"
    _train(_classify_cfg(base, 4), run)
    (base / runs.BEST_WEIGHTS).write_bytes((base / runs.WEIGHTS).read_bytes() + b"")
    weights = base / runs.BEST_WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError) as err:
        load_run(run, "latest")
    assert err.value.field == "base_run" and "changed" in str(err.value)


def test_memory_estimate_counts_optimizer_state_only_for_what_lora_trains(lora_bases):
    from lmstudio_app.core.models import count_parameters
    from lmstudio_app.core.training.memory import estimate_training_memory, lora_trainable

    cfg = _classify_cfg(lora_bases["gpt"], 2)
    model = add_adapters(build_task_model(cfg, build_model(cfg.model)), cfg.lora, "gpt")
    trained = trainable_counts(model)[0]
    assert lora_trainable(cfg) == trained
    n = count_parameters(cfg.model)
    lora = estimate_training_memory(cfg, n, "cuda").parts["weights and optimizer"]
    cfg.lora = None
    full = estimate_training_memory(cfg, n, "cuda").parts["weights and optimizer"]
    assert full == 16 * n
    # AdamW's 16 bytes for what LoRA trains, 4 (the frozen weight) for the rest
    assert lora == 16 * trained + 4 * (n - trained) < full
