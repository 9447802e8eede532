"""Llama, Qwen2 and Qwen3 folders made by transformers (random, tiny, no download): imported
(one file or shards, fp32 or bf16) with the same logits and greedy text as transformers,
exported back to transformers with the same logits, written as GGUF with llama.cpp's names and
q/k layout; and every refusal in one line with nothing written."""

from __future__ import annotations

import datetime
import json

import pytest
import torch

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.interchange.gguf_export import export_gguf
from lmstudio_app.core.interchange.hf_export import export_hf
from lmstudio_app.core.interchange.hf_import import import_hf
from lmstudio_app.core.interchange.llama_gguf import permute_rows
from lmstudio_app.core.models.generate import generate_choices
from tests.llama_fixtures import FAMILIES, edit_config, save_family

transformers = pytest.importorskip("transformers")

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good"


def _ids(run) -> torch.Tensor:
    return torch.tensor([run.tokenizer.encode(TEXT)])


@pytest.fixture(scope="module", params=[(f, v) for f in FAMILIES for v in ("fp32", "bf16-shards")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def imported(request, tmp_path_factory):
    family, variant = request.param
    root = tmp_path_factory.mktemp(f"{family}-{variant}")
    bf16 = variant == "bf16-shards"
    reference = save_family(root / "src", family, dtype=torch.bfloat16 if bf16 else torch.float32,
                            shard="40KB" if bf16 else None)
    if bf16:
        assert (root / "src" / "model.safetensors.index.json").is_file()
    result = import_hf(root / "src", root / "run")
    return family, reference, load_run(result.out), root, result


def test_logits_equal_transformers(imported):
    family, reference, run, root, result = imported
    assert result.objective == "clm" and run.config.model.arch == "llama"
    fast = transformers.AutoTokenizer.from_pretrained(root / "src")
    assert run.tokenizer.encode(TEXT) == fast(TEXT)["input_ids"]
    with torch.no_grad():
        ours, theirs = run.model(_ids(run))[0], reference(_ids(run)).logits
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_greedy_text_equals_transformers(imported):
    family, reference, run, root, _ = imported
    ours = "".join(c.text for c in generate_choices(
        run.model, run.tokenizer, TEXT, max_new_tokens=12, temperature=0, stop_at_eos=False))
    fast = transformers.AutoTokenizer.from_pretrained(root / "src")
    ids = _ids(run)
    out = reference.generate(ids, max_new_tokens=12, do_sample=False, eos_token_id=None,
                             pad_token_id=0)
    assert ours == fast.decode(out[0, ids.shape[1]:])


def test_export_back_gives_the_same_logits_in_transformers(imported, tmp_path):
    family, reference, run, root, _ = imported
    result = export_hf(run.run_dir, tmp_path / "hf")
    want = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
            "qwen3": "Qwen3ForCausalLM"}[family]
    assert result.architecture == want
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == family and config["architectures"] == [want]
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").float().eval()
    with torch.no_grad():
        torch.testing.assert_close(back(_ids(run)).logits, reference(_ids(run)).logits,
                                   atol=1e-4, rtol=1e-4)
    fast = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert fast(TEXT)["input_ids"] == run.tokenizer.encode(TEXT)


def test_gguf_has_llama_cpp_names_layout_and_rope(imported, tmp_path):
    gguf = pytest.importorskip("gguf")
    family, reference, run, root, _ = imported
    export_gguf(run.run_dir, tmp_path / "m.gguf", dtype="f32")
    reader = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    fields = {f.name: f for f in reader.fields.values()}
    arch = bytes(fields["general.architecture"].parts[-1]).decode()
    assert arch == ("qwen3" if family == "qwen3" else "llama")
    tensors = {t.name: t for t in reader.tensors}
    expected = {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{part}.weight" for i in range(2) for part in (
            "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
            "ffn_up", "ffn_down")}
    if family == "qwen2":
        expected |= {"output.weight"} | {f"blk.{i}.attn_{x}.bias" for i in range(2)
                                         for x in "qkv"}
    if family == "qwen3":
        expected |= {f"blk.{i}.attn_{x}_norm.weight" for i in range(2) for x in "qk"}
    if family == "llama":
        expected |= {"rope_freqs.weight"}
    assert set(tensors) == expected
    m = run.config.model
    assert int(fields[f"{arch}.attention.head_count_kv"].parts[-1][0]) == m.n_kv_head
    assert float(fields[f"{arch}.rope.freq_base"].parts[-1][0]) == pytest.approx(m.rope_theta)
    q = torch.from_numpy(tensors["blk.0.attn_q.weight"].data.copy()).reshape(-1, m.n_embd)
    ours = run.model.model.layers[0].self_attn.q_proj.weight.detach()
    want = ours if family == "qwen3" else permute_rows(ours, m.n_head)
    torch.testing.assert_close(q, want)


