"""prepare --workers: N encoding processes write the same store, byte for byte, as one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lmstudio_app.core.data import encode_pool
from lmstudio_app.core.data import prepare as prepare_module
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.core.errors import UserError
from tests.conftest import austen_text


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_workers_write_the_store_one_worker_writes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = austen_text(400_000)
    for i in range(3):
        (corpus / f"part{i}.txt").write_text(text[i * 120_000:(i + 1) * 140_000], "utf-8")
    # Small batches (one section of ~32 KB each): more than the 2 x workers in flight at once.
    monkeypatch.setattr(prepare_module, "_BATCH_CHARS", 20_000)
    started: list[int] = []
    real = encode_pool.EncodePool._in_workers

    def counted(self, batches):  # type: ignore[no-untyped-def]
        started.append(self.workers)
        return real(self, batches)

    monkeypatch.setattr(encode_pool.EncodePool, "_in_workers", counted)
    stores = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        prepare(PrepareConfig([str(corpus)], str(out), tokenizer=TokenizerSpec("unigram", 800),
                              workers=workers))
        stores[workers] = out / "tokens.h5"
    assert started == [2]  # one worker encodes here; two really ran in processes
    assert _sha(stores[1]) == _sha(stores[2])
    one, two = TokenStore.open(stores[1]), TokenStore.open(stores[2])
    assert one.digest() == two.digest()
    assert one.n_documents("train") + one.n_documents("val") > 8  # 8+ batches of one document
    for split in ("train", "val"):
        assert np.array_equal(one.tokens(split), two.tokens(split))
        assert np.array_equal(one.doc_offsets(split), two.doc_offsets(split))


def test_workers_must_be_a_count(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("words " * 100, "utf-8")
    with pytest.raises(UserError, match="workers -1: choose a whole number") as err:
        prepare(PrepareConfig([str(tmp_path / "a.txt")], str(tmp_path / "out"), workers=-1))
    assert err.value.fields == ("workers",)
    assert encode_pool.default_workers() >= 1
