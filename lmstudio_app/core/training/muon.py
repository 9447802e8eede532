"""Muon for the hidden matrices, AdamW for the rest, as one optimizer.

The split is the speed records' (Keller Jordan's Muon in modded-nanogpt; nanochat): the 2-D
weights inside the transformer blocks are updated by PyTorch's own `torch.optim.Muon` (momentum
orthogonalised by Newton-Schulz iterations), while the embeddings, the output head, the norms
and the biases keep AdamW. Muon's step is scaled as Moonshot's "Muon is Scalable for LLM
Training" (Liu et al. 2025; `adjust_lr_fn="match_rms_adamw"`), so both halves share one
learning rate and one weight decay, and the schedule sets them through `param_groups` as for
AdamW.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ..models import BODY_NAMES

MuonGroups = list[dict[str, Any]]


def is_hidden_matrix(name: str, param: torch.Tensor) -> bool:
    """A 2-D weight inside a transformer block (of a body or of a task model's `body.`)."""
    bare = name.removeprefix("body.")
    blocks = tuple(block.split("{}")[0] for _, block in BODY_NAMES.values())
    return param.dim() == 2 and bare.startswith(blocks)


class MuonAdamW(torch.optim.Optimizer):
    """torch.optim.Muon over the hidden matrices and torch.optim.AdamW over the other
    parameters; `param_groups` lists both optimizers' groups (the same dicts), so setting a
    group's "lr" reaches the optimizer that owns it. The state dict holds both halves."""

    def __init__(self, muon: torch.optim.Optimizer, adamw: torch.optim.Optimizer) -> None:
        params = [p for opt in (muon, adamw) for g in opt.param_groups for p in g["params"]]
        super().__init__(params, {})
        self.muon, self.adamw = muon, adamw
        self.param_groups = [*muon.param_groups, *adamw.param_groups]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("MuonAdamW.step takes no closure")
        self.muon.step()
        self.adamw.step()

    def state_dict(self) -> dict[str, Any]:
        return {"muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Raises ValueError for the state of another optimizer (an AdamW-only run's)."""
        if set(state_dict) != {"muon", "adamw"}:
            raise ValueError("this optimizer state is not a Muon + AdamW one")
        self.muon.load_state_dict(state_dict["muon"])
        self.adamw.load_state_dict(state_dict["adamw"])


def make_muon_adamw(named: Iterable[tuple[str, nn.Parameter]], groups: list[dict[str, Any]],
                    lr: float, weight_decay: float, adamw_kwargs: dict[str, Any]) -> MuonAdamW:
    """MuonAdamW from AdamW-style `groups` (each {"params", "weight_decay", "lr_scale"}):
    each group's hidden matrices move into a Muon group with the same settings.

    `named` gives the parameters' names; `adamw_kwargs` are AdamW's (betas, fused).
    """
    hidden = {id(p) for name, p in named if is_hidden_matrix(name, p)}
    muon_groups: MuonGroups = []
    adamw_groups: MuonGroups = []
    for group in groups:
        for to_muon, target in ((True, muon_groups), (False, adamw_groups)):
            ps = [p for p in group["params"] if (id(p) in hidden) == to_muon]
            if ps:
                target.append({**group, "params": ps})
    for g in muon_groups:
        g["weight_decay"] = weight_decay
    if not muon_groups:
        raise ValueError("the model has no hidden matrices for Muon")
    muon = torch.optim.Muon(muon_groups, lr=lr, weight_decay=weight_decay,
                            adjust_lr_fn="match_rms_adamw")
    adamw = _adamw(adamw_groups, lr, adamw_kwargs)
    return MuonAdamW(muon, adamw)


def _adamw(groups: MuonGroups, lr: float, kwargs: dict[str, Any]) -> torch.optim.Optimizer:
    try:
        return torch.optim.AdamW(groups, lr=lr, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, **{k: v for k, v in kwargs.items()
                                                   if k != "fused"})
