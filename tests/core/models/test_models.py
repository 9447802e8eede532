"""GPT and BERT: names, tying, masks, the KV cache, and that a few steps on real text learn."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lmstudio_app.core.config import ModelConfig
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.models import GPT, MODEL_CLASSES, Bert, build_model, count_parameters
from lmstudio_app.core.objectives.batches import CausalBatches, MaskedBatches

AUSTEN = Path("/work/shared/data/austen")
# Byte-level ids for the MLM tests: bytes 0..255, then the special pieces.
MASK, CLS, SEP, PAD = 256, 257, 258, 259
BYTE_SPECIALS = frozenset({MASK, CLS, SEP, PAD})


def _austen_bytes(name: str = "persuasion.txt", n: int = 300_000) -> np.ndarray:
    path = AUSTEN / name
    if not path.exists():  # the bundled sample corpus holds the same novel
        from lmstudio_app.core.data.samples import sample_corpus_files

        path = next(f for f in sample_corpus_files() if f.name.endswith(".txt"))
    data = path.read_bytes()[:n]
    return np.frombuffer(data, dtype=np.uint8).astype(np.uint16)


def _cfg(arch: str = "gpt", **kw) -> ModelConfig:
    base = dict(arch=arch, vocab_size=260, n_layer=2, n_head=2, n_embd=32, block_size=16)
    base.update(kw)
    return ModelConfig(**base)


def _model(arch: str = "gpt", seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(_cfg(arch, **kw)).eval()


# -------------------------------------------------------------------------------- structure


def test_gpt_has_gpt2_names_and_tied_head():
    m = _model("gpt", bias=True)
    names = set(dict(m.named_parameters(remove_duplicate=False)))
    for i in range(2):
        for part in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            assert f"transformer.h.{i}.{part}.weight" in names
            assert f"transformer.h.{i}.{part}.bias" in names
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
            "lm_head.weight"} <= names
    assert "lm_head.bias" not in names
    assert m.lm_head.weight is m.transformer.wte.weight
    assert m.transformer.h[0].attn.c_attn.weight.shape == (96, 32)  # fused q, k, v
    assert m.transformer.h[0].mlp.c_fc.weight.shape == (128, 32)  # 4x width


def test_gpt_bias_flag_and_init():
    m = _model("gpt", bias=False, n_layer=8, n_embd=256, n_head=4)
    assert all(not n.endswith(".bias") for n, _ in m.named_parameters())
    proj = torch.cat([b.attn.c_proj.weight.flatten() for b in m.transformer.h])
    fc = torch.cat([b.mlp.c_fc.weight.flatten() for b in m.transformer.h])
    assert proj.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert fc.std().item() == pytest.approx(0.02, rel=0.05)
    biased = _model("gpt", bias=True)
    assert all(torch.all(p == 0) for n, p in biased.named_parameters()
               if n.endswith(".bias") and ".ln_" not in n and "ln_f" not in n)


def test_bert_has_bert_names_and_tied_decoder():
    m = _model("bert")
    names = set(dict(m.named_parameters(remove_duplicate=False)))
    prefix = "encoder.layer.1."
    for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                 "output.dense", "output.LayerNorm"):
        assert prefix + part + ".weight" in names
    assert {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
            "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.weight",
            "cls.predictions.decoder.weight", "cls.predictions.bias"} <= names
    assert m.cls.predictions.decoder.weight is m.embeddings.word_embeddings.weight


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_parameter_counts_agree_and_count_tied_once(arch):
    cfg = _cfg(arch, n_embd=48, n_head=3, n_layer=3)
    m = build_model(cfg)
    unique = {id(p): p.numel() for p in m.parameters()}
    assert m.num_parameters() == count_parameters(cfg) == sum(unique.values())
    all_named = sum(p.numel() for _, p in m.named_parameters(remove_duplicate=False))
    assert all_named - m.num_parameters() == cfg.vocab_size * cfg.n_embd  # the tied matrix
    assert set(MODEL_CLASSES) == {"gpt", "bert", "llama"}
    assert isinstance(m, GPT if arch == "gpt" else Bert)


def test_count_parameters_builds_nothing_big():
    cfg = ModelConfig(arch="gpt", vocab_size=50257, n_layer=12, n_head=12, n_embd=768,
                      block_size=1024)
    assert count_parameters(cfg) == 124_439_808  # GPT-2 small


def test_build_model_validates():
    with pytest.raises(UserError, match="n_head"):
        build_model(_cfg(n_embd=30, n_head=4))


# -------------------------------------------------------------------------------- GPT


def test_gpt_forward_shapes_and_ignore_index():
    m = _model("gpt")
    x = torch.randint(0, 256, (3, 16))
    logits, loss = m(x)
    assert logits.shape == (3, 16, 260) and loss is None
    y = torch.randint(0, 256, (3, 16))
    _, full = m(x, y)
    y_half = y.clone()
    y_half[:, 8:] = -100
    _, half = m(x, y_half)
    expected = torch.nn.functional.cross_entropy(logits[:, :8].reshape(-1, 260),
                                                 y[:, :8].reshape(-1))
    assert half.item() == pytest.approx(expected.item(), rel=1e-5)
    assert full.item() != pytest.approx(half.item())
    assert m.hidden_states(x).shape == (3, 16, 32)


def test_gpt_is_causal():
    m = _model("gpt")
    x = torch.from_numpy(_austen_bytes()[1000:1016].astype(np.int64))[None]
    base = m(x)[0]
    for t in (0, 5, 14):
        changed = x.clone()
        changed[0, t + 1] = (changed[0, t + 1] + 7) % 256
        out = m(changed)[0]
        torch.testing.assert_close(out[0, : t + 1], base[0, : t + 1], rtol=0, atol=1e-6)
        assert not torch.allclose(out[0, t + 1], base[0, t + 1])


def test_gpt_kv_cache_matches_full_forward():
    m = _model("gpt", block_size=32, max_positions=32)
    x = torch.from_numpy(_austen_bytes()[5000:5032].astype(np.int64))[None]
    full = m(x)[0]
    with torch.inference_mode():
        cache = m.new_cache(1)
        parts = [m.forward_cached(x[:, :10], cache)]  # prefill from empty
        parts.append(m.forward_cached(x[:, 10:13], cache))  # several after a prefix
        for t in range(13, 32):  # one at a time
            parts.append(m.forward_cached(x[:, t: t + 1], cache))
        assert cache.length == 32 and cache.free == 0
        with pytest.raises(ValueError):
            m.forward_cached(x[:, :1], cache)
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=0, atol=1e-5)


def test_gpt_kv_cache_batched():
    m = _model("gpt")
    x = torch.from_numpy(_austen_bytes()[:32].astype(np.int64)).view(2, 16)
    with torch.inference_mode():
        cache = m.new_cache(2)
        first = m.forward_cached(x[:, :12], cache)
        rest = m.forward_cached(x[:, 12:], cache)
    torch.testing.assert_close(torch.cat([first, rest], 1), m(x)[0], rtol=0, atol=1e-5)


# -------------------------------------------------------------------------------- BERT


def test_bert_is_bidirectional():
    m = _model("bert")
    x = torch.from_numpy(_austen_bytes()[2000:2016].astype(np.int64))[None]
    base = m(x)[0]
    changed = x.clone()
    changed[0, 12] = (changed[0, 12] + 3) % 256
    out = m(changed)[0]
    assert not torch.allclose(out[0, :12], base[0, :12])  # earlier positions see the change


def test_bert_padding_mask_hides_padding():
    m = _model("bert")
    real = torch.from_numpy(_austen_bytes()[3000:3010].astype(np.int64))
    a = torch.cat([real, torch.full((6,), PAD)])[None]
    b = torch.cat([real, torch.randint(0, 256, (6,))])[None]
    mask = torch.cat([torch.ones(10), torch.zeros(6)]).long()[None]
    out_a = m(a, attention_mask=mask)[0]
    out_b = m(b, attention_mask=mask)[0]
    torch.testing.assert_close(out_a[0, :10], out_b[0, :10], rtol=0, atol=1e-5)
    # Padding masked out equals the real tokens alone.
    torch.testing.assert_close(out_a[0, :10], m(real[None])[0][0], rtol=0, atol=1e-5)
    # Without the mask the padding leaks in.
    assert not torch.allclose(m(a)[0][0, :10], m(b)[0][0, :10], atol=1e-5)


def test_bert_labels_select_positions_and_token_types():
    m = _model("bert")
    x = torch.randint(0, 256, (2, 16))
    labels = torch.full((2, 16), -100)
    labels[0, 3], labels[1, 7], labels[1, 9] = 5, 6, 7
    full = m(x)[0]
    logits, loss = m(x, labels=labels)
    assert logits.shape == (3, 260)
    torch.testing.assert_close(logits, full[labels != -100], rtol=0, atol=1e-5)
    expected = torch.nn.functional.cross_entropy(full[labels != -100], torch.tensor([5, 6, 7]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert m.hidden_states(x).shape == (2, 16, 32)
    types = torch.zeros_like(x)
    torch.testing.assert_close(m(x, token_type_ids=types)[0], full, rtol=0, atol=1e-6)
    types[:, 8:] = 1
    assert not torch.allclose(m(x, token_type_ids=types)[0], full)


# -------------------------------------------------------------------------------- learning


def _train(model, next_batch, loss_fn, steps: int, lr: float) -> tuple[float, float]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model, next_batch())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], float(np.mean(losses[-20:]))


def test_gpt_learns_austen_bytes():
    torch.manual_seed(0)
    tokens = _austen_bytes()
    m = build_model(_cfg("gpt", vocab_size=256, n_layer=2, n_head=2, n_embd=64, block_size=32))
    batches = CausalBatches(tokens, 32, 16, seed=1)
    start = time.perf_counter()
    first, last = _train(m, batches.next, lambda m, b: m(*b)[1], steps=200, lr=3e-3)
    elapsed = time.perf_counter() - start
    print(f"gpt: {first:.3f} -> {last:.3f} in {elapsed:.1f}s")
    assert first > 5.0  # ~ln(256) at the start
    assert last < 3.3, (first, last)  # near the byte unigram entropy (~3 nats) in 200 steps


def test_bert_learns_austen_bytes():
    torch.manual_seed(0)
    tokens = _austen_bytes()
    m = build_model(_cfg("bert", vocab_size=260, n_layer=2, n_head=2, n_embd=64, block_size=34))
    batches = MaskedBatches(tokens, 34, 16, seed=1, mask_id=MASK, vocab_size=260,
                            special_ids=BYTE_SPECIALS, cls_id=CLS, sep_id=SEP)
    start = time.perf_counter()
    first, last = _train(m, batches.next, lambda m, b: m(b[0], labels=b[1])[1], steps=200,
                         lr=3e-3)
    print(f"bert: {first:.3f} -> {last:.3f} in {time.perf_counter() - start:.1f}s")
    assert first > 5.0  # ~ln(260)
    assert last < 3.4, (first, last)  # most of the way to the byte unigram entropy
