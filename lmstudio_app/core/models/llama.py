"""A Llama-family decoder: RoPE, RMSNorm, SwiGLU, grouped-query attention, Hugging Face's names.

One class computes Llama (Touvron et al. 2023; Llama 3.x with its "llama3" rope scaling),
Mistral without a sliding window, Qwen2 (q/k/v biases) and Qwen3 (RMSNorm on each head's
queries and keys), following transformers' `modeling_llama.py`, `modeling_qwen2.py` and
`modeling_qwen3.py`. Parameter names are transformers' own (model.embed_tokens,
model.layers.N.self_attn.q_proj, ..., model.norm, lm_head), so import and export are copies.

Rotary position embeddings (Su et al. 2021, "RoFormer") use transformers' half-split layout
(rotate_half: the first half of a head's width pairs with the second), computed in float32
for the positions in use, never stored as weights. Attention goes through
scaled_dot_product_attention (`is_causal=True`, `enable_gqa` for grouped key/value heads), so
no mask is built on the training path. The KV cache is the GPT's, holding n_kv_head heads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..arch_fields import rope_scaling
from ..config import ModelConfig
from .checkpointing import run_blocks
from .gpt import KVCache, next_token_loss
from .init import init_weights


def rope_inv_freq(cfg: ModelConfig) -> Tensor:
    """Inverse frequencies (head_dim / 2,) of the rotary embedding, float32, with the config's
    rope scaling: "linear" divides them by its factor; "llama3" divides the low frequencies by
    its factor and blends the middle band (transformers' `_compute_llama3_parameters`)."""
    dim = cfg.head_dim
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim
    inv_freq = 1.0 / (cfg.rope_theta ** exponents)
    scaling = rope_scaling(cfg)
    kind = scaling.get("rope_type", "default")
    if kind == "linear":
        return inv_freq / float(scaling["factor"])
    if kind != "llama3":
        return inv_freq
    factor = float(scaling["factor"])
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_len = float(scaling["original_max_position_embeddings"])
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old_len / low, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
    return torch.where(medium, smoothed, scaled)


class Rotary(nn.Module):
    """cos and sin (T, head_dim) for positions [start, start + T), in the activations' dtype."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self._inv_freq: dict[torch.device, Tensor] = {}

    def forward(self, start: int, length: int, like: Tensor) -> tuple[Tensor, Tensor]:
        device = like.device
        if device not in self._inv_freq:
            self._inv_freq[device] = rope_inv_freq(self.cfg).to(device)
        positions = torch.arange(start, start + length, device=device, dtype=torch.float32)
        freqs = torch.outer(positions, self._inv_freq[device])
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(like.dtype), emb.sin().to(like.dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x (B, H, T, D) rotated by position: x cos + rotate_half(x) sin, in x's dtype (under
    autocast the projections are bf16 while cos and sin are float32)."""
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class LlamaAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.n_kv_head = cfg.n_kv_head or cfg.n_head
        self.head_dim = cfg.head_dim
        self.dropout = cfg.dropout
        q_width, kv_width = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, q_width, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.n_embd, kv_width, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.n_embd, kv_width, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(q_width, cfg.n_embd, bias=False)
        self.q_norm: nn.Module = nn.RMSNorm(self.head_dim, eps=cfg.norm_eps) if cfg.qk_norm \
            else nn.Identity()
        self.k_norm: nn.Module = nn.RMSNorm(self.head_dim, eps=cfg.norm_eps) if cfg.qk_norm \
            else nn.Identity()

    def heads(self, x: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rotated queries (B, n_head, T, D), keys and values (B, n_kv_head, T, D)."""
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.n_head, self.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None,
                causal: bool) -> Tensor:
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                           is_causal=causal,
                                           enable_gqa=self.n_kv_head != self.n_head)
        B, H, T, D = y.shape
        out: Tensor = self.o_proj(y.transpose(1, 2).reshape(B, T, H * D))
        return out

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        q, k, v = self.heads(x, cos, sin)
        return self._attend(q, k, v, None, True)

    def forward_cached(self, x: Tensor, cos: Tensor, sin: Tensor, k_buf: Tensor, v_buf: Tensor,
                       start: int) -> Tensor:
        """Attend the new positions [start, start+T) to everything cached before them."""
        q, k, v = self.heads(x, cos, sin)
        T = x.shape[1]
        end = start + T
        k_buf[:, :, start:end] = k
        v_buf[:, :, start:end] = v
        keys, values = k_buf[:, :, :end], v_buf[:, :, :end]
        if T == 1 or start == 0:  # one query sees every key; or the square causal case
            return self._attend(q, keys, values, None, T > 1)
        mask = torch.ones(T, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
        return self._attend(q, keys, values, mask, False)


class LlamaMLP(nn.Module):
    """SwiGLU (Shazeer 2020): down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        inner = cfg.intermediate_size or 4 * cfg.n_embd
        self.gate_proj = nn.Linear(cfg.n_embd, inner, bias=False)
        self.up_proj = nn.Linear(cfg.n_embd, inner, bias=False)
        self.down_proj = nn.Linear(inner, cfg.n_embd, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return out


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.self_attn = LlamaAttention(cfg)
        self.post_attention_layernorm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.mlp = LlamaMLP(cfg)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        x = x + self.dropout(self.self_attn(self.input_layernorm(x), cos, sin))
        out: Tensor = x + self.dropout(self.mlp(self.post_attention_layernorm(x)))
        return out

    def forward_cached(self, x: Tensor, cos: Tensor, sin: Tensor, k_buf: Tensor, v_buf: Tensor,
                       start: int) -> Tensor:
        x = x + self.self_attn.forward_cached(self.input_layernorm(x), cos, sin, k_buf, v_buf,
                                              start)
        out: Tensor = x + self.mlp(self.post_attention_layernorm(x))
        return out


class LlamaModel(nn.Module):
    """The body under transformers' `model.` prefix: embeddings, decoder layers, final norm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg) for _ in range(cfg.n_layer))
        self.norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)


class Llama(nn.Module):
    """Causal language model. `forward(idx, targets)` -> (logits (B, T, V), mean loss or None).

    Weights are initialised as the GPT's (N(0, 0.02), residual projections scaled by
    1 / sqrt(2 n_layer)), norms at one. Raises ValueError from `forward` when the sequence is
    longer than max_positions.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.rotary = Rotary(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.gradient_checkpointing = False  # see checkpointing.py
        self.apply(init_weights)
        std = 0.02 / math.sqrt(2 * cfg.n_layer)
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=std)

    def _embed(self, idx: Tensor, start: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        T = idx.shape[1]
        if start + T > self.config.max_positions:
            raise ValueError(
                f"sequence of {start + T} tokens exceeds max_positions={self.config.max_positions}"
            )
        x = self.model.embed_tokens(idx)
        cos, sin = self.rotary(start, T, x)
        return x, cos, sin

    def hidden_states(self, idx: Tensor) -> Tensor:
        """(B, T, C) after the final RMSNorm: the input of any head."""
        x, cos, sin = self._embed(idx)
        x = run_blocks(self.model.layers, x, cos, sin,
                       checkpointed=self.gradient_checkpointing and self.training)
        out: Tensor = self.model.norm(x)
        return out

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        return next_token_loss(self.lm_head(self.hidden_states(idx)), targets)

    def new_cache(self, batch_size: int = 1, capacity: int | None = None) -> KVCache:
        """An empty KV cache (n_kv_head heads) on this model's device and dtype."""
        cfg = self.config
        return KVCache.for_model(cfg, cfg.n_kv_head or cfg.n_head, self.model.embed_tokens.weight,
                                 batch_size, capacity)

    def forward_cached(self, idx: Tensor, cache: KVCache) -> Tensor:
        """Logits (B, T, V) of the new tokens `idx`, which continue the cached sequence.

        Raises ValueError when they do not fit: the caller crops and rebuilds the cache.
        """
        start = cache.reserve(idx.shape[1])
        x, cos, sin = self._embed(idx, start)
        for i, layer in enumerate(self.model.layers):
            assert isinstance(layer, LlamaDecoderLayer)
            x = layer.forward_cached(x, cos, sin, cache.keys[i], cache.values[i], start)
        cache.length = start + idx.shape[1]
        logits: Tensor = self.lm_head(self.model.norm(x))
        return logits

    def num_parameters(self) -> int:
        """Distinct parameters (a tied lm_head / embed_tokens matrix once)."""
        return sum(p.numel() for p in self.parameters())
