"""Causal windows, masked-LM rows and masking statistics, fixed evaluation batches."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.objectives.batches import (
    CausalBatches,
    MaskedBatches,
    MaskingSpec,
    fixed_eval_batches,
    mask_tokens,
)

AUSTEN = Path("/work/shared/data/austen/emma.txt")
MASK, CLS, SEP, PAD = 256, 257, 258, 259
SPECIALS = frozenset({MASK, CLS, SEP, PAD})
VOCAB = 260


@pytest.fixture(scope="module")
def text_ids() -> np.ndarray:
    """Real text as byte ids (uint16, as the token store keeps them)."""
    if AUSTEN.exists():
        data = AUSTEN.read_bytes()[:200_000]
    else:
        from lmstudio_app.core.data.samples import sample_corpus_files

        data = sample_corpus_files()[0].read_bytes()[:200_000]
    return np.frombuffer(data, dtype=np.uint8).astype(np.uint16)


def _masked(tokens, block=18, batch=4, seed=0, prob=0.15) -> MaskedBatches:
    return MaskedBatches(tokens, block, batch, seed, mask_id=MASK, vocab_size=VOCAB,
                         special_ids=SPECIALS, cls_id=CLS, sep_id=SEP, mask_prob=prob)


# -------------------------------------------------------------------------------- causal


def test_causal_windows_are_shifted_slices_of_the_stream(text_ids):
    b = CausalBatches(text_ids, block_size=64, batch_size=12, seed=3)
    x, y = b.next()
    assert x.shape == y.shape == (12, 64)
    assert x.dtype == y.dtype == torch.int64 and x.is_contiguous() and y.is_contiguous()
    assert torch.equal(x[:, 1:], y[:, :-1])
    stream = torch.from_numpy(text_ids.astype(np.int64))
    unique = torch.arange(len(text_ids))  # positions double as ids: recover each window's start
    pos_x, _ = CausalBatches(unique.numpy(), 64, 12, seed=3).next()
    for row_x, row_y, start in zip(x, y, pos_x[:, 0].tolist(), strict=True):
        assert torch.equal(row_x, stream[start: start + 64])
        assert torch.equal(row_y, stream[start + 1: start + 65])


def test_causal_windows_reach_both_ends():
    tokens = np.arange(20, dtype=np.uint16)
    b = CausalBatches(tokens, block_size=19, batch_size=64, seed=0)
    x, y = b.next()
    assert set(x[:, 0].tolist()) == {0}  # one window fits exactly: 19 inputs + 1 target
    assert y[0, -1].item() == 19


def test_causal_state_round_trip_draws_the_same_batch(text_ids):
    a = CausalBatches(text_ids, 32, 8, seed=11)
    for _ in range(5):
        a.next()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    expected = [a.next() for _ in range(3)]
    b = CausalBatches(text_ids, 32, 8, seed=999)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    for ex, got in zip(expected, (b.next() for _ in range(3)), strict=True):
        assert torch.equal(ex[0], got[0]) and torch.equal(ex[1], got[1])


def test_same_seed_same_batches_different_seed_different(text_ids):
    a, b, c = (CausalBatches(text_ids, 16, 4, seed=s).next()[0] for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_too_few_tokens_says_how_many(text_ids):
    with pytest.raises(UserError, match="at least 65 tokens but the data holds 40"):
        CausalBatches(text_ids[:40], 64, 2, seed=0)
    with pytest.raises(UserError, match="at least 62 tokens but the data holds 10"):
        _masked(text_ids[:10], block=64)


def test_int32_and_int64_streams_give_the_same_batches(text_ids):
    x16 = CausalBatches(text_ids, 16, 4, seed=5).next()[0]
    x32 = CausalBatches(text_ids.astype(np.uint32), 16, 4, seed=5).next()[0]
    x64 = CausalBatches(text_ids.astype(np.int64), 16, 4, seed=5).next()[0]
    assert torch.equal(x16, x32) and torch.equal(x16, x64)


# -------------------------------------------------------------------------------- masking


def test_masking_statistics_on_a_large_batch(text_ids):
    ids = torch.from_numpy(text_ids[:150_000].astype(np.int64)).view(500, 300).clone()
    ids[:, 0], ids[:, -1], ids[::7, 100] = CLS, SEP, PAD  # special pieces in the rows
    g = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(ids, mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIALS,
                                 prob=0.15, generator=g)
    special = torch.isin(ids, torch.tensor(sorted(SPECIALS)))
    selected = labels != -100
    assert not (selected & special).any()  # special pieces are never selected
    assert torch.equal(inputs[special], ids[special])
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(inputs[~selected], ids[~selected])  # unselected positions untouched
    rate = selected.sum().item() / (~special).sum().item()
    assert 0.14 <= rate <= 0.16
    n = selected.sum().item()
    masked = (inputs[selected] == MASK).sum().item() / n
    kept = (inputs[selected] == ids[selected]).sum().item() / n
    replaced = 1 - masked - kept
    assert 0.78 <= masked <= 0.82
    assert 0.08 <= kept <= 0.12  # 10% kept, plus a random draw equal to the original (~0.04%)
    assert 0.08 <= replaced <= 0.12
    random_ids = inputs[selected & (inputs != MASK) & (inputs != ids)]
    assert not torch.isin(random_ids, torch.tensor(sorted(SPECIALS))).any()
    assert random_ids.max().item() < VOCAB
    assert len(set(random_ids.tolist())) > 100  # drawn over the whole ordinary vocabulary


def test_masking_always_selects_something():
    for seed in range(50):
        g = torch.Generator().manual_seed(seed)
        ids = torch.tensor([[CLS, 65, 66, SEP]])
        _, labels = mask_tokens(ids, mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIALS,
                                prob=0.01, generator=g)
        picked = (labels != -100).nonzero()[:, 1].tolist()
        assert len(picked) >= 1 and set(picked) <= {1, 2}


def test_masked_rows_are_wrapped_and_resumable(text_ids):
    b = _masked(text_ids, block=34, batch=8, seed=4)
    inputs, labels = b.next()
    assert inputs.shape == labels.shape == (8, 34) and inputs.dtype == torch.int64
    assert (inputs[:, 0] == CLS).all() and (inputs[:, -1] == SEP).all()
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()
    assert (labels != -100).any()
    state = b.state_dict()
    expected = b.next()
    other = _masked(text_ids, block=34, batch=8, seed=77)
    other.load_state_dict(state)
    got = other.next()
    assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])


def test_masked_windows_are_slices_of_the_stream():
    tokens = np.arange(100, 160, dtype=np.uint16)  # 60 ordinary ids, in order
    inputs, labels = _masked(tokens, block=12, batch=16, seed=0, prob=0.5).next()
    original = torch.where(labels != -100, labels, inputs)[:, 1:-1]
    for row in original:
        assert torch.equal(row, torch.arange(row[0].item(), row[0].item() + 10))


# -------------------------------------------------------------------------------- evaluation


def test_fixed_causal_eval_batches_are_deterministic_and_spread(text_ids):
    a = fixed_eval_batches(text_ids, 32, 8, 5, seed=0)
    b = fixed_eval_batches(text_ids, 32, 8, 5, seed=0)
    assert len(a) == 5 and all(x.shape == (8, 32) for x, _ in a)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert torch.equal(xa[:, 1:], ya[:, :-1])
    starts = fixed_eval_batches(np.arange(len(text_ids)), 32, 8, 5, seed=0)
    firsts = torch.cat([x[:, 0] for x, _ in starts])
    assert firsts[0] == 0 and firsts[-1] == len(text_ids) - 33  # first and last window
    assert (firsts.diff() > 0).all()


def test_small_split_is_covered_once():
    n, block = 200, 16
    batches = fixed_eval_batches(np.arange(n), block, 4, 100, seed=0)
    windows = torch.cat([torch.cat([x, y[:, -1:]], 1) for x, y in batches])
    assert len(windows) == -(-n // block)  # tiled once, not 400 overlapping windows
    covered = set(windows.flatten().tolist())
    assert covered == set(range(n))


def test_fixed_masked_eval_batches(text_ids):
    spec = MaskingSpec(MASK, VOCAB, SPECIALS, CLS, SEP, 0.15)
    a = fixed_eval_batches(text_ids, 34, 8, 3, seed=5, masking=spec)
    b = fixed_eval_batches(text_ids, 34, 8, 3, seed=5, masking=spec)
    assert len(a) == 3
    for (ia, la), (ib, lb) in zip(a, b, strict=True):
        assert torch.equal(ia, ib) and torch.equal(la, lb)
        assert ia.shape == (8, 34) and (ia[:, 0] == CLS).all() and (ia[:, -1] == SEP).all()
        assert (la != -100).any()
