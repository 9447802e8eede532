"""The instruments that look inside a model: token losses, hard tokens, attention weights.

Tiny real runs (one layer, width 32, 20 steps) on a prepared Austen store; each figure is checked
against an independent computation (the evaluation loss, an explicit softmax(QK^T))."""

from __future__ import annotations

import math

import pytest
import torch

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.inference.attention import attention_maps
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.token_losses import (
    MASK_SEED,
    hard_tokens,
    passage_losses,
)
from lmstudio_app.core.objectives.batches import mask_tokens
from lmstudio_app.core.training.trainer import Trainer

TINY = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
        "eval_interval": 20, "eval_batches": 2, "log_interval": 10, "sample_tokens": 4,
        "max_steps": 20}
PASSAGE = "It is a truth universally acknowledged, that a single man in possession"


@pytest.fixture(scope="module", params=["clm", "mlm", "llama"])
def run(request, prepared_data, tmp_path_factory):
    vocab = Tokenizer.load(prepared_data / "tokenizer.model").vocab_size
    llama = request.param == "llama"  # a clm run of the Llama architecture
    cfg = build_run_config("clm" if llama else request.param, "tiny", vocab, TINY,
                           data_dir=str(prepared_data), arch="llama" if llama else None)
    out = tmp_path_factory.mktemp(request.param) / "run"
    assert Trainer(cfg, out).run().reason == "completed"
    return load_run(out)


def test_passage_mean_equals_the_evaluation_loss_of_the_same_tokens(run):
    tok, model = run.tokenizer, run.model
    found = passage_losses(run, PASSAGE)
    ids = tok.encode(PASSAGE)
    assert [t.token_id for t in found.tokens] == ids
    assert "".join(t.text for t in found.tokens) == tok.decode(ids)
    with torch.no_grad():
        if run.config.objective == "clm":
            x = torch.tensor([ids])
            reference = float(model(x[:, :-1], x[:, 1:])[1])
            assert found.tokens[0].loss is None and all(t.loss is not None
                                                        for t in found.tokens[1:])
        else:
            row = torch.tensor([[tok.cls_id, *ids, tok.sep_id]])
            inputs, labels = mask_tokens(
                row, mask_id=tok.mask_id, vocab_size=tok.vocab_size,
                special_ids=tok.special_ids, prob=run.config.train.mask_prob,
                generator=torch.Generator().manual_seed(MASK_SEED))
            reference = float(model(inputs, labels=labels)[1])
            scored = [t for t in found.tokens if t.loss is not None]
            assert len(scored) == int((labels != -100).sum())
    assert found.mean_loss == pytest.approx(reference, abs=1e-4)


def test_hard_tokens_are_sorted_and_count_real_occurrences(run):
    table = hard_tokens(run, windows=16, min_count=2)
    assert table and all(h.count >= 2 for h in table)
    losses = [h.mean_loss for h in table]
    assert losses == sorted(losses, reverse=True)
    assert all(math.isfinite(v) and v >= 0 for v in losses)
    assert all(run.tokenizer.id_to_piece(h.token_id) == h.piece for h in table)


def _transformers_weights(run, x: torch.Tensor) -> torch.Tensor:
    transformers = pytest.importorskip("transformers")
    from lmstudio_app.core.interchange.llama_hf import build_hf_llama

    twin = build_hf_llama(transformers, run.model, run.config, {})
    twin.config._attn_implementation = "eager"
    with torch.no_grad():
        return torch.stack([a[0] for a in twin(x, output_attentions=True).attentions])


def _reference_weights(run, ids: list[int]) -> torch.Tensor:
    """Q and K by hand from each layer's parameters, weights = softmax(QK^T / sqrt(d))."""
    model, cfg = run.model, run.config.model
    H, D = cfg.n_head, cfg.n_embd // cfg.n_head
    x = torch.tensor([ids])
    out = []
    if cfg.arch == "llama":  # transformers' own eager attention, holding our weights
        return _transformers_weights(run, x)
    with torch.no_grad():
        if cfg.arch == "gpt":
            h = model._embed(x)
            for block in model.transformer.h:
                a = block.ln_1(h)
                q, k, _ = block.attn.c_attn(a).split(cfg.n_embd, dim=-1)
                q = q.view(1, -1, H, D).transpose(1, 2)
                k = k.view(1, -1, H, D).transpose(1, 2)
                s = q @ k.transpose(-1, -2) / math.sqrt(D)
                T = len(ids)
                s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
                out.append(torch.softmax(s, -1)[0])
                h = block(h)
        else:
            h = model.embeddings(x, None)
            for layer in model.encoder.layer:
                att = layer.attention.self
                q = att.query(h).view(1, -1, H, D).transpose(1, 2)
                k = att.key(h).view(1, -1, H, D).transpose(1, 2)
                out.append(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), -1)[0])
                h = layer(h, None)
    return torch.stack(out)


def test_attention_rows_sum_to_one_and_match_an_explicit_softmax(run):
    maps = attention_maps(run, "She was a handsome woman.")
    L, H = run.config.model.n_layer, run.config.model.n_head
    T = len(maps.tokens)
    assert maps.weights.shape == (L, H, T, T)
    assert torch.allclose(maps.weights.sum(-1), torch.ones(L, H, T), atol=1e-5)
    tok = run.tokenizer
    ids = tok.encode("She was a handsome woman.")
    if run.config.objective == "mlm":
        ids = [tok.cls_id, *ids, tok.sep_id]
    else:
        assert torch.all(maps.weights.triu(diagonal=1) == 0)  # no token sees the future
    assert torch.allclose(maps.weights, _reference_weights(run, ids), atol=1e-5)


def test_a_long_passage_scores_every_token_after_the_first_once(run, pride_text):
    text = pride_text[:1500]
    found = passage_losses(run, text)
    scored = [t for t in found.tokens if t.loss is not None]
    if run.config.objective == "clm":
        assert len(found.tokens) == len(run.tokenizer.encode(text)) > 2 * 64
        assert len(scored) == len(found.tokens) - 1
    else:  # a BERT reads one window: the passage is cut to it
        assert len(found.tokens) == 64 - 2 and 0 < len(scored) < len(found.tokens)
