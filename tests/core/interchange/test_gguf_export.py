"""GGUF export read back with gguf's own reader: every tensor, key and vocabulary entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.interchange.gguf_export import export_gguf
from lmstudio_app.core.interchange.hf_import import import_hf
from tests.interchange_fixtures import HF_MISSING

gguf = pytest.importorskip("gguf", reason=HF_MISSING)

# Our names -> llama.cpp's, as convert_hf_to_gguf.py names a GPT-2's tensors.
EXPECTED = {"transformer.wte.weight": "token_embd.weight",
            "transformer.wpe.weight": "position_embd.weight",
            "transformer.ln_f.weight": "output_norm.weight",
            "transformer.ln_f.bias": "output_norm.bias"}
PER_BLOCK = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output",
             "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}


def _expected_names(n_layer: int) -> dict[str, str]:
    out = dict(EXPECTED)
    for i in range(n_layer):
        for ours, theirs in PER_BLOCK.items():
            for part in ("weight", "bias"):
                out[f"transformer.h.{i}.{ours}.{part}"] = f"blk.{i}.{theirs}.{part}"
    return out


def _field(reader, key):
    f = reader.fields[key]
    if len(f.types) > 1 or f.types[0] == gguf.GGUFValueType.ARRAY:
        return [f.parts[i].tobytes().decode() if f.types[-1] == gguf.GGUFValueType.STRING
                else f.parts[i].tolist()[0] for i in f.data]
    value = f.parts[f.data[0]]
    return value.tobytes().decode() if f.types[0] == gguf.GGUFValueType.STRING \
        else value.tolist()[0]


def _stored_type(ours: str, t: torch.Tensor, dtype: str) -> str:
    """The GGUF type a tensor is written in: vectors and the position table stay f32."""
    if t.dim() == 1 or dtype == "f32" or ours == "transformer.wpe.weight":
        return "F32"
    return dtype.upper()


def _rounded(t: torch.Tensor, stored: str) -> np.ndarray:
    if stored == "F32":
        return t.numpy()
    if stored == "Q8_0":  # blocks of 32 with one f16 scale: round trip through the same code
        q = gguf.quants.quantize(t.numpy(), gguf.GGMLQuantizationType.Q8_0)
        return gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0)
    return t.to(torch.float16 if stored == "F16" else torch.bfloat16).float().numpy()


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "q8_0"])
def test_every_tensor_and_key_reads_back(dtype, tiny_runs, tmp_path):
    run = tiny_runs["gpt"]
    out = export_gguf(run, tmp_path / "model.gguf", checkpoint="best", dtype=dtype).out
    reader = gguf.GGUFReader(out)
    cfg = runs.read_config(run).model
    assert _field(reader, "general.architecture") == "gpt2"
    assert _field(reader, "gpt2.context_length") == cfg.max_positions
    assert _field(reader, "gpt2.embedding_length") == cfg.n_embd
    assert _field(reader, "gpt2.feed_forward_length") == 4 * cfg.n_embd
    assert _field(reader, "gpt2.block_count") == cfg.n_layer
    assert _field(reader, "gpt2.attention.head_count") == cfg.n_head
    assert _field(reader, "gpt2.attention.layer_norm_epsilon") == pytest.approx(1e-5)
    file_types = {"f32": 0, "f16": 1, "bf16": 32, "q8_0": 7}
    assert _field(reader, "general.file_type") == file_types[dtype]
    name = runs.read_config(run).name
    assert _field(reader, "general.name") == name and name
    assert _field(reader, "general.basename") == name
    n_params = sum(t.numel() for k, t in load_run(run).model.state_dict().items()
                   if k != "lm_head.weight")
    assert _field(reader, "general.size_label") == gguf.size_label(n_params, 0, 0, 0)
    assert _field(reader, "general.license") == "other"

    weights = load_file(str(run / runs.BEST_WEIGHTS))
    if "transformer.wte.weight" not in weights:  # safetensors keeps a tied matrix once
        weights["transformer.wte.weight"] = weights["lm_head.weight"]
    names = _expected_names(cfg.n_layer)
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(names.values())  # lm_head is tied: not stored
    for ours, theirs in names.items():
        t = tensors[theirs]
        data = gguf.quants.dequantize(t.data, t.tensor_type).reshape(weights[ours].shape)
        stored = _stored_type(ours, weights[ours], dtype)
        np.testing.assert_array_equal(data.astype(np.float32), _rounded(weights[ours], stored))
        assert t.tensor_type.name == stored

    tok = load_run(run).tokenizer
    # A unigram vocabulary goes to llama.cpp's unigram search with byte fallback (plamo2),
    # its pieces as raw text; control pieces never match text there.
    assert tok.kind == "unigram" and _field(reader, "tokenizer.ggml.model") == "plamo2"
    tokens = _field(reader, "tokenizer.ggml.tokens")
    types = _field(reader, "tokenizer.ggml.token_type")
    assert tokens == [tok.id_to_piece(i).replace("\u2581", " ")
                      if types[i] == gguf.TokenType.NORMAL else tok.id_to_piece(i)
                      for i in range(tok.vocab_size)]
    assert " " in tokens and "\u2581" not in "".join(tokens)
    assert types[tok.pad_id] == gguf.TokenType.CONTROL and types[tok.unk_id] == \
        gguf.TokenType.UNKNOWN and types[tok.newline_id] == gguf.TokenType.USER_DEFINED
    assert types[tok.piece_to_id("<0x41>")] == gguf.TokenType.BYTE
    scores = _field(reader, "tokenizer.ggml.scores")
    assert len(scores) == tok.vocab_size and scores[-1] < scores[tok.newline_id + 257]
    assert all(np.isneginf(scores[i]) for i in tok.special_ids)
    for key, value in (("bos_token_id", tok.bos_id), ("eos_token_id", tok.eos_id),
                       ("unknown_token_id", tok.unk_id), ("padding_token_id", tok.pad_id)):
        assert _field(reader, f"tokenizer.ggml.{key}") == value
    assert _field(reader, "tokenizer.ggml.add_space_prefix") is False or \
        _field(reader, "tokenizer.ggml.add_space_prefix") == 0


def test_imported_gpt2_carries_its_byte_level_vocabulary(hf_gpt2, tmp_path):
    run = import_hf(hf_gpt2, tmp_path / "run").out
    reader = gguf.GGUFReader(export_gguf(run, tmp_path / "gpt2.gguf", dtype="f32").out)
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    assert _field(reader, "tokenizer.ggml.pre") == "gpt-2"
    spec = json.loads((hf_gpt2 / "tokenizer.json").read_text())
    vocab = {**spec["model"]["vocab"], **{t["content"]: t["id"] for t in spec["added_tokens"]}}
    assert _field(reader, "tokenizer.ggml.tokens") == sorted(vocab, key=vocab.get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    assert _field(reader, "tokenizer.ggml.merges") == merges
    weights = load_file(str(run / runs.WEIGHTS))
    wte = weights.get("transformer.wte.weight", weights.get("lm_head.weight"))
    stored = next(t for t in reader.tensors if t.name == "token_embd.weight")
    np.testing.assert_array_equal(np.asarray(stored.data), wte.numpy())


def test_bert_and_classifier_runs_are_refused_with_the_alternative(tiny_runs, tmp_path):
    for kind in ("bert", "cls-gpt", "qa-gpt"):
        with pytest.raises(UserError, match="export this one with format hf") as err:
            export_gguf(tiny_runs[kind], tmp_path / "x.gguf")
        assert err.value.field == "format"
    with pytest.raises(UserError, match="dtype 'q4'"):
        export_gguf(tiny_runs["gpt"], tmp_path / "x.gguf", dtype="q4")
    assert list(Path(tmp_path).iterdir()) == []


def test_a_tokenizer_llama_cpp_cannot_reproduce_is_refused_in_one_line(tmp_path):
    from lmstudio_app.core.data.hf_tokenizer import HFTokenizer
    from lmstudio_app.core.interchange.gguf_vocab import UnsupportedTokenizer, tokenizer_model
    from tests.core.interchange.hf_models import bert_tokenizer, gpt2_tokenizer

    assert tokenizer_model(HFTokenizer.from_tokenizer(gpt2_tokenizer())) == "gpt2"
    with pytest.raises(UnsupportedTokenizer, match="llama.cpp has no tokenizer") as err:
        tokenizer_model(HFTokenizer.from_tokenizer(bert_tokenizer()))
    assert err.value.field == "format" and "\n" not in str(err.value)
