"""prepare(): corpus to tokenizer and token store, reuse, determinism, cancellation."""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lmstudio_app.core.data.corpus import CorpusOptions, discover, read_documents
from lmstudio_app.core.data.prepare import (
    PrepareCancelled,
    PrepareConfig,
    PrepareProgress,
    prepare,
    split_of,
)
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.errors import UserError


def _cfg(sources: list[Path], out: Path, **kw: object) -> PrepareConfig:
    kw.setdefault("tokenizer", TokenizerSpec("unigram", 600))
    return PrepareConfig(sources=[str(s) for s in sources], out_dir=str(out), **kw)


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_store_decodes_back_to_the_documents(small_corpus: Path, tmp_path: Path) -> None:
    events: list[PrepareProgress] = []
    # Seven documents; at 0.25 their hashes alone would give validation 44% of the tokens, so
    # they are taken by hash rank instead (test_token_split.py has the other cases).
    result = prepare(_cfg([small_corpus], tmp_path / "out", val_fraction=0.25),
                     progress=events.append)
    assert not result.reused and result.split_method == "documents"
    assert "hash rank" in result.split_reason
    assert sorted(p.name for p in result.out_dir.iterdir()) == [
        "prepare.json", "tokenizer.model", "tokens.h5"]

    tok = Tokenizer.load(result.tokenizer_path)
    store = TokenStore.open(result.store_path)
    assert store.tokenizer_sha256 == tok.sha256 and result.vocab_size == tok.vocab_size == 600
    options = CorpusOptions()
    expected = [d for f in discover([small_corpus], options) for d in read_documents(f, options)]
    train = [tok.decode(ids) for ids in store.documents("train")]
    val = [tok.decode(ids) for ids in store.documents("val")]
    assert Counter(train + val) == Counter(expected)  # every document, exactly, once
    assert train and val
    assert [d for d in expected if d in set(train)] == train  # order kept within a split
    assert result.train_documents == len(train) and result.val_documents == len(val)
    assert result.train_tokens == store.n_tokens("train")
    assert store.n_chars("train") + store.n_chars("val") == sum(len(d) for d in expected)
    assert store.attrs["tokenizer_kind"] == "unigram"
    assert store.attrs["special_ids"]["mask"] == tok.mask_id
    assert {s["path"] for s in store.sources} == {
        str(p.resolve()) for p in small_corpus.iterdir()}

    summary = json.loads((result.out_dir / "prepare.json").read_text("utf-8"))
    assert summary["splits"]["val"]["documents"] == len(val)
    assert summary["tokenizer"]["sha256"] == tok.sha256

    stages = [e.stage for e in events]
    assert stages[0] == "scan" and stages[-1] == "done"
    assert stages.index("tokenizer") < stages.index("encode")
    last_encode = [e for e in events if e.stage == "encode"][-1]
    assert last_encode.bytes_done == last_encode.bytes_total > 0
    assert last_encode.files_done == last_encode.files_total == 2
    assert last_encode.bytes_per_s is not None and last_encode.bytes_per_s > 0
    assert last_encode.eta_s == 0.0


def test_reuse_and_rebuild(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = prepare(_cfg([small_corpus], out))
    before = _snapshot(out)
    again = prepare(_cfg([small_corpus], out))
    assert again.reused and _snapshot(out) == before
    assert again.train_tokens == first.train_tokens

    # Touching a source (same content, new mtime) rebuilds.
    source = small_corpus / "persuasion.txt"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))
    touched = prepare(_cfg([small_corpus], out))
    assert not touched.reused and touched.train_tokens == first.train_tokens
    assert prepare(_cfg([small_corpus], out)).reused

    # Changing a source's text rebuilds and the store follows the new text.
    source.write_text(source.read_text("utf-8") + "\n\nA new closing paragraph.\n", "utf-8")
    edited = prepare(_cfg([small_corpus], out))
    assert not edited.reused
    tok = Tokenizer.load(edited.tokenizer_path)
    store = TokenStore.open(edited.store_path)
    decoded = [tok.decode(d) for s in ("train", "val") for d in store.documents(s)]
    assert any(d.endswith("A new closing paragraph.\n") for d in decoded)

    # A different tokenizer, val fraction or corpus option rebuilds.
    bigger = prepare(_cfg([small_corpus], out, tokenizer=TokenizerSpec("unigram", 700)))
    assert not bigger.reused and bigger.vocab_size == 700
    assert not prepare(_cfg([small_corpus], out, tokenizer=TokenizerSpec("unigram", 700),
                            val_fraction=0.3)).reused
    assert not prepare(_cfg([small_corpus], out, tokenizer=TokenizerSpec("unigram", 700),
                            val_fraction=0.3, corpus=CorpusOptions(exclude=("x*",)))).reused
    # A tokenizer replaced behind the store's back is noticed.
    cfg = _cfg([small_corpus], out, tokenizer=TokenizerSpec("unigram", 700), val_fraction=0.3,
               corpus=CorpusOptions(exclude=("x*",)))
    assert prepare(cfg).reused
    (out / "tokenizer.model").write_bytes(first_model := (out / "tokenizer.model").read_bytes())
    assert prepare(cfg).reused
    (out / "tokenizer.model").write_bytes(first_model + b"\0")
    assert not prepare(cfg).reused


