"""The pre-run estimates: training memory by part, FLOPs per token and MFU."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.models import count_parameters
from lmstudio_app.core.models.flops import flops_per_token, mfu, peak_bf16_flops
from lmstudio_app.core.training.memory import estimate_training_memory


def _estimate(objective="clm", preset="tiny", vocab=8000, device="cpu", **over):
    cfg = build_run_config(objective, preset, vocab, over)
    return estimate_training_memory(cfg, count_parameters(cfg.model), device)


def test_memory_grows_with_the_batch_and_names_its_largest_part():
    small, large = _estimate(batch_size=4), _estimate(batch_size=64)
    assert large.total > small.total
    assert large.parts["activations"] == pytest.approx(16 * small.parts["activations"], rel=1e-6)
    assert large.parts["weights and optimizer"] == small.parts["weights and optimizer"]
    assert large.dominant in ("activations", "logits")
    # The small preset's 14M parameters at batch 1 and a short window: the weights dominate.
    assert _estimate(preset="small", batch_size=1, block_size=16).dominant == \
        "weights and optimizer"


def test_masked_lm_projects_only_the_masked_positions_and_task_heads_no_vocabulary():
    clm, mlm = _estimate("clm"), _estimate("mlm")
    assert mlm.parts["logits"] == pytest.approx(0.15 * clm.parts["logits"], rel=1e-3)
    cfg = build_run_config("clm", "tiny", 8000)
    task = replace(cfg, objective="classify",
                   finetune=FinetuneConfig(task="classify", train_file="x.csv", base_run="r"))
    assert "logits" not in estimate_training_memory(task, 1000, "cpu").parts


def test_cuda_counts_no_runtime_and_half_the_activation_bytes():
    cpu, cuda = _estimate(device="cpu"), _estimate(device="cuda")
    assert "runtime" in cpu.parts and "runtime" not in cuda.parts
    assert cuda.parts["activations"] < cpu.parts["activations"]


def test_gpt2_small_flops_and_mfu_follow_nanogpt():
    cfg = build_run_config("clm", "gpt2-124m", 50304).model
    # nanoGPT: 6 N + 12 L H Q T with N the 124M parameters less the position table.
    n = count_parameters(cfg) - 1024 * 768
    assert flops_per_token(cfg) == 6 * n + 12 * 12 * 12 * 64 * 1024
    assert peak_bf16_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_bf16_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_bf16_flops("NVIDIA A100-SXM4-40GB") == 312e12
    assert peak_bf16_flops("cpu") is None and mfu(1e5, cfg, "Apple M2") is None
    half = 0.5 * 989e12 / flops_per_token(cfg)
    assert mfu(half, cfg, "NVIDIA H200") == pytest.approx(0.5)
    assert mfu(2 * half, cfg, "NVIDIA H200", n_devices=2) == pytest.approx(0.5)


def test_a_run_bigger_than_the_memory_names_the_settings_that_shrink_its_largest_part():
    from lmstudio_app.core.training.memory import too_big
    from lmstudio_app.core.util.memory import physical_memory_bytes

    big = _estimate(batch_size=512, block_size=1024)
    assert big.dominant in ("activations", "logits")
    error = too_big(big, big.total // 2, "on this machine")
    assert error is not None and error.fields[:2] == ("batch_size", "block_size")
    assert "more than the" in str(error) and big.dominant in str(error)
    assert too_big(big, big.total, "on this machine") is None  # fits exactly
    assert too_big(big, None, "on this machine") is None  # memory unknown: no claim
    assert physical_memory_bytes() > 1 << 28  # this machine has at least 256 MiB
