"""Pretraining: what next-token and masked-LM objectives share, and their set-up from a store.

A pretraining run reads the token store and tokenizer of a prepared data folder; a resumed run
keeps the tokenizer it started with (its own copy in the run folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from .. import runs
from ..config import RunConfig
from ..data.layout import STORE, TOKENIZER
from ..data.store import TokenStore
from ..data.token_split import window_problems
from ..data.tokenizer import Tokenizer
from ..errors import UserError
from ..models import build_model
from .base import Batch, Objective, Setup

VAL_BYTES_SAMPLE = 1 << 20  # tokens decoded to measure the validation text's bytes per char


class TokenBatches(Protocol):
    """Training windows drawn from a token stream (CausalBatches, MaskedBatches), resumable."""

    def next(self, rows: int | None = None) -> tuple[Tensor, Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class LanguageModelObjective(Objective):
    """Shared parts of the two pretraining objectives: train and validation token streams.

    `val_chars` is the number of characters the validation tokens decode to, for bits per
    character.
    """

    name = ""
    window_extra = 0  # tokens a training window takes beyond block_size

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, train: np.ndarray,
                 val: np.ndarray, val_chars: int, seed: int) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.val = val
        self.val_chars = val_chars
        self.seed = seed
        self.tokens_per_batch = cfg.train.batch_size * cfg.model.block_size
        self.eval_batch_size = cfg.train.batch_size
        self._eval_cache: list[Batch] | None = None
        self._val_bytes: int | None = None
        self.batches = self._make_batches(train, seed)

    def _make_batches(self, tokens: np.ndarray, seed: int) -> TokenBatches:
        raise NotImplementedError

    def val_bytes(self) -> int | None:
        """The UTF-8 bytes of the validation text (for bits per byte): its characters (the
        store's count) times the bytes per character of its decoded text, measured on up to
        VAL_BYTES_SAMPLE tokens (exact for a split that size or smaller). None without text."""
        if self._val_bytes is None and self.val_chars and len(self.val):
            text = self.tokenizer.decode(self.val[:VAL_BYTES_SAMPLE].tolist())
            if text:
                self._val_bytes = round(
                    self.val_chars * len(text.encode("utf-8", "surrogatepass")) / len(text))
        return self._val_bytes

    def next_batch(self) -> Batch:
        return self.batches.next()

    def draw(self, rows: int) -> Batch:
        return self.batches.next(rows)

    def state_dict(self) -> dict[str, Any]:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches.load_state_dict(state)


def build_pretrain_setup(cfg: RunConfig, run_dir: Path, resume: bool, seed: int,
                         objective_cls: type[LanguageModelObjective]) -> Setup:
    """The token store and tokenizer of cfg.data_dir, a fresh model, and its objective.

    Raises UserError when the store and tokenizer disagree, the vocabulary is too small, or a
    split is smaller than one training window (before step one, with advice that works).
    """
    data_dir = Path(cfg.data_dir)
    store = TokenStore.open(data_dir / STORE)
    # A resumed run keeps the tokenizer it started with, even if the data folder changed.
    tok_path = Path(run_dir) / runs.TOKENIZER if resume else data_dir / TOKENIZER
    tokenizer = Tokenizer.load(tok_path)
    if store.tokenizer_sha256 != tokenizer.sha256:
        raise UserError(
            f"{data_dir}: the token store was made with another tokenizer than {tok_path}; "
            "prepare this data again.", field="data_dir")
    if tokenizer.vocab_size > cfg.model.vocab_size:
        raise UserError(
            f"vocab_size={cfg.model.vocab_size} is below the tokenizer's {tokenizer.vocab_size} "
            "pieces: leave vocab_size to the tokenizer.", field="vocab_size",
            option=str(tokenizer.vocab_size))
    _check_windows(cfg, store, data_dir, objective_cls.window_extra, resume)
    model = build_model(cfg.model)
    objective = objective_cls(cfg, tokenizer, store.tokens("train"), store.tokens("val"),
                              store.n_chars("val"), seed)
    info = {
        "data_dir": str(data_dir.resolve()),
        "tokenizer_sha256": tokenizer.sha256,
        "tokenizer_kind": tokenizer.kind,
        "tokenizer_backend": tokenizer.backend,
        "train_tokens": store.n_tokens("train"),
        "val_tokens": store.n_tokens("val"),
        "sources": store.sources,
    }
    return Setup(model, objective, tokenizer, info)


def _check_windows(cfg: RunConfig, store: TokenStore, data_dir: Path, extra: int,
                   resume: bool) -> None:
    """Both splits must hold one training window; else say what fixes it (a resumed run keeps
    its block_size, so its advice is about the data)."""
    block = cfg.model.block_size
    tokens = {s: store.n_tokens(s) for s in ("train", "val")}
    split = store.attrs.get("split") or {}
    val_fraction = None if split.get("method") == "files" else store.attrs.get("val_fraction")
    problems = window_problems(tokens, block + extra, block, val_fraction,
                               block_can_change=not resume)
    if problems:
        fits = min(block - (block + extra - tokens[s]) for s, _ in problems)
        raise UserError(f"{data_dir}: " + "; ".join(advice for _, advice in problems) + ".",
                        field="block_size" if fits >= 8 and not resume else "data_dir",
                        option=str(fits) if fits >= 8 and not resume else None)
