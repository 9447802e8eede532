"""Activation checkpointing changes memory, not results: the same loss and gradients for GPT
and BERT (with dropout on: the recomputed pass draws the same masks)."""

from __future__ import annotations

import pytest
import torch

from lmstudio_app.core.config import ModelConfig
from lmstudio_app.core.models import build_model
from lmstudio_app.core.models.checkpointing import set_gradient_checkpointing


def loss_and_grads(arch: str, checkpointed: bool) -> tuple[float, dict[str, torch.Tensor], int]:
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, vocab_size=64, n_layer=3, n_head=2, n_embd=32, block_size=16,
                      dropout=0.1)
    model = build_model(cfg)
    set_gradient_checkpointing(model, checkpointed)
    model.train()
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(64, (4, 16), generator=g)
    targets = torch.randint(64, (4, 16), generator=g)
    recomputed = 0

    def count(module, args):
        nonlocal recomputed
        recomputed += 1

    blocks = model.transformer.h if arch == "gpt" else model.encoder.layer
    hook = blocks[0].register_forward_pre_hook(count)
    torch.manual_seed(2)
    loss = model(idx, targets)[1] if arch == "gpt" else model(idx, labels=targets)[1]
    loss.backward()
    hook.remove()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads, recomputed


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_checkpointing_gives_the_same_loss_and_gradients(arch):
    plain_loss, plain, plain_calls = loss_and_grads(arch, False)
    ckpt_loss, ckpt, ckpt_calls = loss_and_grads(arch, True)
    assert (plain_calls, ckpt_calls) == (1, 2)  # the block really ran again in the backward
    assert ckpt_loss == pytest.approx(plain_loss, abs=1e-6)
    assert plain.keys() == ckpt.keys() and plain
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], atol=1e-6, rtol=1e-5)


def test_a_run_with_checkpointing_follows_the_same_curve(prepared_data, tmp_path, monkeypatch):
    from lmstudio_app.core.config import parse_overrides
    from lmstudio_app.core.models import checkpointing
    from lmstudio_app.core.training.sinks import RecordingSink
    from lmstudio_app.core.training.trainer import Trainer

    from ..training.test_trainer import tiny_cfg

    calls = []
    real = checkpointing.checkpoint
    monkeypatch.setattr(checkpointing, "checkpoint",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    curves = []
    for on in ("false", "true"):
        over = parse_overrides([f"gradient_checkpointing={on}"])
        sink = RecordingSink()
        result = Trainer(tiny_cfg(prepared_data, max_steps=6, **over), tmp_path / on, sink).run()
        assert result.reason == "completed", result.error
        curves.append([m.loss for m in sink.steps])
    assert over == {"gradient_checkpointing": True}
    assert len(calls) == 6  # the second run's one block, checkpointed at each of its 6 steps
    assert curves[1] == pytest.approx(curves[0], abs=1e-5)
