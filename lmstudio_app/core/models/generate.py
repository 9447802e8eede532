"""Text generation from a GPT or Llama decoder: KV-cache sampling, streamed as text pieces.

Each step feeds only the newest token through the model; the keys and values of the earlier ones
wait in a KVCache. When the sequence reaches the position table's end, the cache is rebuilt from
the most recent three quarters of it and generation goes on (a sliding window that costs one
prefill per quarter window instead of one per token).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .gpt import KVCache

# How much of the window a rebuilt cache keeps when the sequence outgrows max_positions.
KEEP_FRACTION = 0.75
# Prompt tokens decoded with the new ones so a piece's leading space comes out right.
_ANCHOR_TOKENS = 8
_REPLACEMENT = "\ufffd"


@runtime_checkable
class Decoder(Protocol):
    """What generation needs of a causal model (the GPT): its configuration, an empty KV cache,
    and the logits (B, T, V) of new tokens that continue the cached ones."""

    config: ModelConfig

    def new_cache(self, batch_size: int = 1, capacity: int | None = None) -> KVCache: ...

    def forward_cached(self, idx: Tensor, cache: KVCache) -> Tensor: ...


def as_decoder(model: nn.Module) -> Decoder:
    """`model` as a Decoder; TypeError for a network that cannot continue text (BERT, a head)."""
    if not isinstance(model, Decoder):
        raise TypeError(f"{type(model).__name__} cannot generate text: it keeps no KV cache")
    return model


def context_keep(max_positions: int) -> int:
    """Tokens a rebuilt cache starts from when the sequence fills the position table."""
    return max(1, min(max_positions - 1, int(max_positions * KEEP_FRACTION)))


def sampling_distribution(
    logits: Tensor, *, temperature: float, top_k: int | None, top_p: float | None,
) -> Tensor:
    """The probabilities (V,) the sampler draws from: softmax(logits / temperature), cut to the
    top-k pieces and to the smallest set holding top_p of the mass (Holtzman et al. 2020), then
    renormalised. temperature <= 0 (greedy) reports the model's own softmax (temperature 1)."""
    logits = logits.float()
    if temperature <= 0:
        return torch.softmax(logits, dim=-1)
    logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and 0 < top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        drop = (torch.cumsum(sorted_probs, dim=0) - sorted_probs) >= top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        probs = probs / probs.sum()
    return probs


def sample_next(
    logits: Tensor,
    *,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator | None,
) -> tuple[int, Tensor]:
    """One token id from the logits (V,) of the last position, and the distribution (V,) it was
    drawn from; temperature <= 0 is greedy (the likeliest token)."""
    probs = sampling_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature <= 0:
        return int(torch.argmax(logits)), probs
    return int(torch.multinomial(probs, 1, generator=generator)), probs


@dataclass(frozen=True)
class TokenChoice:
    """One generated token: the text it completes, its probability under the distribution the
    sampler used, the likeliest alternatives and that distribution's entropy (bits).

    `text` is the new text this token makes appear: "" while a byte-fallback character waits for
    its other bytes (the token completing it carries the whole character).
    """

    token_id: int
    piece: str
    text: str
    probability: float
    top: tuple[tuple[str, float], ...]
    entropy_bits: float


def _choice(tokenizer: Any, token: int, text: str, probs: Tensor, top_n: int) -> TokenChoice:
    top = torch.topk(probs, min(top_n, probs.numel()))
    alternatives = tuple((tokenizer.id_to_piece(int(i)), float(p))
                         for p, i in zip(top.values, top.indices, strict=True) if p > 0)
    p = probs.clamp_min(1e-30)
    entropy = float(-(probs * torch.log2(p)).sum())
    return TokenChoice(token, tokenizer.id_to_piece(token), text, float(probs[token]),
                       alternatives, entropy)


