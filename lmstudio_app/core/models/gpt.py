"""A GPT-2-style decoder: pre-LayerNorm blocks, GPT-2's parameter names, tied embeddings.

The names (transformer.wte, transformer.h.N.attn.c_attn, ..., lm_head) are GPT-2's so that an
export to the Hugging Face layout is a renaming-free copy (GPT-2 stores its projections as Conv1D,
i.e. transposed nn.Linear weights). Attention goes through scaled_dot_product_attention with
`is_causal=True`, so no mask tensor is ever built on the training path.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .checkpointing import run_blocks
from .init import gelu_approximation, init_weights


def next_token_loss(logits: Tensor, targets: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """A decoder's (logits (B, T, V), mean cross-entropy in nats over the targets (B, T) that
    are not -100), or (logits, None) without targets: nanoGPT's forward."""
    if targets is None:
        return logits, None
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=-100)
    return logits, loss


class KVCache:
    """Per-layer keys and values of the tokens seen so far, preallocated to `capacity` positions.

    `keys[i]` / `values[i]` are (B, n_head, capacity, head_dim); only the first `length` positions
    are valid. The model writes into them in `GPT.forward_cached`.
    """

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        capacity: int,
        head_dim: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (n_layer, batch_size, n_head, capacity, head_dim)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.capacity = capacity
        self.length = 0

    @classmethod
    def for_model(cls, cfg: ModelConfig, n_head: int, like: Tensor, batch_size: int = 1,
                  capacity: int | None = None) -> KVCache:
        """An empty cache for a model of `cfg` whose attention keeps `n_head` key/value heads,
        on the device and in the dtype of the tensor `like` (its embedding matrix)."""
        return cls(cfg.n_layer, batch_size, n_head, capacity or cfg.max_positions, cfg.head_dim,
                   device=like.device, dtype=like.dtype)

    def reserve(self, new: int) -> int:
        """The position `new` more tokens start at. Raises ValueError when they do not fit:
        the caller crops and rebuilds the cache."""
        if self.length + new > self.capacity:
            raise ValueError(f"KV cache holds {self.capacity} positions; "
                             f"{self.length + new} requested")
        return self.length

    @property
    def free(self) -> int:
        """Positions still available."""
        return self.capacity - self.length

    def reset(self) -> None:
        """Forget every position (the buffers are reused, not cleared: `length` bounds them)."""
        self.length = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.n_embd = cfg.n_embd
        self.dropout = cfg.dropout
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, T, C = x.shape
        # One view + permute splits q, k, v and the heads at once: (3, B, H, T, D).
        qkv = self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def _merge(self, y: Tensor) -> Tensor:
        B, H, T, D = y.shape
        out: Tensor = self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, H * D)))
        return out

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._heads(x)
        p = self.dropout if self.training else 0.0
        return self._merge(F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True))

    def forward_cached(self, x: Tensor, k_buf: Tensor, v_buf: Tensor, start: int) -> Tensor:
        """Attend the new positions [start, start+T) to everything cached before them."""
        q, k, v = self._heads(x)
        T = x.shape[1]
        end = start + T
        k_buf[:, :, start:end] = k
        v_buf[:, :, start:end] = v
        keys, values = k_buf[:, :, :end], v_buf[:, :, :end]
        if T == 1:  # one query sees every cached key: no mask at all
            y = F.scaled_dot_product_attention(q, keys, values)
        elif start == 0:  # square: the ordinary causal case
            y = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
        else:  # several new queries after a prefix: query i sees keys [0, start + i]
            mask = torch.ones(T, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self._merge(y)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        # Exact erf GELU by default (several times faster than tanh on CPU); an imported
        # GPT-2 keeps the tanh approximation it was trained with.
        self.gelu = nn.GELU(approximate=gelu_approximation(cfg))
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
        return out


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        out: Tensor = x + self.mlp(self.ln_2(x))
        return out

    def forward_cached(self, x: Tensor, k_buf: Tensor, v_buf: Tensor, start: int) -> Tensor:
        x = x + self.attn.forward_cached(self.ln_1(x), k_buf, v_buf, start)
        out: Tensor = x + self.mlp(self.ln_2(x))
        return out


class _Trunk(nn.ModuleDict):
    """GPT-2's `transformer` dict, its entries typed (a plain ModuleDict at run time)."""

    wte: nn.Embedding
    wpe: nn.Embedding
    drop: nn.Dropout
    h: nn.ModuleList
    ln_f: nn.LayerNorm


class GPT(nn.Module):
    """Causal language model. `forward(idx, targets)` -> (logits (B, T, V), mean loss or None)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.transformer = _Trunk(
            {
                "wte": nn.Embedding(cfg.vocab_size, cfg.n_embd),
                "wpe": nn.Embedding(cfg.max_positions, cfg.n_embd),
                "drop": nn.Dropout(cfg.dropout),
                "h": nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
                "ln_f": nn.LayerNorm(cfg.n_embd, bias=cfg.bias),
            }
        )
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: one matrix, counted once
        self.gradient_checkpointing = False  # see checkpointing.py
        self.apply(init_weights)
        # Residual projections add to the stream once per layer and sublayer: scale them down
        # so the stream's variance does not grow with depth (GPT-2 paper).
        std = 0.02 / math.sqrt(2 * cfg.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=std)

    def _embed(self, idx: Tensor, start: int = 0) -> Tensor:
        T = idx.shape[1]
        if start + T > self.config.max_positions:
            raise ValueError(
                f"sequence of {start + T} tokens exceeds max_positions={self.config.max_positions}"
            )
        # A slice of the position table instead of an arange + lookup: one op fewer per step.
        x = self.transformer.wte(idx) + self.transformer.wpe.weight[start : start + T]
        out: Tensor = self.transformer.drop(x)
        return out

    def blocks(self) -> list[Block]:
        """The transformer blocks, in order (TypeError if `transformer.h` holds another kind)."""
        out: list[Block] = []
        for block in self.transformer.h:
            if not isinstance(block, Block):
                raise TypeError(f"transformer.h holds a {type(block).__name__}, not a Block")
            out.append(block)
        return out

    def hidden_states(self, idx: Tensor) -> Tensor:
        """(B, T, C) after the final LayerNorm: the input of any head."""
        x = run_blocks(self.transformer.h, self._embed(idx),
                       checkpointed=self.gradient_checkpointing and self.training)
        out: Tensor = self.transformer.ln_f(x)
        return out

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        return next_token_loss(self.lm_head(self.hidden_states(idx)), targets)

    def new_cache(self, batch_size: int = 1, capacity: int | None = None) -> KVCache:
        """An empty KV cache on this model's device and dtype."""
        return KVCache.for_model(self.config, self.config.n_head, self.transformer.wte.weight,
                                 batch_size, capacity)

    def forward_cached(self, idx: Tensor, cache: KVCache) -> Tensor:
        """Logits (B, T, V) of the new tokens `idx`, which continue the cached sequence.

        Raises ValueError when they do not fit: the caller crops and rebuilds the cache.
        """
        start = cache.reserve(idx.shape[1])
        x = self._embed(idx, start)
        for i, block in enumerate(self.blocks()):
            x = block.forward_cached(x, cache.keys[i], cache.values[i], start)
        cache.length = start + idx.shape[1]
        logits: Tensor = self.lm_head(self.transformer.ln_f(x))
        return logits

    def num_parameters(self) -> int:
        """Distinct parameters (the tied lm_head / wte matrix once)."""
        return sum(p.numel() for p in self.parameters())  # parameters() already dedups
