"""`prepare` of Parquet shards with --text-field and --workers, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.core.data.store import TokenStore
from tests.conftest import austen_text, run_cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def test_prepare_reads_parquet_shards_and_names_the_one_that_does_not_fit(
        tmp_path: Path) -> None:
    texts = [p for p in austen_text(120_000).split("\n\n") if p.strip()]
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(2):
        pq.write_table(pa.table({"body": texts[i::2]}), shards / f"part-{i}.parquet")
    done = run_cli("prepare", str(shards), "--out", str(tmp_path / "data"), "--text-field",
                   "body", "--workers", "2", "--vocab-size", "600", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    store = TokenStore.open(tmp_path / "data" / "tokens.h5")
    assert store.n_documents("train") + store.n_documents("val") == len(texts)
    pq.write_table(pa.table({"text": texts[:3]}), shards / "part-2.parquet")
    refused = run_cli("prepare", str(shards), "--out", str(tmp_path / "data2"), "--text-field",
                      "body", cwd=tmp_path)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "part-2.parquet: no column 'body' (columns: text (string))" \
        in lines[0], refused.stderr
    assert not (tmp_path / "data2").exists()
    bad = run_cli("prepare", str(shards), "--out", str(tmp_path / "d3"), "--workers", "-1",
                  cwd=tmp_path)
    assert bad.returncode == 2 and "--workers" in bad.stderr
