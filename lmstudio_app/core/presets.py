"""Presets: a model shape and the training settings that suit it, by name.

Field names are the config dataclasses' own (nanoGPT's where nanoGPT has one), so a preset reads
like the `--set` overrides that refine it.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {  # about 1M parameters with an 8k vocabulary: minutes on a laptop CPU
        "model": {"n_layer": 4, "n_head": 4, "n_embd": 96, "block_size": 128},
        "train": {"batch_size": 16, "learning_rate": 2e-3, "max_steps": 2000},
    },
    "small": {  # about 14M parameters with an 8k vocabulary
        "model": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "dropout": 0.1},
        "train": {"batch_size": 32, "learning_rate": 6e-4, "max_steps": 5000},
    },
    "baby": {  # nanoGPT's CPU example shape (character vocabulary)
        "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0},
        "train": {"batch_size": 12, "learning_rate": 1e-3, "max_steps": 2000},
    },
    "gpt2-124m": {  # GPT-2 small's shape, for a GPU
        "model": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024, "dropout": 0.0},
        "train": {"batch_size": 12, "grad_accum": 40, "learning_rate": 6e-4, "max_steps": 600000,
                  "weight_decay": 0.1, "beta2": 0.95},
    },
    "bert-base": {  # BERT-base's shape, for a GPU
        "model": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 512, "dropout": 0.1},
        "train": {"batch_size": 32, "grad_accum": 8, "learning_rate": 1e-4, "max_steps": 100000,
                  "weight_decay": 0.01, "beta2": 0.999},
    },
}

# Training settings that suit fine-tuning, applied over the preset's: a short run at a lower rate.
FINETUNE_TRAIN: dict[str, Any] = {
    "max_steps": 300, "learning_rate": 5e-4, "eval_interval": 50, "weight_decay": 0.01,
    "sample_prompt": "", "batch_size": 16,
}
