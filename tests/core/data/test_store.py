"""The HDF5 token store: streaming writes, layout, round trips and clear errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from lmstudio_app.core.data.store import FORMAT_VERSION, TokenStore, TokenStoreWriter
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.errors import UserError


def _documents(text: str, n: int) -> list[str]:
    paragraphs = text.split("\n\n")
    step = max(1, len(paragraphs) // n)
    return ["\n\n".join(paragraphs[i: i + step]) + "\n\n" for i in range(0, len(paragraphs), step)]


def test_round_trip_decodes_every_document(tmp_path: Path, unigram_tokenizer: Tokenizer,
                                           austen_200k: str) -> None:
    tok = unigram_tokenizer
    docs = _documents(austen_200k, 40)
    splits = ["val" if i % 7 == 3 else "train" for i in range(len(docs))]
    path = tmp_path / "tokens.h5"
    attrs = {"tokenizer_sha256": tok.sha256, "sources": [{"path": "a.txt", "size": 1}],
             "special_ids": {"pad": 0}, "val_fraction": 0.1}
    with TokenStoreWriter(path, tok.vocab_size, attrs) as writer:
        for doc, split in zip(docs, splits, strict=True):
            writer.add(split, tok.encode(doc), len(doc))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.h5"]  # no temporary left

    store = TokenStore.open(path)
    for split in ("train", "val"):
        expected = [d for d, s in zip(docs, splits, strict=True) if s == split]
        got = [tok.decode(ids) for ids in store.documents(split)]
        assert got == expected
        assert store.n_documents(split) == len(expected)
        assert store.n_chars(split) == sum(len(d) for d in expected)
        assert store.n_tokens(split) == len(store.tokens(split))
        assert store.tokens(split).dtype == np.uint16
    assert store.vocab_size == tok.vocab_size
    assert store.tokenizer_sha256 == tok.sha256
    assert store.sources == [{"path": "a.txt", "size": 1}]
    assert store.special_ids == {"pad": 0}
    assert store.attrs["val_fraction"] == 0.1

    # The layout is plain HDF5 that any tool reads.
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == FORMAT_VERSION
        offsets = f["train/doc_offsets"][()]
        assert offsets[0] == 0 and offsets[-1] == f["train/tokens"].shape[0]
        assert np.all(np.diff(offsets) > 0)
        assert f["train/tokens"].chunks is not None
        assert f["val/tokens"].maxshape == (None,)


def test_large_vocabularies_use_uint32(tmp_path: Path) -> None:
    path = tmp_path / "big.h5"
    with TokenStoreWriter(path, 70_000) as writer:
        writer.add("train", [1, 65_535, 69_999], 3)
        writer.add("val", [66_000], 1)
    store = TokenStore.open(path)
    assert store.tokens("train").dtype == np.uint32
    assert store.tokens("train").tolist() == [1, 65_535, 69_999]
    assert store.tokens("val").tolist() == [66_000]


def test_many_small_documents_stream_through_flushes(tmp_path: Path) -> None:
    path = tmp_path / "many.h5"
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 500, size=int(n)) for n in rng.integers(1, 2000, size=3000)]
    with TokenStoreWriter(path, 500) as writer:
        for i, ids in enumerate(docs):
            writer.add("val" if i % 10 == 0 else "train", ids, len(ids))
    store = TokenStore.open(path)
    train = store.documents("train")
    assert len(train) == 2700
    assert all(np.array_equal(a, b) for a, b in zip(train, [d for i, d in enumerate(docs)
                                                            if i % 10], strict=True))


def test_failed_write_keeps_the_old_store_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "tokens.h5"
    with TokenStoreWriter(path, 100) as writer:
        writer.add("train", [1, 2, 3], 3)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="interrupted"):
        with TokenStoreWriter(path, 100) as writer:
            writer.add("train", [9] * 10, 10)
            raise RuntimeError("interrupted")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.h5"]


def test_open_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="none.h5: no token store here"):
        TokenStore.open(tmp_path / "none.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"plain text, not HDF5")
    with pytest.raises(UserError, match="junk.h5: not a readable HDF5 file"):
        TokenStore.open(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(UserError, match="other.h5: an HDF5 file but not a token store"):
        TokenStore.open(other)
    store_path = tmp_path / "ok.h5"
    with TokenStoreWriter(store_path, 100) as writer:
        writer.add("train", [1], 1)
    with pytest.raises(ValueError, match="split"):
        TokenStore.open(store_path).tokens("test")


def test_the_digest_follows_the_tokens_not_the_file(tmp_path):
    def write(name: str, attrs: dict, extra: int) -> TokenStore:
        with TokenStoreWriter(tmp_path / name, 1000, attrs) as w:
            w.add("train", np.arange(50, dtype=np.uint16), 200)
            w.add("val", np.arange(extra, dtype=np.uint16), 40)
        return TokenStore.open(tmp_path / name)

    a = write("a.h5", {"tokenizer_sha256": "t", "sources": [{"path": "/x", "mtime": 1}]}, 10)
    b = write("b.h5", {"tokenizer_sha256": "t", "sources": [{"path": "/y", "mtime": 2}]}, 10)
    c = write("c.h5", {"tokenizer_sha256": "t"}, 11)
    assert (tmp_path / "a.h5").read_bytes() != (tmp_path / "b.h5").read_bytes()
    assert a.digest() == b.digest() != c.digest()
    assert len(a.digest()) == 64
