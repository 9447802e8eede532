"""Generation (KV cache, sampling, streaming, stopping) and fill-the-mask on tiny real models."""

from __future__ import annotations

import threading

import pytest
import torch

from lmstudio_app.core.config import ModelConfig
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.predict import fill_mask, mask_input_ids
from lmstudio_app.core.models import GPT, Bert, build_model
from lmstudio_app.core.models.generate import (
    _Detokenizer,
    context_keep,
    generate,
    generate_choices,
    sampling_distribution,
)

PROMPT = "It is a truth universally acknowledged, that a single man"


def _gpt(tok, seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    base = dict(arch="gpt", vocab_size=tok.vocab_size, n_layer=2, n_head=2, n_embd=32,
                block_size=32)
    base.update(kw)
    return build_model(ModelConfig(**base))


def _bert(tok, seed: int = 0) -> Bert:
    torch.manual_seed(seed)
    return build_model(ModelConfig(arch="bert", vocab_size=tok.vocab_size, n_layer=2, n_head=2,
                                   n_embd=32, block_size=32))


@torch.no_grad()
def _greedy_reference(model: GPT, tok, prompt: str, n: int) -> str:
    """Greedy decoding by full forwards over the same window the cached generator keeps."""
    ids = tok.encode(prompt) or [tok.bos_id]
    max_pos = model.config.max_positions
    start = max(0, len(ids) - context_keep(max_pos)) if len(ids) >= max_pos else 0
    new: list[int] = []
    for _ in range(n):
        logits = model(torch.tensor([ids[start:]]))[0][0, -1]
        token = int(logits.argmax())
        if token == tok.eos_id:
            break
        ids.append(token)
        new.append(token)
        if len(ids) - start >= max_pos:  # the window is full: slide it as generate does
            start = len(ids) - context_keep(max_pos)
    anchor = (tok.encode(prompt) or [tok.bos_id])[-8:]
    # A character whose bytes were not all generated is left out, as generate does.
    return tok.decode(anchor + new)[len(tok.decode(anchor)):].rstrip("\ufffd")


def test_greedy_generation_equals_full_forward(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    text = "".join(generate(model, tok, PROMPT, max_new_tokens=20, temperature=0))
    assert text == _greedy_reference(model, tok, PROMPT, 20)
    assert model.training  # eval mode only while generating


def test_generation_keeps_going_past_the_position_table(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok, block_size=16)
    assert len(tok.encode(PROMPT)) > 16  # the prompt alone overflows it
    pieces = list(generate(model, tok, PROMPT, max_new_tokens=60, temperature=0,
                           stop_at_eos=False))
    assert "".join(pieces) == _greedy_reference(model, tok, PROMPT, 60)
    assert len(pieces) > 20


def test_empty_prompt_starts_from_bos(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    choices = list(generate_choices(model, tok, "", max_new_tokens=12, temperature=0,
                                    stop_at_eos=False))
    assert len(choices) == 12
    assert "".join(c.text for c in choices) == _greedy_reference(model, tok, "", 12)


def test_same_seed_same_text(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)

    def run(seed):
        return "".join(generate(model, tok, PROMPT, max_new_tokens=30, temperature=1.0,
                                top_k=None, top_p=None, seed=seed))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_top_k_one_is_greedy(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    greedy = "".join(generate(model, tok, PROMPT, max_new_tokens=25, temperature=0))
    top1 = "".join(generate(model, tok, PROMPT, max_new_tokens=25, temperature=1.5, top_k=1,
                            seed=3))
    assert top1 == greedy
    tiny_p = "".join(generate(model, tok, PROMPT, max_new_tokens=25, temperature=1.0,
                              top_k=None, top_p=1e-6, seed=4))
    assert tiny_p == greedy  # nucleus of one token


def _forcing(model: GPT, token: int) -> GPT:
    """Make every position predict `token`: the final LayerNorm outputs its embedding alone."""
    with torch.no_grad():
        wte = model.transformer.wte.weight
        wte[token] = wte[token] / wte[token].norm() * 10
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(wte[token])
    return model


def test_stops_at_eos(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _forcing(_gpt(tok), tok.eos_id)
    assert list(generate(model, tok, PROMPT, max_new_tokens=10, temperature=0)) == []
    assert list(generate(model, tok, PROMPT, max_new_tokens=10, temperature=0.5, seed=1)) == []


def test_max_new_tokens_without_eos(unigram_tokenizer):
    tok = unigram_tokenizer
    letter = tok.encode("e")[0]
    model = _forcing(_gpt(tok), letter)
    text = "".join(generate(model, tok, PROMPT, max_new_tokens=9, temperature=0))
    assert text == tok.decode([letter]) * 9


def test_cancel_stops_generation(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    cancel = threading.Event()
    got = []
    for piece in generate(model, tok, PROMPT, max_new_tokens=50, seed=0, cancel=cancel):
        got.append(piece)
        cancel.set()
    assert len(got) == 1


def test_pieces_stream_and_join_to_the_whole(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    stream = generate(model, tok, PROMPT, max_new_tokens=40, temperature=0)
    first = next(stream)  # a piece arrives before the rest is computed
    pieces = [first, *stream]
    assert len(pieces) > 5
    assert "".join(pieces) == _greedy_reference(model, tok, PROMPT, 40)


def test_detokenizer_holds_back_partial_characters(unigram_tokenizer):
    tok = unigram_tokenizer
    text = " caf\u00e9 \U0001f600 \u4e2d\u6587 and more"  # byte-fallback pieces inside
    ids = tok.encode(text)
    assert any(tok.id_to_piece(i).startswith("<0x") for i in ids)
    detok = _Detokenizer(tok, tok.encode("Hello,"))
    pieces = [detok.new_piece(ids[: i + 1]) for i in range(len(ids))]
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)
    assert sum(1 for p in pieces if p) > 5


# -------------------------------------------------------------------------------- fill-mask


def test_mask_input_ids_wrap_the_marker(unigram_tokenizer):
    tok = unigram_tokenizer
    ids, pos = mask_input_ids(tok, "She was [MASK] to see him.")
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and ids[pos] == tok.mask_id
    assert ids.count(tok.mask_id) == 1
    assert tok.decode(ids[1:pos]) == "She was"
    assert tok.decode(ids[pos + 1: -1]) == " to see him."


def test_fill_mask_returns_ordinary_pieces_with_probabilities(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _bert(tok)
    got = fill_mask(model, tok, "She was [MASK] to see him.", top_k=7)
    assert len(got) == 7
    probs = [p for _, p in got]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    special = {tok.id_to_piece(i) for i in tok.special_ids}
    assert not {piece for piece, _ in got} & special
    assert all("\u2581" not in piece for piece, _ in got)  # the space marker shown as a space
    assert model.training


@pytest.mark.parametrize("text", ["no marker here", "[MASK] and [MASK]"])
def test_fill_mask_needs_exactly_one_marker(unigram_tokenizer, text):
    with pytest.raises(UserError, match=r"\[MASK\] exactly once"):
        fill_mask(_bert(unigram_tokenizer), unigram_tokenizer, text)


# -------------------------------------------------------------------------------- probabilities


SHORT = "It is a truth"  # short enough that no window slides in these tests


def _full_logits(model: GPT, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0, -1]


def test_choices_report_the_models_softmax_for_each_step(unigram_tokenizer):
    tok = unigram_tokenizer
    model = _gpt(tok)
    ids = tok.encode(SHORT)
    choices = list(generate_choices(model, tok, SHORT, max_new_tokens=10, temperature=0,
                                    stop_at_eos=False))
    for c in choices:
        probs = torch.softmax(_full_logits(model, ids).float(), -1)
        assert c.token_id == int(probs.argmax())
        assert abs(c.probability - float(probs[c.token_id])) < 1e-5
        assert c.top[0] == (tok.id_to_piece(c.token_id), pytest.approx(c.probability))
        assert len(c.top) == 5 and [p for _, p in c.top] == sorted((p for _, p in c.top),
                                                                  reverse=True)
        entropy = float(-(probs * torch.log2(probs.clamp_min(1e-30))).sum())
        assert abs(c.entropy_bits - entropy) < 1e-4
        ids.append(c.token_id)


@pytest.mark.parametrize(("temperature", "top_k", "top_p"),
                         [(1.5, None, None), (0.8, 3, None), (1.0, None, 0.5)])
def test_sampled_choices_report_the_distribution_the_sampler_used(unigram_tokenizer, temperature,
                                                                   top_k, top_p):
    tok = unigram_tokenizer
    model = _gpt(tok)
    ids = tok.encode(SHORT)
    choices = list(generate_choices(model, tok, SHORT, max_new_tokens=8, temperature=temperature,
                                    top_k=top_k, top_p=top_p, seed=7, stop_at_eos=False))
    for c in choices:
        used = sampling_distribution(_full_logits(model, ids), temperature=temperature,
                                     top_k=top_k, top_p=top_p)
        assert abs(float(used.sum()) - 1.0) < 1e-5
        assert abs(c.probability - float(used[c.token_id])) < 1e-5 and c.probability > 0
        if top_k is not None:
            assert len(c.top) <= top_k  # nothing outside the top-k is ever proposed
        ids.append(c.token_id)
