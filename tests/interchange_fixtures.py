"""Fixtures for export and import (tests/core/interchange, tests/cli, tests/gui): tiny runs of
each kind trained a few steps with our engine, and tiny random GPT-2 / BERT folders made with
transformers. Those need the optional `hf` extra; tests that use them skip without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data import labeled
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import austen_text

HF_MISSING = "the Hugging Face extra is missing: pip install 'lmstudio-app[hf]'"

BASE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
        "eval_interval": 8, "eval_batches": 1, "log_interval": 4, "sample_prompt": "",
        "max_steps": 8}
FT = {"log_interval": 4, "batch_size": 8, "learning_rate": 2e-3, "max_steps": 6,
      "eval_interval": 6}


def paragraph() -> str:
    """A real paragraph of the bundled corpus, with its line breaks (and a blank line)."""
    text = austen_text(40_000)
    start = text.index("\n\n", 20_000) + 2
    return text[start: text.index("\n\n", start + 600)] + "\n\n" + text[start - 300: start]


def _pretrain(data: Path, objective: str, out: Path) -> Path:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    cfg = build_run_config(objective, "tiny", vocab, BASE, data_dir=str(data))
    sink = RecordingSink()
    assert Trainer(cfg, out, sink).run().reason == "completed", sink.failure
    return out


def _finetune(out: Path, **fields) -> Path:
    cfg = make_finetune_config(FinetuneConfig(**fields), overrides=FT)
    sink = RecordingSink()
    assert Trainer(cfg, out, sink).run().reason == "completed", sink.failure
    return out


# Made once per session.
_MADE: dict[str, Any] = {}


@pytest.fixture(scope="session")
def tiny_runs(prepared_data, tmp_path_factory) -> dict[str, Path]:
    """gpt, bert (pretrained a few steps), cls-gpt, cls-bert, qa, qa-gpt (fine-tuned from
    them)."""
    if "runs" not in _MADE:
        _MADE["runs"] = _make_runs(prepared_data, tmp_path_factory.mktemp("runs"))
    return _MADE["runs"]


def _make_runs(prepared_data: Path, root: Path) -> dict[str, Path]:
    out = {"gpt": _pretrain(prepared_data, "clm", root / "gpt"),
           "bert": _pretrain(prepared_data, "mlm", root / "bert")}
    sentiment, qa = str(labeled.sample_sentiment_path()), str(labeled.sample_qa_path())
    out["cls-gpt"] = _finetune(root / "cls-gpt", task="classify", train_file=sentiment,
                               base_run=str(out["gpt"]), pooling="eos")
    out["cls-bert"] = _finetune(root / "cls-bert", task="classify", train_file=sentiment,
                                base_run=str(out["bert"]))
    out["qa"] = _finetune(root / "qa", task="qa-extractive", train_file=qa,
                          base_run=str(out["bert"]))
    out["qa-gpt"] = _finetune(root / "qa-gpt", task="qa-extractive", train_file=qa,
                              base_run=str(out["gpt"]))
    return out


@pytest.fixture(scope="session")
def hf_gpt2(tmp_path_factory) -> Path:
    from tests.core.interchange.hf_models import save_gpt2

    if "gpt2" not in _MADE:
        _MADE["gpt2"] = save_gpt2(tmp_path_factory.mktemp("hf") / "gpt2")
    return _MADE["gpt2"]


@pytest.fixture(scope="session")
def hf_bert(tmp_path_factory) -> Path:
    from tests.core.interchange.hf_models import save_bert

    return save_bert(tmp_path_factory.mktemp("hf") / "bert")
