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

# The Llama architecture's sizes for the presets it has (RoPE, RMSNorm, SwiGLU, no biases).
# tiny and small keep the GPT presets' width, depth and parameter budget (SwiGLU at 8/3 of the
# width, as Llama's 4 x 2/3); smollm2-135m is SmolLM2-135M's shape (HuggingFaceTB), for a GPU.
# The optimizer is the one bench/llama_vs_gpt.py chose: Muon reached the gpt run's final loss
# in 0.44x its time, AdamW in 0.60x (quiet 2-core CPU; bench/results/llama_vs_gpt.md).
LLAMA_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "model": {"n_layer": 4, "n_head": 4, "n_kv_head": 2, "n_embd": 96, "block_size": 128,
                  "intermediate_size": 256},
        "train": {"batch_size": 16, "learning_rate": 2e-3, "max_steps": 2000,
                  "optimizer": "muon"},
    },
    "small": {
        "model": {"n_layer": 6, "n_head": 6, "n_kv_head": 2, "n_embd": 384, "block_size": 256,
                  "intermediate_size": 1024, "dropout": 0.0},
        "train": {"batch_size": 32, "learning_rate": 6e-4, "max_steps": 5000,
                  "optimizer": "muon"},
    },
    "smollm2-135m": {
        "model": {"n_layer": 30, "n_head": 9, "n_kv_head": 3, "n_embd": 576, "block_size": 2048,
                  "intermediate_size": 1536, "rope_theta": 100000.0},
        "train": {"batch_size": 8, "grad_accum": 32, "learning_rate": 3e-3,
                  "max_steps": 600000, "weight_decay": 0.01, "beta2": 0.95,
                  "optimizer": "muon"},
    },
}


def preset_names(arch: str) -> tuple[str, ...]:
    """The presets that give sizes for `arch`."""
    return tuple(LLAMA_PRESETS) if arch == "llama" else tuple(PRESETS)


def preset_part(preset: str, arch: str, part: str) -> dict[str, Any]:
    """A preset's "model" or "train" settings for `arch` (a copy); KeyError when the preset
    has no sizes for that architecture."""
    table = LLAMA_PRESETS if arch == "llama" else PRESETS
    return dict(table[preset][part])


# Training settings that suit fine-tuning, applied over the preset's. The budget is in epochs:
# max_steps and eval_interval are left unset and derived from the training split's size when the
# run starts (training/budget.py: at least 300 steps, an evaluation every half epoch), and the
# checkpoint kept is the one with the best validation score. Chosen from a sweep on two labeled
# corpora (bench/finetune_sweep.py; bench/results/finetune_defaults.md): 3 epochs beat 7 and 10
# (more overfits), 5e-4 beat 3e-4 and 1e-3, dropout 0.1 did not help. Early stopping stays off:
# at three epochs it changed nothing on the tweets and, on a small set whose validation split is
# a few dozen rows, it stopped on noise (4-9 points lower); set early_stopping_patience for long
# budgets.
FINETUNE_TRAIN: dict[str, Any] = {
    "max_steps": None, "num_train_epochs": 3.0, "warmup_ratio": 0.06, "eval_interval": None,
    "learning_rate": 5e-4, "weight_decay": 0.01, "early_stopping_patience": None,
    "sample_prompt": "", "batch_size": 16, "optimizer": "adamw",
}
