"""The Llama-family decoder against transformers' own Llama, Qwen2 and Qwen3 (random tiny
models, no download): the same logits, the KV cache, greedy text, attention maps, task heads,
checkpointing, and the shape checks of its fields."""

from __future__ import annotations

import json

import pytest
import torch

from lmstudio_app.core.config import ModelConfig, RunConfig, TrainConfig, build_run_config
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.attention import attention_weights
from lmstudio_app.core.models import Llama, build_model, count_parameters
from lmstudio_app.core.models.checkpointing import set_gradient_checkpointing
from lmstudio_app.core.models.flops import flops_per_token, non_embedding_parameters
from lmstudio_app.core.models.generate import generate_choices
from lmstudio_app.core.models.heads import SequenceClassifier, SpanExtractor
from lmstudio_app.core.models.llama import rope_inv_freq
from lmstudio_app.core.training.memory import estimate_training_memory
from tests.llama_fixtures import FAMILIES, LLAMA3_ROPE, our_config, transformers_twin

pytest.importorskip("transformers")


def _ours(family: str, seed: int = 0, **extra) -> Llama:
    torch.manual_seed(seed)
    model = build_model(our_config(family, **extra))
    with torch.no_grad():  # norms and biases away from their init, so each one matters
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_equal_transformers(family):
    model = _ours(family)
    twin = transformers_twin(model, family)
    x = torch.randint(0, 300, (2, 50), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(x)[0], twin(x).logits
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_kv_cache_matches_full_forward(family):
    model = _ours(family)
    x = torch.randint(0, 300, (2, 40), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(x)[0]
        cache = model.new_cache(2)
        assert cache.keys.shape[2] == 2  # n_kv_head heads are cached, not n_head
        parts = [model.forward_cached(x[:, :25], cache),  # prefill
                 model.forward_cached(x[:, 25:29], cache),  # several after a prefix
                 model.forward_cached(x[:, 29:30], cache)]  # one
    torch.testing.assert_close(torch.cat(parts, 1), full[:, :30], atol=1e-5, rtol=1e-5)


class _Ids:
    """A tokenizer over raw ids ("3 17 5"), enough for generate_choices."""

    bos_id, eos_id = 0, -1

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in text.split()]

    def decode(self, ids: list[int]) -> str:
        return "".join(f" {i}" for i in ids)

    def id_to_piece(self, i: int) -> str:
        return str(i)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_text_equals_transformers_generate(family):
    model = _ours(family, seed=3)
    twin = transformers_twin(model, family)
    prompt = [5, 17, 42, 7]
    ours = [c.token_id for c in generate_choices(
        model, _Ids(), " ".join(map(str, prompt)), max_new_tokens=20, temperature=0)]
    theirs = twin.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False,
                           eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
    assert ours == theirs


@pytest.mark.parametrize("family", FAMILIES)
def test_attention_maps_equal_transformers_eager_attention(family):
    model = _ours(family)
    twin = transformers_twin(model, family)
    x = torch.randint(0, 300, (1, 12), generator=torch.Generator().manual_seed(4))
    ours = attention_weights(model, x)
    with torch.no_grad():
        theirs = torch.stack([a[0] for a in twin(x, output_attentions=True).attentions])
    assert ours.shape == (2, 4, 12, 12)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    assert torch.all(ours.triu(diagonal=1) == 0)


def test_rope_llama3_scaling_matches_transformers():
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from tests.llama_fixtures import hf_config

    theirs, _ = ROPE_INIT_FUNCTIONS["llama3"](hf_config("llama"), "cpu")
    ours = rope_inv_freq(our_config("llama"))
    torch.testing.assert_close(ours, theirs.float())
    plain = rope_inv_freq(our_config("llama", rope_scaling=""))
    assert not torch.allclose(ours, plain)  # the scaling changed the low frequencies
    linear = rope_inv_freq(our_config("llama", rope_scaling=json.dumps(
        {"rope_type": "linear", "factor": 4.0})))
    torch.testing.assert_close(linear, plain / 4)


def test_names_tying_and_grouped_heads():
    model = build_model(our_config("llama"))
    names = set(dict(model.named_parameters(remove_duplicate=False)))
    for part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
                 "post_attention_layernorm"):
        assert f"model.layers.1.{part}.weight" in names
    assert not any(n.endswith(".bias") for n in names)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.model.layers[0].self_attn.k_proj.weight.shape == (2 * 16, 64)
    untied = build_model(our_config("qwen2"))
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight
    assert "model.layers.0.self_attn.q_proj.bias" in dict(untied.named_parameters())
    assert "model.layers.0.self_attn.q_norm.weight" in dict(
        build_model(our_config("qwen3")).named_parameters())
    for family in FAMILIES:
        cfg = our_config(family)
        assert count_parameters(cfg) == build_model(cfg).num_parameters()


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_flops_count_no_position_table_and_memory_covers_llama(family):
    cfg = our_config(family)
    n = count_parameters(cfg)
    embed = 0 if cfg.tie_word_embeddings else cfg.vocab_size * cfg.n_embd
    assert non_embedding_parameters(cfg) == n - embed
    assert flops_per_token(cfg) == 6 * (n - embed) + 12 * 2 * 4 * 16 * cfg.block_size
    run = RunConfig(model=cfg, train=TrainConfig(batch_size=4))
    est = estimate_training_memory(run, n, "cpu")
    assert est.parts["weights and optimizer"] == int(n * 16.35)
    assert est.parts["logits"] > 0


