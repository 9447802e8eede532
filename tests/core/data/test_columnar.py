"""Parquet files and shards, datasets saved with save_to_disk, and .zst text: written with the
libraries themselves, read and prepared like any corpus; shards that do not fit are refused in
one line naming the shard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmstudio_app.core.data.corpus import CorpusOptions, discover, read_documents, text_size
from lmstudio_app.core.data.inspect import count_source, read_preview
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.errors import UserError
from tests.conftest import austen_text

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
zstandard = pytest.importorskip("zstandard")


def _paragraphs(n: int = 300) -> list[str]:
    return [p for p in austen_text(200_000).split("\n\n") if p.strip()][:n]


def _parquet(path: Path, texts: list[str | None], column: str = "text",
             row_group_size: int = 64, **extra: list[object]) -> Path:
    table = pa.table({"id": list(range(len(texts))), column: texts, **extra})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _docs(path: Path, **kw: object) -> list[str]:
    options = CorpusOptions(**kw)  # type: ignore[arg-type]
    return [d for f in discover([path], options) for d in read_documents(f, options)]


def test_a_parquet_file_gives_its_text_column_row_by_row(tmp_path: Path) -> None:
    texts = _paragraphs()
    path = _parquet(tmp_path / "part.parquet", [*texts[:10], None, "   ", *texts[10:]])
    assert _docs(path) == texts  # null and blank rows skipped, order kept across row groups
    told: list[int] = []
    list(read_documents(path, CorpusOptions(), told.append))
    assert sum(told) == path.stat().st_size  # progress adds up to the file
    assert text_size(path) >= sum(len(t) for t in texts) // 2  # the footer's data size
    renamed = _parquet(tmp_path / "body.parquet", texts[:5], column="body")
    assert _docs(renamed, text_field="body") == texts[:5]


def test_a_folder_of_shards_reads_them_in_name_order(tmp_path: Path) -> None:
    texts = _paragraphs()
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):  # written out of order: the names decide
        k = 2 - i
        _parquet(shards / f"train-{k:05d}-of-00003.parquet", texts[k * 100:(k + 1) * 100])
    assert [p.name for p in discover([shards], CorpusOptions())] == [
        f"train-{k:05d}-of-00003.parquet" for k in range(3)]
    assert _docs(shards) == texts
    counts = count_source(str(shards), CorpusOptions())
    assert (counts.error, counts.files, counts.documents) == (None, 3, len(texts))
    shown, note = read_preview(str(shards), CorpusOptions())
    assert shown.startswith(texts[0]) and "first of 3" in note


def test_a_shard_without_the_text_column_or_with_other_columns_is_named(tmp_path: Path) -> None:
    texts = _paragraphs(20)
    shards = tmp_path / "shards"
    shards.mkdir()
    _parquet(shards / "a.parquet", texts)
    _parquet(shards / "b.parquet", texts, column="content")
    with pytest.raises(UserError) as err:
        prepare(PrepareConfig([str(shards)], str(tmp_path / "out")))
    assert str(err.value).startswith(f"{shards / 'b.parquet'}: no column 'text' (columns: id ")
    assert err.value.fields == ("text_field",) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before any work
    (shards / "b.parquet").unlink()
    _parquet(shards / "b.parquet", texts, lang=["en"] * len(texts))
    with pytest.raises(UserError, match=r"b\.parquet: its columns \(id \(int64\), text \(string"
                                        r"\), lang \(string\)\) differ from those of a\.parquet"):
        prepare(PrepareConfig([str(shards)], str(tmp_path / "out")))
    numbers = _parquet(tmp_path / "n.parquet", texts, column="text2",
                       text=list(range(len(texts))))
    with pytest.raises(UserError, match=r"n\.parquet: column 'text' holds int64, not text"):
        _docs(numbers)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(UserError, match=r"broken\.parquet: not a readable parquet file"):
        _docs(broken)


def test_a_dataset_saved_to_disk_is_read_through_its_state_file(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    texts = _paragraphs()
    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"text": texts, "n": list(range(len(texts)))}).save_to_disk(
        str(saved), num_shards=2)
    assert len(discover([saved], CorpusOptions())) == 2
    assert _docs(saved) == texts
    both = tmp_path / "dict"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": texts[:50]}),
        "test": datasets.Dataset.from_dict({"text": texts[50:60]}),
    }).save_to_disk(str(both))
    assert _docs(both) == texts[:50]  # the train split alone
    only_test = tmp_path / "only_test"
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"text": texts[:5]})}).save_to_disk(
        str(only_test))
    with pytest.raises(UserError, match=r"only_test: a saved DatasetDict without a 'train' split "
                                        r"\(splits: test\)"):
        discover([only_test], CorpusOptions())


def test_zst_text_formats_read_like_plain_ones(tmp_path: Path) -> None:
    text = austen_text(60_000)
    plain = tmp_path / "book.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "book.txt.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    assert _docs(packed) == _docs(plain)
    assert text_size(packed) == len(text.encode())  # from the frame header
    rows = tmp_path / "rows.jsonl.zst"
    with open(rows, "wb") as fh, zstandard.ZstdCompressor().stream_writer(fh) as w:
        w.write(b'{"text": "first"}\n{"text": "second"}\n')
    assert _docs(rows) == ["first", "second"]
    frames = tmp_path / "frames.jsonl.zst"  # frames end to end, as `cat a.zst b.zst` gives
    frames.write_bytes(b"".join(zstandard.ZstdCompressor().compress(b'{"text": "%d"}\n' % i)
                                for i in range(3)))
    assert _docs(frames) == ["0", "1", "2"]
    assert read_preview(str(rows), CorpusOptions())[0].startswith('{"text": "first"}')
    broken = tmp_path / "broken.md.zst"
    broken.write_bytes(zstandard.ZstdCompressor().compress(text.encode())[:100])
    with pytest.raises(UserError, match=r"broken\.md\.zst: a damaged zstd file"):
        _docs(broken)


def test_parquet_and_zst_corpora_prepare_into_the_same_store_as_plain_text(
        tmp_path: Path) -> None:
    texts = _paragraphs()
    _parquet(tmp_path / "c.parquet", texts)
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl))
    stores = []
    for name in ("c.parquet", "c.jsonl.zst"):
        out = tmp_path / f"out-{name}"
        result = prepare(PrepareConfig([str(tmp_path / name)], str(out),
                                       tokenizer=TokenizerSpec("unigram", 600), workers=1))
        assert result.train_documents + result.val_documents == len(texts)
        stores.append(TokenStore.open(out / "tokens.h5"))
    tok = Tokenizer.load(tmp_path / "out-c.parquet" / "tokenizer.model")
    for split in ("train", "val"):
        assert np.array_equal(stores[0].tokens(split), stores[1].tokens(split))
    decoded = {tok.decode(d) for s in ("train", "val") for d in stores[0].documents(s)}
    assert decoded == set(texts)
