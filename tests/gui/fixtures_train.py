"""A prepared store for the Train page and window tests: ~100 KB of Austen, 500 pieces.

Prepared once per session with the real engine; tests that train skip (rather than error)
while the model modules are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_cache: dict[str, Path] = {}


@pytest.fixture
def train_data(tmp_path_factory, tiny_corpus) -> Path:
    """A prepared data folder (tokens.h5, tokenizer.model) with a 500-piece unigram tokenizer."""
    if "data" not in _cache:
        from lmstudio_app.core.data.prepare import PrepareConfig, prepare
        from lmstudio_app.core.data.tokenizer import TokenizerSpec

        out = tmp_path_factory.mktemp("train-page") / "data"
        result = prepare(PrepareConfig(sources=[str(tiny_corpus / "austen.txt")],
                                       out_dir=str(out),
                                       tokenizer=TokenizerSpec(kind="unigram", vocab_size=500),
                                       val_fraction=0.1))
        _cache["data"] = Path(result.out_dir)
    return _cache["data"]