@pytest.mark.parametrize("arch", ["llama"])
def test_heads_read_a_llama_body_and_train(arch):
    body = _ours("qwen3")
    clf = SequenceClassifier(body, 3, "last").train()
    span = SpanExtractor(body).train()
    ids = torch.randint(0, 300, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 6:] = 0
    logits = clf(ids, mask)
    hidden = body.hidden_states(ids)
    torch.testing.assert_close(logits[1], clf.head(hidden[1, 5]))  # the last real token
    logits.sum().backward()
    assert body.model.layers[0].self_attn.q_norm.weight.grad is not None
    start, end = span(ids, mask, torch.zeros_like(ids))
    assert start.shape == end.shape == (2, 10)


def test_checkpointing_gives_the_same_gradients():
    def grads(on: bool) -> dict[str, torch.Tensor]:
        model = _ours("qwen2").train()
        set_gradient_checkpointing(model, on)
        x = torch.randint(0, 300, (2, 20), generator=torch.Generator().manual_seed(5))
        model(x[:, :-1], x[:, 1:])[1].backward()
        return {n: p.grad for n, p in model.named_parameters()}

    plain, ckpt = grads(False), grads(True)
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("fields", "field"), [
    ({"n_kv_head": 3}, ("n_kv_head", "n_head")),
    ({"rope_theta": 0.5}, "rope_theta"),
    ({"rope_scaling": json.dumps({"rope_type": "yarn", "factor": 4.0})}, "rope_scaling"),
    ({"rope_scaling": json.dumps({"rope_type": "llama3", "factor": 8.0})}, "rope_scaling"),
    ({"norm_eps": 0.0}, "norm_eps"),
])
def test_bad_llama_fields_name_the_field(fields, field):
    with pytest.raises(UserError) as err:
        our_config("llama", **fields).validate()
    assert err.value.fields == (field if isinstance(field, tuple) else (field,))


def test_llama_fields_are_refused_on_a_gpt():
    with pytest.raises(UserError, match="arch=llama") as err:
        ModelConfig(arch="gpt", qk_norm=True).validate()
    assert err.value.field == "qk_norm"


def test_presets_give_llama_sizes_and_the_optimizer():
    cfg = build_run_config("clm", "tiny", 500, arch="llama")
    assert (cfg.model.arch, cfg.model.n_kv_head, cfg.model.intermediate_size) == \
        ("llama", 2, 256)
    assert cfg.train.optimizer in ("adamw", "muon")
    muon = build_run_config("clm", "tiny", 500, {"optimizer": "muon", "n_layer": 2},
                            arch="llama")
    assert (muon.train.optimizer, muon.model.n_layer) == ("muon", 2)
    assert build_run_config("clm", "smollm2-135m", 49152, arch="llama").model.n_embd == 576
    with pytest.raises(UserError) as err:
        build_run_config("clm", "smollm2-135m", 500)  # a Llama preset, not a GPT one
    assert err.value.field == "preset"
    with pytest.raises(UserError) as err:
        build_run_config("clm", "tiny", 500, {"optimizer": "sgd"}, arch="llama")
    assert err.value.field == "optimizer"
    with pytest.raises(UserError) as err:
        build_run_config("mlm", "tiny", 500, arch="llama")
    assert err.value.field == "arch"


def test_smollm2_shape_has_135m_parameters():
    cfg = build_run_config("clm", "smollm2-135m", 49152, arch="llama").model
    assert count_parameters(cfg) == 134_515_008  # SmolLM2-135M's published count


def test_llama3_rope_needs_all_its_keys():
    ok = our_config("llama", rope_scaling=json.dumps(LLAMA3_ROPE))
    ok.validate()


def test_bf16_autocast_trains_close_to_fp32():
    model = _ours("qwen2").train()
    x = torch.randint(0, 300, (2, 20), generator=torch.Generator().manual_seed(6))
    plain = model(x[:, :-1], x[:, 1:])[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(x[:, :-1], x[:, 1:])
    assert logits.dtype == torch.bfloat16
    loss.backward()
    assert float(loss.detach()) == pytest.approx(float(plain.detach()), rel=0.02)
    assert model.model.layers[0].self_attn.q_proj.weight.grad.dtype == torch.float32