class _Stepper:
    """Feeds tokens through the model with a KV cache, rebuilding it when the window is full."""

    def __init__(self, model: Decoder, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.max_positions = model.config.max_positions
        self.cache: KVCache = model.new_cache(1)

    @torch.inference_mode()
    def prefill(self, ids: list[int]) -> Tensor:
        """Start over from `ids` (cropped to what fits); logits (V,) of the last one."""
        ids = ids[-context_keep(self.max_positions):] if len(ids) >= self.max_positions else ids
        self.cache.reset()
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        return self.model.forward_cached(x, self.cache)[0, -1]

    @torch.inference_mode()
    def step(self, token: int, history: list[int]) -> Tensor:
        """Logits (V,) after `token`; `history` (ending with it) rebuilds a full cache."""
        if self.cache.free == 0:
            return self.prefill(history)
        x = torch.tensor([[token]], dtype=torch.long, device=self.device)
        return self.model.forward_cached(x, self.cache)[0, -1]


class _Detokenizer:
    """Turns a growing id list into new text, holding back an unfinished UTF-8 character."""

    def __init__(self, tokenizer: Any, prompt_ids: list[int]) -> None:
        self.tokenizer = tokenizer
        # Decoding a few prompt tokens in front keeps the first new piece's leading space.
        self.anchor = prompt_ids[-_ANCHOR_TOKENS:]
        self.base: str = tokenizer.decode(self.anchor)
        self.emitted = 0

    def text(self, new_ids: list[int]) -> str:
        full: str = self.tokenizer.decode(self.anchor + new_ids)
        if full.startswith(self.base):
            return full[len(self.base):]
        alone: str = self.tokenizer.decode(new_ids)
        return alone

    def new_piece(self, new_ids: list[int]) -> str:
        text = self.text(new_ids)
        if text.endswith(_REPLACEMENT):
            return ""  # a byte-fallback character still waiting for its other bytes
        piece = text[self.emitted:]
        self.emitted = len(text)
        return piece


def generate_choices(
    model: nn.Module,
    tokenizer: Any,
    prompt: str | list[int],
    *,
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = 50,
    top_p: float | None = 0.95,
    seed: int | None = None,
    stop_at_eos: bool = True,
    cancel: threading.Event | None = None,
    top_n: int = 5,
    stop_ids: Collection[int] = (),
) -> Iterator[TokenChoice]:
    """Continue `prompt` token by token, each with its probability and `top_n` alternatives.

    `prompt` is text, or its ids (a rendered chat whose special tokens are already ids).
    temperature 0 is greedy; the same seed gives the same text. An empty prompt starts from the
    beginning-of-text token. Stops after max_new_tokens, at the end-of-text token (stop_at_eos),
    at any of `stop_ids` (a chat template's end-of-turn token) or when `cancel` is set; a
    character whose bytes were not all generated when it stops is left out. The model is in
    eval mode while the generator runs.
    """
    device = next(model.parameters()).device
    prompt_ids = list(prompt) if isinstance(prompt, list) else \
        (tokenizer.encode(prompt) if prompt else [])
    if not prompt_ids:
        prompt_ids = [tokenizer.bos_id]
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)

    was_training = model.training
    model.eval()
    try:
        stepper = _Stepper(as_decoder(model), device)
        detok = _Detokenizer(tokenizer, prompt_ids)
        history = list(prompt_ids)
        new_ids: list[int] = []
        logits = stepper.prefill(history)
        for _ in range(max_new_tokens):
            if cancel is not None and cancel.is_set():
                break
            token, probs = sample_next(logits, temperature=temperature, top_k=top_k,
                                       top_p=top_p, generator=generator)
            if token in stop_ids or (stop_at_eos and token == tokenizer.eos_id):
                break
            history.append(token)
            new_ids.append(token)
            yield _choice(tokenizer, token, detok.new_piece(new_ids), probs, top_n)
            if len(new_ids) < max_new_tokens:
                logits = stepper.step(token, history)
    finally:
        model.train(was_training)


def generate(model: nn.Module, tokenizer: Any, prompt: str, **options: Any) -> Iterator[str]:
    """Continue `prompt`, yielding new text pieces as they are produced (the options are
    generate_choices')."""
    for choice in generate_choices(model, tokenizer, prompt, **options):
        if choice.text:
            yield choice.text
