"""TrainState: everything of the loop's own that a resume needs, as torchtitan's TrainState.

The step, the tokens trained on, the best scores, the evaluations since the best one and the
random number generators' states. `state_dict()` gives them as the flat entries of state.pt
(beside the optimizer's, the scaler's and the objective's own state dicts, which their owners
give); `load_state_dict()` puts them back, RNG states included.

Reference: torchtitan's `TrainState` (torchtitan/train.py), a Stateful with state_dict /
load_state_dict that the checkpointer saves with the model and optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class TrainState:
    """The loop's position. `tokens_seen` -1: not counted yet (a state saved before tokens were
    counted: the loop counts them from the step). `best_val_loss` is the lowest validation loss
    (nats); `best_score` what chose best.safetensors (lower is better); `evals_since_best` the
    evaluations since `best_score` last improved (early stopping counts them)."""

    step: int = 0
    tokens_seen: int = -1
    best_val_loss: float | None = None
    best_score: float | None = None
    evals_since_best: int = 0

    def state_dict(self, device: torch.device | None = None) -> dict[str, Any]:
        """The entries of state.pt this state owns, with the RNG states of now (the CUDA
        generator's too when `device` is a CUDA device)."""
        out: dict[str, Any] = {
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "best_score": self.best_score,
            "evals_since_best": self.evals_since_best,
            "tokens_seen": self.tokens_seen,
            "torch_rng": torch.get_rng_state(),
        }
        if device is not None and device.type == "cuda":
            out["cuda_rng"] = torch.cuda.get_rng_state(device)
        return out

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None = None) -> None:
        """Take the state `state_dict` gave and set the RNG states it holds (older files may
        lack the later entries: their defaults apply). Raises KeyError without "step" or
        "torch_rng", TypeError or RuntimeError for an RNG state of the wrong kind."""
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and device is not None and device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        self.step = int(state["step"])
        self.best_val_loss = state.get("best_val_loss")
        self.best_score = state.get("best_score", self.best_val_loss)
        self.evals_since_best = int(state.get("evals_since_best", 0))
        self.tokens_seen = int(state.get("tokens_seen", -1))
