"""Training and evaluation batches: causal windows and masked-LM rows from a token array, and
shuffled epochs of labeled rows.

Random draws come from a private torch.Generator whose state is saved with the run, so a resumed
run draws exactly the batches it would have drawn had it never stopped.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError

IGNORE = -100  # label of positions that carry no loss


def _as_tensor(tokens: np.ndarray) -> Tensor:
    """The tokens as a flat int32 (or int64) tensor, converted once.

    int32 halves the memory of int64 and gathers as fast; only the small gathered batch is
    widened to int64 (what embeddings and cross-entropy take).
    """
    arr = np.asarray(tokens).reshape(-1)
    if arr.dtype == np.int64:
        return torch.from_numpy(arr)
    if arr.size and int(arr.max()) > np.iinfo(np.int32).max:
        return torch.from_numpy(arr.astype(np.int64))
    return torch.from_numpy(arr.astype(np.int32, copy=arr.dtype != np.int32))


def _check_length(n_tokens: int, needed: int, what: str) -> None:
    if n_tokens < needed:
        raise UserError(
            f"{what} needs at least {needed} tokens but the data holds {n_tokens}: "
            "add text or lower block_size.", field="block_size")


class CausalBatches:
    """Random windows (x, y) of `block_size` tokens, y shifted one to the left of x."""

    def __init__(self, tokens: np.ndarray, block_size: int, batch_size: int, seed: int) -> None:
        self._tokens = _as_tensor(tokens)
        _check_length(len(self._tokens), block_size + 1, f"A window of block_size={block_size}")
        self.block_size = block_size
        self.batch_size = batch_size
        self._n_starts = len(self._tokens) - block_size  # starts in [0, n - T - 1]
        self._offsets = torch.arange(block_size + 1)
        self.generator = torch.Generator().manual_seed(seed)

    def next(self, rows: int | None = None) -> tuple[Tensor, Tensor]:
        """(x, y), each int64 (rows, block_size) on the CPU; rows defaults to batch_size."""
        starts = torch.randint(self._n_starts, (rows or self.batch_size, 1),
                               generator=self.generator)
        w = self._tokens[starts + self._offsets].long()  # one gather: (B, T + 1)
        return w[:, :-1].contiguous(), w[:, 1:].contiguous()

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@dataclass(frozen=True)
class MaskingSpec:
    """What masked-LM rows need to know about the vocabulary."""

    mask_id: int
    vocab_size: int
    special_ids: frozenset[int]
    cls_id: int
    sep_id: int
    prob: float = 0.15


class _Masker:
    """mask_tokens with the allowed-replacement table built once."""

    def __init__(self, spec: MaskingSpec) -> None:
        self.spec = spec
        self.special = torch.tensor(sorted(spec.special_ids), dtype=torch.long)
        self.replacements = _non_special(spec.vocab_size, spec.special_ids)

    def __call__(self, ids: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return _mask(ids, self.spec.mask_id, self.special, self.replacements, self.spec.prob,
                     generator)

    def rows(self, windows: Tensor) -> Tensor:
        """[CLS] + window + [SEP] for each row of `windows` (B, T - 2) -> (B, T), int64."""
        B = windows.shape[0]
        out = torch.empty(B, windows.shape[1] + 2, dtype=torch.long)
        out[:, 0] = self.spec.cls_id
        out[:, 1:-1] = windows
        out[:, -1] = self.spec.sep_id
        return out


class MaskedBatches:
    """Rows [CLS] + (block_size - 2 tokens) + [SEP], masked for the MLM objective.

    `next()` returns (inputs, labels), int64 (batch_size, block_size); labels are -100 except at
    the selected positions, where they hold the original token.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        block_size: int,
        batch_size: int,
        seed: int,
        *,
        mask_id: int,
        vocab_size: int,
        special_ids: Collection[int],
        cls_id: int,
        sep_id: int,
        mask_prob: float = 0.15,
    ) -> None:
        if block_size < 3:
            raise UserError(f"block_size={block_size}: masked-LM rows need at least 3 positions.",
                            field="block_size", option="3")
        self._tokens = _as_tensor(tokens)
        _check_length(len(self._tokens), block_size - 2,
                      f"A masked-LM row of block_size={block_size}")
        self.block_size = block_size
        self.batch_size = batch_size
        self._span = block_size - 2
        self._n_starts = len(self._tokens) - self._span + 1
        self._offsets = torch.arange(self._span)
        self._masker = _Masker(MaskingSpec(mask_id, vocab_size, frozenset(special_ids), cls_id,
                                           sep_id, mask_prob))
        self.generator = torch.Generator().manual_seed(seed)

    def next(self, rows: int | None = None) -> tuple[Tensor, Tensor]:
        starts = torch.randint(self._n_starts, (rows or self.batch_size, 1),
                               generator=self.generator)
        windows = self._masker.rows(self._tokens[starts + self._offsets])
        return self._masker(windows, self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def _non_special(vocab_size: int, special_ids: Collection[int]) -> Tensor:
    keep = torch.ones(vocab_size, dtype=torch.bool)
    special = [i for i in special_ids if 0 <= i < vocab_size]
    keep[special] = False
    return keep.nonzero().squeeze(1)


def _mask(
    ids: Tensor,
    mask_id: int,
    special: Tensor,
    replacements: Tensor,
    prob: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    maskable = ~torch.isin(ids, special)
    selected = (torch.rand(ids.shape, generator=generator) < prob) & maskable
    if not bool(selected.any()):
        # A tiny batch can draw no position at all; the loss would be 0/0. Take one at random.
        candidates = maskable.view(-1).nonzero().squeeze(1)
        if len(candidates):
            pick = torch.randint(len(candidates), (1,), generator=generator)
            selected.view(-1)[candidates[pick]] = True
    labels = torch.where(selected, ids, IGNORE)
    # Of the selected: 80% -> [MASK], 10% -> a random ordinary piece, 10% unchanged (BERT).
    r = torch.rand(ids.shape, generator=generator)
    random_ids = replacements[
        torch.randint(len(replacements), ids.shape, generator=generator)
    ]
    inputs = torch.where(selected & (r < 0.8), mask_id, ids)
    inputs = torch.where(selected & (r >= 0.8) & (r < 0.9), random_ids, inputs)
    return inputs, labels


def mask_tokens(
    ids: Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Collection[int],
    prob: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Select `prob` of the non-special positions for the masked-LM loss.

    Of the selected, 80% become `mask_id`, 10% a random non-special id and 10% stay as they are.
    Returns (inputs, labels): labels hold the original id at selected positions, -100 elsewhere.
    At least one position is selected whenever any is maskable.
    """
    special = torch.tensor(sorted(special_ids), dtype=torch.long)
    return _mask(ids.long(), mask_id, special, _non_special(vocab_size, special_ids), prob,
                 generator)


def _even_starts(n_starts: int, span: int, count: int) -> Tensor:
    """`count` window starts spread evenly over [0, n_starts), never more windows than it takes
    to tile the data once (a small split is covered whole, not sampled over and over)."""
    tiles = -(-(n_starts - 1 + span) // span)  # ceil(total tokens / span)
    count = max(1, min(count, tiles))
    return torch.from_numpy(np.linspace(0, n_starts - 1, count).round().astype(np.int64))


def fixed_eval_batches(
    tokens: np.ndarray,
    block_size: int,
    batch_size: int,
    n_batches: int,
    seed: int,
    masking: MaskingSpec | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """The same evaluation batches every time: evenly spaced windows over the split.

    Causal (masking None): (x, y) pairs. Masked LM (a MaskingSpec): (inputs, labels) pairs,
    masked once with `seed` so every evaluation scores the same positions. A split smaller than
    batch_size * n_batches windows is tiled once instead (fewer, possibly smaller batches).
    """
    t = _as_tensor(tokens)
    if masking is None:
        _check_length(len(t), block_size + 1, f"An evaluation window of block_size={block_size}")
        starts = _even_starts(len(t) - block_size, block_size, batch_size * n_batches)
        windows = t[starts[:, None] + torch.arange(block_size + 1)].long()
        pairs = [(w[:, :-1], w[:, 1:]) for w in torch.split(windows, batch_size)]
        return [(x.contiguous(), y.contiguous()) for x, y in pairs]
    span = block_size - 2
    _check_length(len(t), span, f"An evaluation row of block_size={block_size}")
    masker = _Masker(masking)
    generator = torch.Generator().manual_seed(seed)
    starts = _even_starts(len(t) - span + 1, span, batch_size * n_batches)
    rows = masker.rows(t[starts[:, None] + torch.arange(span)])
    return [masker(chunk, generator) for chunk in torch.split(rows, batch_size)]


class ShuffledBatches:
    """Row indices in epochs of a seeded permutation; the state goes into state.pt."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0

    def next(self, rows: int | None = None) -> list[int]:
        """The next `rows` indices (batch_size by default), continuing across epochs."""
        want = rows or self.batch_size
        out: list[int] = []
        while len(out) < want:
            if self.pos >= self.n:
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos = 0
            take = min(want - len(out), self.n - self.pos)
            out += self.perm[self.pos:self.pos + take].tolist()
            self.pos += take
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(),
                "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm = state["perm"]
        self.pos = int(state["pos"])
