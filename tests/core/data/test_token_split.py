"""Splits near the share asked for, whatever the corpus's shape, and found too small before
training starts: one short file, one very long line, many documents, the user's own
validation files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.core.data.token_split import RangeSplitter, pick_by_rank, window_problems
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer


def _prepare(sources: list[Path], out: Path, **kw: object):
    kw.setdefault("tokenizer", TokenizerSpec("unigram", 400))
    return prepare(PrepareConfig(sources=[str(s) for s in sources], out_dir=str(out),
                                 **kw))  # type: ignore[arg-type]


def _share(result) -> float:
    return result.val_tokens / (result.train_tokens + result.val_tokens)


@pytest.mark.parametrize("size,fraction", [(13_000, 0.05), (20_000, 0.1), (16_000, 0.2)])
def test_one_short_file_gets_the_share_asked_for(tmp_path: Path, austen_200k: str, size: int,
                                                 fraction: float) -> None:
    src = tmp_path / "short.txt"
    src.write_text(austen_200k[:size], encoding="utf-8")
    result = _prepare([src], tmp_path / "out", val_fraction=fraction)
    assert result.split_method == "token-range"
    assert _share(result) == pytest.approx(fraction, abs=0.002)
    summary = json.loads((tmp_path / "out" / "prepare.json").read_text("utf-8"))
    assert summary["split"]["method"] == "token-range"
    assert summary["split"]["val_share"] == pytest.approx(fraction, abs=0.002)
    # Every token is kept, once: the pieces decode back to passages of the file.
    tok = Tokenizer.load(result.tokenizer_path)
    store = TokenStore.open(result.store_path)
    pieces = [tok.decode(d) for s in ("train", "val") for d in store.documents(s)]
    assert all(p in austen_200k[:size] for p in pieces)
    assert store.n_chars("train") + store.n_chars("val") == size


def test_one_very_long_line_does_not_take_the_validation_share(tmp_path: Path,
                                                             austen_200k: str) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    paragraphs = [p for p in austen_200k[:60_000].split("\n\n") if p.strip()]
    (folder / "rows.jsonl").write_text(
        "".join(json.dumps({"text": p}) + "\n" for p in paragraphs[:40])
        + json.dumps({"text": " ".join(austen_200k[60_000:200_000].split())}) + "\n",
        encoding="utf-8")
    result = _prepare([folder], tmp_path / "out", val_fraction=0.05)
    assert 0.0375 <= _share(result) <= 0.0625, (result.split_method, _share(result))


def test_many_documents_split_whole_and_deterministic(tmp_path: Path, austen_200k: str) -> None:
    paragraphs = [p for p in austen_200k.split("\n\n") if p.strip()]
    lines = "".join(json.dumps({"text": p}) + "\n" for p in paragraphs)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rows.jsonl").write_text(lines, encoding="utf-8")
    a = _prepare([tmp_path / "a"], tmp_path / "out-a", val_fraction=0.1)
    b = _prepare([tmp_path / "b"], tmp_path / "out-b", val_fraction=0.1)
    assert a.split_method == "documents" and 0.075 <= _share(a) <= 0.125
    tok = Tokenizer.load(a.tokenizer_path)
    sa, sb = TokenStore.open(a.store_path), TokenStore.open(b.store_path)
    decoded = {tok.decode(d) for s in ("train", "val") for d in sa.documents(s)}
    assert decoded == set(paragraphs)  # whole documents, none cut
    for split in ("train", "val"):  # the same from another folder
        assert np.array_equal(sa.tokens(split), sb.tokens(split))


def test_val_files_are_the_validation_split(tmp_path: Path, austen_200k: str) -> None:
    train, val = tmp_path / "train.txt", tmp_path / "val.txt"
    train.write_text(austen_200k[:40_000], encoding="utf-8")
    val.write_text(austen_200k[150_000:160_000], encoding="utf-8")
    result = _prepare([train], tmp_path / "out", val_sources=[str(val)])
    assert result.split_method == "files"
    tok = Tokenizer.load(result.tokenizer_path)
    store = TokenStore.open(result.store_path)
    assert "".join(tok.decode(d) for d in store.documents("val")) == val.read_text("utf-8")
    assert "".join(tok.decode(d) for d in store.documents("train")) == \
        train.read_text("utf-8")
    summary = json.loads((tmp_path / "out" / "prepare.json").read_text("utf-8"))
    assert summary["split"]["method"] == "files" and summary["val_sources"]
    # A different validation file is a different store.
    val.write_text(austen_200k[160_000:170_000], encoding="utf-8")
    assert not _prepare([train], tmp_path / "out", val_sources=[str(val)]).reused


def test_a_split_smaller_than_a_window_is_warned_about(tmp_path: Path, austen_200k: str) -> None:
    src = tmp_path / "tiny.txt"
    src.write_text(austen_200k[:1_500], encoding="utf-8")
    result = _prepare([src], tmp_path / "out", val_fraction=0.05,
                      tokenizer=TokenizerSpec("char", 400))
    [warning] = result.warnings
    n = result.val_tokens
    assert f"the val split holds {n} tokens" in warning and "block_size 128" in warning
    assert f"block_size at most {n - 1}" in warning and "val_fraction 0." in warning
    summary = json.loads((tmp_path / "out" / "prepare.json").read_text("utf-8"))
    assert summary["warnings"] == [warning]


def test_pretraining_refuses_a_split_smaller_than_a_window_before_step_one(
        tmp_path: Path, austen_200k: str) -> None:
    src = tmp_path / "tiny.txt"
    src.write_text(austen_200k[:1_500], encoding="utf-8")
    data = _prepare([src], tmp_path / "data", val_fraction=0.05,
                    tokenizer=TokenizerSpec("char", 400)).out_dir
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    small = {"n_layer": 1, "n_head": 2, "n_embd": 32, "batch_size": 4, "max_steps": 4,
             "eval_interval": 2, "eval_batches": 1, "log_interval": 1, "sample_tokens": 4}
    sink = RecordingSink()
    cfg = build_run_config("clm", "tiny", vocab, small, data_dir=str(data))
    result = Trainer(cfg, tmp_path / "run", sink).run()
    assert result.reason == "failed" and not sink.steps  # no step was trained
    assert "val split holds" in result.error and "block_size at most" in result.error
    # The advice, followed, trains.
    val = TokenStore.open(data / "tokens.h5").n_tokens("val")
    fixed = build_run_config("clm", "tiny", vocab, {**small, "block_size": val - 1},
                             data_dir=str(data))
    again = Trainer(fixed, tmp_path / "run2", RecordingSink()).run()
    assert again.reason == "completed", again.error


def test_range_splitter_and_rank_pick_are_exact_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 300, size=n).astype(np.uint16) for n in (5000, 3, 40, 1, 900)]
    splitter = RangeSplitter(0.1, seed=7)
    parts = [splitter.cut(d) for d in docs]
    assert sum(len(v) for _, v, _ in parts) == int(0.1 * sum(map(len, docs)))
    for d, (a, v, b) in zip(docs, parts, strict=True):
        assert np.array_equal(np.concatenate([a, v, b]), d)
    again = RangeSplitter(0.1, seed=7)
    assert all(np.array_equal(v, again.cut(d)[1]) for d, (_, v, _) in zip(docs, parts,
                                                                          strict=True))
    assert pick_by_rank([10] * 100, [i / 100 for i in range(100)], 0.1) == set(range(10))
    assert pick_by_rank([1000, 10, 10], [0.1, 0.2, 0.3], 0.1) is None  # one doc too big
    [(split, advice)] = window_problems({"train": 5000, "val": 40}, 129, 128, 0.005)
    assert split == "val" and "block_size at most 39" in advice and "val_fraction 0.03" in \
        advice
