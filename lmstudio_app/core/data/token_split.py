"""How a prepared corpus is split into training and validation tokens.

Three methods, recorded in the store and in prepare.json:

- "documents": each document goes whole to one split, chosen by a hash of its text and the seed
  (never by where its file lies, so a corpus copied elsewhere splits the same way, and copies of
  a document never straddle the splits). Used when it lands near the share asked for, which is
  the case for any corpus of many documents.
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
NEAR = (0.5, 2.0)  # whole documents are kept when the val share is within these factors


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    key = "\x00".join(str(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def split_of(document: str, seed: int, val_fraction: float) -> str:
    """"val" or "train" for a whole document, from its text and the seed alone."""
    return "val" if unit_hash("split", seed, document) < val_fraction else "train"


def choose_method(train_tokens: int, val_tokens: int, val_fraction: float) -> tuple[str, str]:
    """("documents" | "token-range", why) for a whole-document split of these sizes."""
    total = train_tokens + val_tokens
    if total < 2 or total * val_fraction < 1:
        return "documents", f"the corpus holds {total} tokens, too few to split further"
    share = val_tokens / total
    low, high = NEAR
    if train_tokens and val_tokens and low * val_fraction <= share <= high * val_fraction:
        return "documents", f"whole documents give validation {share:.1%} of the tokens"
    return "token-range", (f"whole documents would give validation {share:.1%} of the tokens "
                           f"(asked {val_fraction:.1%}): too few or too uneven documents")


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
        digest = hashlib.blake2b(ids.tobytes(), digest_size=16).hexdigest()
        h = unit_hash("range", self.seed, digest)
        start = math.floor(h * (n - k + 1))
        return ids[:start], ids[start:start + k], ids[start + k:]


def relayout_by_range(
    documents: Iterator[tuple[np.ndarray, int]],
    add: Callable[[str, np.ndarray, int], None],
    decode: Callable[[np.ndarray], str],
    val_fraction: float,
    seed: int,
) -> None:
    """Write each (ids, chars) document as its train / val / train parts through `add(split,
    ids, chars)`. Characters of a validation part are counted by decoding it (bits per
    character reads them); the training parts share the rest by their token counts."""
    splitter = RangeSplitter(val_fraction, seed)
    for ids, chars in documents:
        before, val, after = splitter.cut(ids)
        val_chars = len(decode(val)) if len(val) else 0
        rest = max(chars - val_chars, 0)
        n_train = len(before) + len(after)
        before_chars = round(rest * len(before) / n_train) if n_train else 0
        if len(before):
            add("train", before, before_chars)
        if len(val):
            add("val", val, val_chars)
        if len(after):
            add("train", after, rest - before_chars)


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
