"""SentencePiece tokenizers: exact round trips, special pieces, training limits, loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lmstudio_app.core.data.tokenizer import (
    MIN_VOCAB,
    SPECIAL_PIECES,
    Tokenizer,
    TokenizerSpec,
    train_tokenizer,
)
from lmstudio_app.core.errors import UserError

from ..conftest import ODD_TEXT


def _chunks(text: str, size: int = 20_000) -> list[str]:
    return [text[i: i + size] for i in range(0, len(text), size)]


@pytest.fixture(scope="module", params=["unigram", "bpe", "char"])
def any_tokenizer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  austen_200k: str) -> Tokenizer:
    out = tmp_path_factory.mktemp(request.param) / "t.model"
    vocab = 8000 if request.param == "char" else 800
    return train_tokenizer(_chunks(austen_200k), TokenizerSpec(request.param, vocab), out)


def test_round_trip_real_chapter_and_odd_text(any_tokenizer: Tokenizer, austen_chapter: str,
                                              pride_text: str) -> None:
    tok = any_tokenizer
    assert len(austen_chapter) > 5000 and "\n\n" in austen_chapter
    ids = tok.encode(austen_chapter)
    assert tok.decode(ids) == austen_chapter
    assert ids.count(tok.newline_id) == austen_chapter.count("\n")
    assert tok.decode(tok.encode(ODD_TEXT)) == ODD_TEXT
    # Text the tokenizer never saw (the end of the novel) comes back too.
    tail = pride_text[-30_000:]
    assert tok.decode(tok.encode(tail)) == tail
    for edge in ("", " ", "\n", "\n\n\n", "  x  ", "\t", "\u00e9", "\U0001f600"):
        assert tok.decode(tok.encode(edge)) == edge


def test_kind_and_size(any_tokenizer: Tokenizer) -> None:
    tok = any_tokenizer
    if tok.kind == "char":
        # Upper bound 8000; the vocabulary is the specials, newline, bytes and the characters.
        assert MIN_VOCAB <= tok.vocab_size < 400
    else:
        assert tok.kind in ("unigram", "bpe")
        assert tok.vocab_size == 800


def test_special_pieces_and_ids(unigram_tokenizer: Tokenizer) -> None:
    tok = unigram_tokenizer
    assert [tok.id_to_piece(i) for i in range(7)] == list(SPECIAL_PIECES)
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert (tok.mask_id, tok.cls_id, tok.sep_id) == (4, 5, 6)
    assert tok.special_ids == frozenset(range(7))
    assert tok.newline_id == 7 and tok.encode("\n") == [7]
    # Control symbols are never produced from text, even text that spells them.
    text = "[MASK] [CLS] [SEP] <s> </s> <pad> <unk>"
    ids = tok.encode(text)
    assert not set(ids) & tok.special_ids
    assert tok.decode(ids) == text
    # Ids inserted by code decode to nothing, so a masked or framed sequence still reads.
    word = tok.encode("Elizabeth")
    assert tok.decode([tok.bos_id, *word, tok.mask_id, tok.eos_id]) == "Elizabeth"


def test_encode_batch_pieces_and_lookup(unigram_tokenizer: Tokenizer, austen_chapter: str) -> None:
    tok = unigram_tokenizer
    texts = [austen_chapter[:3000], ODD_TEXT, "", "Mr. Darcy"]
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]
    assert tok.encode_batch(texts, num_threads=1) == [tok.encode(t) for t in texts]
    pieces = tok.pieces("It is a truth universally acknowledged,\n")
    assert "".join(pieces) == "It is a truth universally acknowledged,\n"
    assert len(pieces) == len(tok.encode("It is a truth universally acknowledged,\n"))
    assert tok.piece_to_id(tok.id_to_piece(100)) == 100


def test_save_load_and_hash(unigram_tokenizer: Tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "copy.model"
    path.write_bytes(unigram_tokenizer.model_bytes)
    loaded = Tokenizer.load(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.sha256 == unigram_tokenizer.sha256
    assert Tokenizer.from_bytes(path.read_bytes()).encode(ODD_TEXT) == loaded.encode(ODD_TEXT)
    assert loaded.kind == "unigram"
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="missing.model: no tokenizer model"):
        Tokenizer.load(tmp_path / "missing.model")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(UserError, match="junk.model: not a SentencePiece model"):
        Tokenizer.load(junk)


def test_training_writes_file_and_reports_progress(tmp_path: Path, austen_200k: str) -> None:
    seen: list[int] = []
    out = tmp_path / "sub" / "t.model"
    spec = TokenizerSpec("bpe", 600, sample_bytes=100_000)
    tok = train_tokenizer(_chunks(austen_200k, 10_000), spec, out, progress=seen.append)
    assert out.read_bytes() == tok.model_bytes
    assert seen == sorted(seen) and seen[0] > 0
    # The sample is bounded: training stops feeding after sample_bytes (plus one document).
    assert 100_000 <= seen[-1] < 100_000 + 10_001


def test_vocab_too_large_suggests_smaller(tmp_path: Path, austen_chapter: str) -> None:
    with pytest.raises(UserError) as err:
        train_tokenizer([austen_chapter], TokenizerSpec("unigram", 20_000), tmp_path / "t.model")
    msg = str(err.value)
    assert "vocab size 20000 is too large" in msg and err.value.field == "vocab_size"
    limit = int(err.value.option)
    assert MIN_VOCAB <= limit < 20_000
    # The suggested size works.
    tok = train_tokenizer([austen_chapter], TokenizerSpec("unigram", limit), tmp_path / "t.model")
    assert tok.vocab_size == limit
    assert not (tmp_path / "u.model").exists()


def test_vocab_too_small_and_empty_corpus(tmp_path: Path, austen_chapter: str) -> None:
    with pytest.raises(UserError, match="too small"):
        train_tokenizer([austen_chapter], TokenizerSpec("unigram", 100), tmp_path / "t.model")
    with pytest.raises(UserError, match="no text"):
        train_tokenizer(["", "\n\n"], TokenizerSpec("bpe", 500), tmp_path / "t.model")
    with pytest.raises(UserError, match="kind 'wordpiece'"):
        TokenizerSpec("wordpiece").validate()
    assert not (tmp_path / "t.model").exists()


def test_an_error_while_reading_documents_is_not_swallowed(tmp_path: Path,
                                                           austen_chapter: str) -> None:
    def documents():
        yield austen_chapter
        raise UserError("rows.jsonl, line 9: no field 'text'")

    with pytest.raises(UserError, match="line 9"):
        train_tokenizer(documents(), TokenizerSpec("bpe", 400), tmp_path / "t.model")
    assert not (tmp_path / "t.model").exists()
