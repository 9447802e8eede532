"""How a prepared corpus is split into training and validation tokens.

Three methods, recorded in the store and in prepare.json:

- "documents": each document goes whole to one split, chosen by a hash of its text and the seed
  (never by where its file lies, so a corpus copied elsewhere splits the same way, and copies of
  a document never straddle the splits). When the hash of each document alone lands too far
  from the share asked for (within a quarter of it is near), the documents are taken into
  validation in the order of their hashes until the share is reached.
- "token-range": each document gives a contiguous range of its tokens, the share asked for, to
  validation, at a position chosen by a hash of its tokens and the seed; the rest trains. Used
  when whole documents cannot come near the share: one book, a few files, one very long line.
- "files": the validation corpus is the user's own (prepare's val_sources).

`window_problems` says which split cannot hold one training window of a block size, with
advice that works: the tokens the split holds, the block size that fits, the share that would.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator

import numpy as np

METHODS = ("documents", "token-range", "files")
NEAR = 0.25  # a split is near the share asked for within this part of it


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    key = "\x00".join(str(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def split_of(document: str, seed: int, val_fraction: float) -> str:
    """"val" or "train" for a whole document, from its text and the seed alone."""
    return "val" if unit_hash("split", seed, document) < val_fraction else "train"


def near(train_tokens: int, val_tokens: int, val_fraction: float) -> bool:
    """Both splits hold tokens and validation's share is within NEAR of the one asked for."""
    total = train_tokens + val_tokens
    return bool(train_tokens and val_tokens
                and abs(val_tokens / total - val_fraction) <= NEAR * val_fraction)


def too_small(total_tokens: int, val_fraction: float) -> bool:
    """Too few tokens to split at all (validation would get less than one)."""
    return total_tokens < 2 or total_tokens * val_fraction < 1


def pick_by_rank(sizes: list[int], keys: list[float], val_fraction: float) -> set[int] | None:
    """Documents for validation, taken in the order of their hash keys while they fit, until
    the share is reached; None when whole documents cannot come near it (a few large ones)."""
    total = sum(sizes)
    target = val_fraction * total
    high = (1 + NEAR) * target
    chosen: set[int] = set()
    val = 0
    for i in sorted(range(len(sizes)), key=lambda i: (keys[i], i)):
        if val >= target:
            break
        if val + sizes[i] <= high:
            chosen.add(i)
            val += sizes[i]
    return chosen if near(total - val, val, val_fraction) else None


def doc_key(ids: np.ndarray, seed: int, salt: str) -> float:
    """A number in [0, 1) from a document's tokens and the seed."""
    return unit_hash(salt, seed, hashlib.blake2b(ids.tobytes(), digest_size=16).hexdigest())


class RangeSplitter:
    """Cuts documents into train / val / train parts so that validation gets `val_fraction` of
    all tokens, each document its rounded share (the remainders carried from one to the next).
    """

    def __init__(self, val_fraction: float, seed: int) -> None:
        self.val_fraction = val_fraction
        self.seed = seed
        self._owed = 0.0  # validation tokens asked for but not given yet

    def cut(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train before, val, train after) of one document's token ids."""
        n = len(ids)
        self._owed += self.val_fraction * n
        k = min(n, math.floor(self._owed + 1e-9))
        self._owed -= k
        start = math.floor(doc_key(ids, self.seed, "range") * (n - k + 1))
        return ids[:start], ids[start:start + k], ids[start + k:]


def resplit(
    documents: Callable[[], Iterator[tuple[np.ndarray, int]]],
    add: Callable[[str, np.ndarray, int], None],
    decode: Callable[[list[int]], str],
    val_fraction: float,
    seed: int,
) -> tuple[str, str]:
    """Write again, through `add(split, ids, chars)`, documents that whole-document hashing
    split too far from the share: whole documents by hash rank when they come near it, else a
    token range of each. `documents()` gives the (ids, chars) of every document, in order, each
    time it is called. Returns (method, why)."""
    sizes, keys = [], []
    for ids, _chars in documents():
        sizes.append(len(ids))
        keys.append(doc_key(ids, seed, "rank"))
    chosen = pick_by_rank(sizes, keys, val_fraction)
    if chosen is not None:
        for i, (ids, chars) in enumerate(documents()):
            add("val" if i in chosen else "train", ids, chars)
        val = sum(sizes[i] for i in chosen)
        return "documents", (f"whole documents, taken by hash rank: validation "
                             f"{val / sum(sizes):.1%} of the tokens")
    splitter = RangeSplitter(val_fraction, seed)
    for ids, chars in documents():
        before, val_part, after = splitter.cut(ids)
        val_chars = len(decode(val_part.tolist())) if len(val_part) else 0
        rest = max(chars - val_chars, 0)
        n_train = len(before) + len(after)
        before_chars = round(rest * len(before) / n_train) if n_train else 0
        if len(before):
            add("train", before, before_chars)
        if len(val_part):
            add("val", val_part, val_chars)
        if len(after):
            add("train", after, rest - before_chars)
    return "token-range", (f"{len(sizes)} documents too few or too uneven for whole documents "
                           f"near {val_fraction:.1%}: a range of each document's tokens")


def window_problems(tokens: dict[str, int], window: int, block_size: int,
                    val_fraction: float | None = None,
                    block_can_change: bool = True) -> list[tuple[str, str]]:
    """(split, what to do) for each split smaller than one training `window` (tokens: for a
    next-token window block_size + 1, for a masked-LM row block_size - 2).

    The advice names what works: the largest block_size the split holds, a val_fraction that
    gives the window (when the corpus is big enough), or more text.
    """
    out = []
    total = sum(tokens.values())
    for split in ("train", "val"):
        n = tokens.get(split, 0)
        if n >= window:
            continue
        fits = block_size - (window - n)  # the block size whose window is n tokens
        fixes = []
        if fits >= 8 and block_can_change:
            fixes.append(f"train with block_size at most {fits}")
        if split == "val" and total:
            share = math.ceil(100 * window / total) / 100
            if share <= 0.5 and (val_fraction is None or share > val_fraction):
                fixes.append(f"prepare again with val_fraction {share:.2f} or more")
            fixes.append("give a validation corpus of your own (val files)")
        fixes.append("add text" if split == "train" else "add text to the corpus")
        out.append((split, f"the {split} split holds {n} tokens, fewer than one training "
                           f"window of block_size {block_size} ({window} tokens): "
                           + ", or ".join(fixes)))
    return out
