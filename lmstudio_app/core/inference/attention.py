"""What the model attends to: the attention weights of every layer and head for one text.

Training keeps torch's fused scaled_dot_product_attention, which never forms the weights. Here
each attention layer's input is caught on its way in (a forward pre-hook) and the weights are
computed explicitly from the layer's own projections, as in "Attention Is All You Need"
(Vaswani et al. 2017): softmax(Q K^T / sqrt(d_head) + mask), causal for a GPT, over the real
tokens for a BERT. The forward pass itself is the model's, unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UserError
from ..models.bert import BertSelfAttention
from ..models.gpt import CausalSelfAttention
from ..models.heads import body_hidden_states
from ..models.llama import LlamaAttention
from .loading import LoadedRun


@dataclass(frozen=True)
class AttentionMaps:
    """`weights` is (n_layer, n_head, T, T): row i is how token i spreads its attention over the
    tokens (each row sums to 1); `tokens` are the T tokens' texts."""

    tokens: list[str]
    weights: Tensor

    def as_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "layers": self.weights.shape[0],
                "heads": self.weights.shape[1],
                "weights": [[head.tolist() for head in layer] for layer in self.weights]}


def _weights(q: Tensor, k: Tensor, allowed: Tensor | None) -> Tensor:
    """softmax(q k^T / sqrt(D)) for (B, H, T, D) queries and keys -> (B, H, T, T)."""
    scores = q.float() @ k.float().transpose(-1, -2) / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1)


def _gpt_hook(store: list[Tensor]) -> Any:
    def hook(module: CausalSelfAttention, args: tuple[Any, ...]) -> None:
        q, k, _ = module._heads(args[0])
        T = q.shape[2]
        causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        store.append(_weights(q, k, causal))
    return hook


def _llama_hook(store: list[Tensor]) -> Any:
    def hook(module: LlamaAttention, args: tuple[Any, ...]) -> None:
        q, k, _ = module.heads(*args[:3])  # (x, cos, sin): rotated as the model rotates them
        k = k.repeat_interleave(module.n_head // module.n_kv_head, dim=1)  # grouped heads
        T = q.shape[2]
        causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        store.append(_weights(q, k, causal))
    return hook


def _bert_hook(store: list[Tensor]) -> Any:
    def hook(module: BertSelfAttention, args: tuple[Any, ...]) -> None:
        x, mask = args[0], args[1] if len(args) > 1 else None
        B, T, C = x.shape

        def heads(t: Tensor) -> Tensor:
            return t.view(B, T, module.n_head, C // module.n_head).transpose(1, 2)

        store.append(_weights(heads(module.query(x)), heads(module.key(x)), mask))
    return hook


@torch.no_grad()
def attention_weights(model: nn.Module, input_ids: Tensor) -> Tensor:
    """(n_layer, n_head, T, T) attention weights of the first row of `input_ids` (B, T), for a
    GPT or BERT model or a task model around one."""
    store: list[Tensor] = []
    handles = []
    for module in model.modules():
        if isinstance(module, CausalSelfAttention):
            handles.append(module.register_forward_pre_hook(_gpt_hook(store)))
        elif isinstance(module, LlamaAttention):
            handles.append(module.register_forward_pre_hook(_llama_hook(store)))
        elif isinstance(module, BertSelfAttention):
            handles.append(module.register_forward_pre_hook(_bert_hook(store)))
    body: nn.Module = getattr(model, "body", model)
    was_training = body.training
    body.eval()
    try:
        body_hidden_states(body, input_ids.to(next(model.parameters()).device))
    finally:
        body.train(was_training)
        for h in handles:
            h.remove()
    return torch.stack([w[0] for w in store]).cpu()


def attention_maps(loaded: LoadedRun, text: str) -> AttentionMaps:
    """The attention weights of a run's model for `text` (cut to the model's window; a BERT
    reads it as [CLS] text [SEP]). Raises UserError for an empty text."""
    tok, cfg = loaded.tokenizer, loaded.config
    ids = tok.encode(text)
    if not ids:
        raise UserError("the text is empty: write a sentence.", field="text")
    if cfg.model.arch == "bert":
        ids = [tok.cls_id, *ids[: cfg.model.block_size - 2], tok.sep_id]
    else:
        ids = ids[: cfg.model.block_size]
    tokens = [tok.id_to_piece(i).replace("\u2581", " ") for i in ids]
    return AttentionMaps(tokens, attention_weights(loaded.model, torch.tensor([ids])))
