"""Room for tokens added to a trained model's vocabulary (a chat template's turn markers).

New rows of the token embedding (and of an untied output layer) start at the mean of the rows
that were trained, as transformers' `resize_token_embeddings(mean_resizing=True)` does (Hewitt
2021, "Initializing new word embeddings for pretrained language models"), so the new tokens
start where the model's average token lies rather than at random.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from . import build_model

# The tensors with one row per token, by architecture's parameter names.
_TOKEN_ROWS = ("transformer.wte.weight", "model.embed_tokens.weight", "lm_head.weight")


@torch.no_grad()
def with_new_tokens(model: nn.Module, cfg: ModelConfig, first_new: int,
                    vocab_size: int) -> nn.Module:
    """`model` with rows for token ids [first_new, vocab_size), each the mean of rows
    [0, first_new); the embedding grows (and `cfg.vocab_size` with it) when it has fewer rows.

    Returns a new model when it grew, else `model` changed in place.
    """
    if vocab_size > cfg.vocab_size:
        state = model.state_dict()
        cfg.vocab_size = vocab_size
        model = build_model(cfg)
        own = model.state_dict()
        for name, value in state.items():
            own[name][: value.shape[0]] = value.to(own[name].dtype)
    for name, rows in model.state_dict().items():
        if name in _TOKEN_ROWS:
            rows[first_new:vocab_size] = rows[:first_new].mean(dim=0)
    return model