# ------------------------------------------------------------------------------ refusals


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("refusals") / "src"
    save_family(src, "llama", shard="40KB")
    return src


def _copy(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / "src")


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"model_type": "gpt_neox"}, "model_type", "only GPT-2"),
    ({"auto_map": {"AutoModelForCausalLM": "modeling.MyModel"}}, "auto_map", "never runs"),
    ({"num_local_experts": 8}, "num_local_experts", "mixture of experts"),
    ({"vision_config": {"hidden_size": 8}}, "vision_config", "vision"),
    ({"hidden_act": "gelu"}, "hidden_act", "SwiGLU"),
    ({"attention_bias": True}, "attention_bias", "biases"),
    ({"layer_types": ["sliding_attention", "full_attention"]}, "layer_types", "full attention"),
    ({"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4}},
     "rope_scaling", "yarn"),
    ({"vocab_size": 100}, "hf", "tokenizer has"),
])
def test_bad_config_is_refused_naming_the_field(folder, tmp_path, changes, field, words):
    src = _copy(folder, tmp_path)
    edit_config(src, **changes)
    with pytest.raises(UserError, match=words) as err:
        import_hf(src, tmp_path / "run")
    assert err.value.field == field and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_mistral_sliding_window_is_refused(folder, tmp_path):
    src = _copy(folder, tmp_path)
    edit_config(src, model_type="mistral", architectures=["MistralForCausalLM"],
                sliding_window=4096, rope_parameters=None, rope_theta=1e4)
    with pytest.raises(UserError, match="sliding") as err:
        import_hf(src, tmp_path / "run")
    assert err.value.field == "sliding_window"
    edit_config(src, sliding_window=None)  # without one, a Mistral is a Llama
    assert import_hf(src, tmp_path / "run").architecture == "MistralForCausalLM"


def test_missing_shard_is_named(folder, tmp_path):
    src = _copy(folder, tmp_path)
    index = json.loads((src / "model.safetensors.index.json").read_text())
    shard = sorted(set(index["weight_map"].values()))[-1]
    (src / shard).unlink()
    with pytest.raises(UserError, match=f"shard {shard}") as err:
        import_hf(src, tmp_path / "run")
    assert err.value.field == "hf" and not (tmp_path / "run").exists()


def test_pickled_weights_load_only_as_plain_tensors(folder, tmp_path):
    from safetensors.torch import load_file

    src = _copy(folder, tmp_path)
    state = {}
    for f in src.glob("*.safetensors"):
        state.update(load_file(f))
        f.unlink()
    (src / "model.safetensors.index.json").unlink()
    torch.save({**state, "when": datetime.datetime(2020, 1, 1)}, src / "pytorch_model.bin")
    with pytest.raises(UserError, match="refused") as err:
        import_hf(src, tmp_path / "run")
    assert "nothing in it was executed" in str(err.value)
    torch.save(state, src / "pytorch_model.bin")  # plain tensors load
    assert import_hf(src, tmp_path / "run").parameters > 0


def test_repo_id_offline_and_not_cached_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="not in the local Hugging Face cache") as err:
        import_hf("HuggingFaceTB/SmolLM2-135M", tmp_path / "run")
    assert err.value.field == "hf" and not (tmp_path / "run").exists()


def test_repo_id_in_the_cache_is_imported_offline(folder, tmp_path, monkeypatch):
    """A snapshot laid out as huggingface_hub caches it is found without the network."""
    import shutil

    home = tmp_path / "hf-home"
    repo = home / "hub" / "models--someone--tiny-llama"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.chdir(tmp_path)
    result = import_hf("someone/tiny-llama", tmp_path / "run")
    assert result.architecture == "LlamaForCausalLM"