def test_split_is_deterministic_and_by_document(small_corpus: Path, tmp_path: Path) -> None:
    a = prepare(_cfg([small_corpus], tmp_path / "a", val_fraction=0.3))
    b = prepare(_cfg([small_corpus], tmp_path / "b", val_fraction=0.3))
    sa, sb = TokenStore.open(a.store_path), TokenStore.open(b.store_path)
    for split in ("train", "val"):
        assert np.array_equal(sa.tokens(split), sb.tokens(split))
        assert np.array_equal(sa.doc_offsets(split), sb.doc_offsets(split))
    # The split of a document depends on its text and the seed only, not on where it lies.
    docs = [f"document {i}" for i in range(2000)]
    picks = [split_of(d, 1337, 0.3) for d in docs]
    assert picks == [split_of(d, 1337, 0.3) for d in docs]
    assert 0.25 < picks.count("val") / 2000 < 0.35
    assert picks != [split_of(d, 7, 0.3) for d in docs]
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in small_corpus.iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    c = TokenStore.open(prepare(_cfg([moved], tmp_path / "c", val_fraction=0.3)).store_path)
    for split in ("train", "val"):
        assert np.array_equal(sa.tokens(split), c.tokens(split))


def test_two_uneven_documents_split_by_token_range(tmp_path: Path, austen_200k: str) -> None:
    src = tmp_path / "two.txt"
    src.write_text(austen_200k[:50_000] + "\n\nThe end.\n", "utf-8")
    result = prepare(_cfg([src], tmp_path / "out", val_fraction=0.01,
                          tokenizer=TokenizerSpec("char", 8000)))
    # Whole documents would leave validation empty: a range of each document's tokens goes.
    assert result.split_method == "token-range" and "2 documents" in result.split_reason
    total = result.train_tokens + result.val_tokens
    assert result.val_tokens == int(total * 0.01)
    assert result.train_documents >= 1 and result.val_documents >= 1
    assert TokenStore.open(result.store_path).attrs["tokenizer_kind"] == "char"


def test_jsonl_csv_and_gz_sources(tmp_path: Path, austen_200k: str) -> None:
    paragraphs = [p for p in austen_200k.split("\n\n") if p.strip()][:400]
    folder = tmp_path / "mixed"
    folder.mkdir()
    rows = "".join(json.dumps({"id": i, "body": p}) + "\n" for i, p in enumerate(paragraphs[:200]))
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(rows.encode("utf-8")))
    table = "body\tid\n" + "".join(
        f"{p.replace(chr(10), ' ')}\t{i}\n" for i, p in enumerate(paragraphs[200:]))
    (folder / "b.tsv").write_text(table, "utf-8")
    result = prepare(_cfg([folder], tmp_path / "out", corpus=CorpusOptions(text_field="body"),
                          tokenizer=TokenizerSpec("bpe", 600)))
    assert result.train_documents + result.val_documents == 400
    with pytest.raises(UserError, match="no field 'text'") as err:
        prepare(_cfg([folder], tmp_path / "out2"))
    assert err.value.field == "text_field"


def test_empty_corpus_and_bad_settings(tmp_path: Path, small_corpus: Path) -> None:
    empty = tmp_path / "blank"
    empty.mkdir()
    (empty / "a.txt").write_text("\n\n   \n", "utf-8")
    (empty / "b.jsonl").write_text('{"text": ""}\n', "utf-8")
    with pytest.raises(UserError, match="holds no text"):
        prepare(_cfg([empty], tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(UserError, match="nothing: no corpus files"):
        prepare(_cfg([nothing], tmp_path / "o"))
    with pytest.raises(UserError, match="val fraction"):
        prepare(_cfg([small_corpus], tmp_path / "o", val_fraction=0.0))


@pytest.mark.parametrize("stage", ["tokenizer", "encode"])
def test_cancel_leaves_nothing_behind(small_corpus: Path, tmp_path: Path, stage: str) -> None:
    cancel = threading.Event()

    def on_progress(p: PrepareProgress) -> None:
        if p.stage == stage:
            cancel.set()

    fresh = tmp_path / "fresh"
    with pytest.raises(PrepareCancelled):
        prepare(_cfg([small_corpus], fresh), progress=on_progress, cancel=cancel)
    assert not fresh.exists()

    # Cancelling a rebuild keeps the previous, complete files untouched.
    out = tmp_path / "out"
    prepare(_cfg([small_corpus], out))
    before = _snapshot(out)
    cancel.clear()
    with pytest.raises(PrepareCancelled):
        prepare(_cfg([small_corpus], out, tokenizer=TokenizerSpec("bpe", 600)),
                progress=on_progress, cancel=cancel)
    assert _snapshot(out) == before
    assert prepare(_cfg([small_corpus], out)).reused
