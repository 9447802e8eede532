"""A chat-tuned run (task sft, ChatML added to a GPT pretrained a few steps), made once per
session for the chat command, the Playground and the exports; import `sft_run` to use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

_MADE: dict[str, Any] = {}
BASE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 128, "batch_size": 8,
        "eval_interval": 100, "eval_batches": 1, "log_interval": 10, "sample_prompt": "",
        "max_steps": 6}


def chat_file(path: Path, n: int) -> Path:
    """`n` two-turn sentiment conversations in Hugging Face's messages form."""
    rows = [{"messages": [{"role": "user", "content": f"What is the sentiment of: day {k}"},
                          {"role": "assistant", "content": ("positive", "negative")[k % 2]}]}
            for k in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _make(prepared_data: Path, root: Path) -> dict[str, Path]:
    vocab = Tokenizer.load(prepared_data / "tokenizer.model").vocab_size
    cfg = build_run_config("clm", "tiny", vocab, BASE, data_dir=str(prepared_data))
    base = root / "runs" / "gpt"  # a runs root, as the window lists it
    assert Trainer(cfg, base, RecordingSink()).run().reason == "completed"
    ft = FinetuneConfig(task="sft", train_file=str(chat_file(root / "train.jsonl", 16)),
                        test_file=str(chat_file(root / "test.jsonl", 1)), base_run=str(base))
    sft_cfg = make_finetune_config(ft, overrides={"max_steps": 2, "eval_interval": 2,
                                                  "batch_size": 4, "log_interval": 1})
    sink = RecordingSink()
    assert Trainer(sft_cfg, root / "runs" / "sft", sink).run().reason == "completed", \
        sink.failure
    return {"gpt": base, "sft": root / "runs" / "sft", "train": root / "train.jsonl"}


@pytest.fixture(scope="session")
def sft_run(prepared_data, tmp_path_factory) -> dict[str, Path]:
    """{"gpt": the base run, "sft": the chat-tuned run (both in one runs root), "train": the
    conversations it was tuned on}."""
    if "runs" not in _MADE:
        _MADE["runs"] = _make(prepared_data, tmp_path_factory.mktemp("chat"))
    return _MADE["runs"]
