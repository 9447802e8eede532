"""Our SentencePiece tokenizers rebuilt as `tokenizers` pipelines give the same ids."""

from __future__ import annotations

import pytest

from lmstudio_app.core.data.tokenizer import TokenizerSpec, train_tokenizer
from lmstudio_app.core.interchange.spm_convert import spm_to_tokenizers
from tests.conftest import austen_text
from tests.core.conftest import ODD_TEXT
from tests.interchange_fixtures import HF_MISSING

pytest.importorskip("tokenizers", reason=HF_MISSING)


@pytest.mark.parametrize("kind,vocab", [("unigram", 600), ("bpe", 600), ("char", 400)])
def test_same_ids_and_text_as_sentencepiece(kind, vocab, tmp_path):
    text = austen_text(120_000)
    docs = [text[i: i + 20_000] for i in range(0, 100_000, 20_000)]
    tok = train_tokenizer(iter(docs), TokenizerSpec(kind, vocab), tmp_path / "t.model")
    converted = spm_to_tokenizers(tok)
    # Unseen prose, runs of spaces, tabs, emoji, CJK; not the line spelling special pieces.
    odd = "\n".join(line for line in ODD_TEXT.split("\n") if "[MASK]" not in line)
    probe = text[100_000:] + odd + " a\u2581b  \u2581 c"  # SentencePiece's space mark too
    ids = tok.encode(probe)
    assert converted.encode(probe, add_special_tokens=False).ids == ids
    assert converted.decode(ids, skip_special_tokens=False) == tok.decode(ids)
    assert converted.get_vocab_size() == tok.vocab_size
    # The one intended difference: a special piece spelled out in text is that special token
    # (transformers' fill-mask pipeline writes "[MASK]" into the text); ours spells it out.
    assert tok.mask_id in converted.encode("a [MASK] b", add_special_tokens=False).ids
    assert tok.mask_id not in tok.encode("a [MASK] b")
