"""LoRA fixtures shared by the objectives and interchange tests: tiny pretrained GPT, Llama
and BERT runs, and a LoRA fine-tune of one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmstudio_app.core.config import FinetuneConfig, RunConfig, build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.lora_config import LoraSettings
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

LABELED = Path(__file__).resolve().parents[1] / "resources" / "labeled"
BASE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
        "eval_interval": 40, "eval_batches": 2, "log_interval": 10, "sample_prompt": "",
        "max_steps": 40}
FT = {"log_interval": 5, "batch_size": 16, "learning_rate": 3e-3}
TASK_FILES = {"classify": "sentiment.csv", "qa-generative": "qa.jsonl",
              "qa-extractive": "qa.jsonl", "dpo": "preference.jsonl"}


def pretrain(data: Path, objective: str, out: Path, arch: str | None = None) -> Path:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    cfg = build_run_config(objective, "tiny", vocab, BASE, data_dir=str(data), arch=arch)
    result = Trainer(cfg, out, RecordingSink()).run()
    assert result.reason == "completed"
    return out


@pytest.fixture(scope="session")
def lora_bases(prepared_data, tmp_path_factory) -> dict[str, Path]:
    """Pretrained gpt, llama (clm) and bert (mlm) runs, 40 steps each."""
    root = tmp_path_factory.mktemp("lora-bases")
    return {"gpt": pretrain(prepared_data, "clm", root / "gpt"),
            "llama": pretrain(prepared_data, "clm", root / "llama", arch="llama"),
            "bert": pretrain(prepared_data, "mlm", root / "bert")}


def task_config(base: Path, task: str, steps: int, lora: LoraSettings | None = None,
                full: bool = False, **train: object) -> RunConfig:
    """A fine-tune of `base` on the bundled set of `task`: LoRA (`lora`, else the default
    settings), or every weight when `full`."""
    ft = FinetuneConfig(task=task, train_file=str(LABELED / TASK_FILES[task]),
                        base_run=str(base))
    cfg = make_finetune_config(ft, overrides={**FT, "max_steps": steps,
                                              "eval_interval": max(steps // 2, 1), **train})
    cfg.lora = None if full else (lora or LoraSettings())
    cfg.validate()
    return cfg
