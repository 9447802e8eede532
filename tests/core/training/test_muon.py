"""Muon on the hidden matrices, AdamW on the rest: the split, the schedule reaching both halves,
a saved state that restores, and a short real run that learns."""

from __future__ import annotations

import pytest
import torch

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.models import build_model
from lmstudio_app.core.training.muon import MuonAdamW, is_hidden_matrix
from lmstudio_app.core.training.optim import make_optimizer


def _setup(arch: str = "llama", optimizer: str = "muon"):
    cfg = build_run_config("clm", "tiny", 300, {"n_layer": 2, "optimizer": optimizer}, arch=arch)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    return cfg, model, make_optimizer(model, cfg, torch.device("cpu"))


@pytest.mark.parametrize("arch", ["llama", "gpt"])
def test_hidden_matrices_go_to_muon_the_rest_to_adamw(arch):
    _, model, opt = _setup(arch)
    assert isinstance(opt, MuonAdamW)
    muon = {id(p) for g in opt.muon.param_groups for p in g["params"]}
    adamw = {id(p) for g in opt.adamw.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in muon) == is_hidden_matrix(name, p), name
        assert (id(p) in muon) != (id(p) in adamw), name
    embed = model.model.embed_tokens.weight if arch == "llama" else model.transformer.wte.weight
    assert id(embed) in adamw
    assert all(p.dim() == 2 for g in opt.muon.param_groups for p in g["params"])


def test_schedule_reaches_both_halves_and_state_restores():
    cfg, model, opt = _setup()
    for group in opt.param_groups:
        group["lr"] = 0.123 * group["lr_scale"]
    assert all(g["lr"] == 0.123 for o in (opt.muon, opt.adamw) for g in o.param_groups)
    x = torch.randint(0, 300, (4, 33))
    before = model.model.layers[0].mlp.up_proj.weight.detach().clone()
    model(x[:, :-1], x[:, 1:])[1].backward()
    opt.step()
    assert not torch.equal(before, model.model.layers[0].mlp.up_proj.weight)
    state = opt.state_dict()
    _, _, fresh = _setup()
    fresh.load_state_dict(state)
    assert fresh.muon.state_dict()["state"].keys() == opt.muon.state_dict()["state"].keys()
    _, _, adamw = _setup(optimizer="adamw")
    with pytest.raises(ValueError):
        fresh.load_state_dict(adamw.state_dict())


def test_muon_lowers_the_loss_on_a_fixed_batch():
    cfg, model, opt = _setup()
    x = torch.randint(0, 300, (8, 65), generator=torch.Generator().manual_seed(1))
    losses = []
    for _ in range(15):
        loss = model(x[:, :-1], x[:, 1:])[1]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
