"""The tokenizers backend: roles by name, spans from offsets, loading by what a folder holds."""

from __future__ import annotations

import pickle

import pytest

from lmstudio_app.core.data.hf_tokenizer import HFTokenizer
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.data.tokenizer_files import load_tokenizer
from lmstudio_app.core.errors import UserError

tokenizers = pytest.importorskip("tokenizers", reason="pip install 'lmstudio-app[hf]'")


@pytest.fixture(scope="module")
def gpt2_like():
    from tests.core.interchange.hf_models import gpt2_tokenizer

    return HFTokenizer.from_tokenizer(gpt2_tokenizer(300))


def test_gpt2_roles_and_missing_ones(gpt2_like):
    eot = gpt2_like.piece_to_id("<|endoftext|>")
    assert gpt2_like.bos_id == gpt2_like.eos_id == gpt2_like.unk_id == gpt2_like.pad_id == eot
    assert gpt2_like.special_ids == frozenset({eot})
    assert gpt2_like.kind == "byte-level-bpe"
    with pytest.raises(UserError, match="no mask token") as err:
        _ = gpt2_like.mask_id
    assert err.value.field == "tokenizer"


def test_byte_level_text_round_trips_with_spans(gpt2_like):
    text = "Mr. Darcy\n  bowed — café 🎉 naïve"
    ids, spans = gpt2_like.char_spans(text)
    assert ids == gpt2_like.encode(text) and gpt2_like.decode(ids) == text
    assert len(spans) == len(ids) and spans[-1][1] == len(text)
    assert all(a[0] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert "".join(gpt2_like.pieces("Mr. Darcy bowed")) == "Mr. Darcy bowed"


def test_a_file_without_the_needed_roles_is_refused():
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0, "b": 1}, unk_token="a"))
    with pytest.raises(UserError, match="no special token for unk, bos, eos"):
        HFTokenizer.from_tokenizer(tok)
    with pytest.raises(UserError, match="not a tokenizers file"):
        HFTokenizer(b"{\"not\": 1}")


def test_load_dispatches_on_the_file_a_folder_holds(gpt2_like, unigram_tokenizer, tmp_path):
    hf_dir, spm_dir = tmp_path / "hf", tmp_path / "spm"
    hf_dir.mkdir()
    spm_dir.mkdir()
    (hf_dir / gpt2_like.file_name).write_bytes(gpt2_like.model_bytes)
    (spm_dir / unigram_tokenizer.file_name).write_bytes(unigram_tokenizer.model_bytes)
    a, b = load_tokenizer(hf_dir), load_tokenizer(spm_dir)
    assert isinstance(a, HFTokenizer) and a.sha256 == gpt2_like.sha256
    assert isinstance(b, Tokenizer) and b.backend == "sentencepiece"
    assert pickle.loads(pickle.dumps(a)).encode("Emma") == a.encode("Emma")
    with pytest.raises(UserError, match="no tokenizer.model or tokenizer.json") as err:
        load_tokenizer(tmp_path, field="base_run")
    assert err.value.field == "base_run"
