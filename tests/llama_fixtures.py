"""Tiny random Llama, Qwen2 and Qwen3 models made with transformers itself (no download): the
transformers model, a folder it saved (one file or shards, fp32 or bf16) with a byte-level BPE
tokenizer trained here on Austen text, and the transformers twin of one of our models."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import torch

from lmstudio_app.core.config import ModelConfig

VOCAB, WIDTH, LAYERS, HEADS, KV_HEADS, INNER, POSITIONS = 300, 64, 2, 4, 2, 96, 128
LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
FAMILIES = ("llama", "qwen2", "qwen3")


def hf_config(family: str, vocab_size: int = VOCAB, **extra: Any) -> Any:
    """transformers' config of a tiny `family` model (Llama with llama3 rope scaling, untied
    Qwen2 with q/k/v biases, Qwen3 with its own head width and QK-norm)."""
    import transformers

    common: dict[str, Any] = dict(
        vocab_size=vocab_size, hidden_size=WIDTH, intermediate_size=INNER,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
        max_position_embeddings=POSITIONS, rms_norm_eps=1e-6, bos_token_id=0, eos_token_id=0)
    if family == "llama":
        return transformers.LlamaConfig(**{**common, "tie_word_embeddings": True,
                                           "rope_parameters": {**LLAMA3_ROPE,
                                                               "rope_theta": 50000.0},
                                           **extra})
    if family == "qwen2":
        return transformers.Qwen2Config(**{**common, "tie_word_embeddings": False, **extra})
    return transformers.Qwen3Config(**{**common, "head_dim": 32, "tie_word_embeddings": True,
                                       **extra})


def hf_model(family: str, seed: int = 0, vocab_size: int = VOCAB, **extra: Any) -> Any:
    """A random `family` ForCausalLM in eval mode, every weight (norms and biases too) drawn
    from N(0, 0.1) around its own init, so a mapping mistake shows in the logits."""
    import transformers

    cls = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM,
           "qwen3": transformers.Qwen3ForCausalLM}[family]
    torch.manual_seed(seed)
    model = cls(hf_config(family, vocab_size, **extra))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@functools.lru_cache(maxsize=2)
def byte_bpe(vocab_size: int = VOCAB) -> Any:
    """A byte-level BPE tokenizer (the kind SmolLM2, Llama 3 and Qwen use) on Austen text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from tests.conftest import austen_text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(austen_text(60_000).split("\n"), trainer)
    return tok


def save_family(folder: Path, family: str, *, dtype: torch.dtype = torch.float32,
                shard: str | None = None, seed: int = 0, **extra: Any) -> Any:
    """Save a random `family` model into `folder` (sharded at `shard` like "40KB", in `dtype`)
    with its tokenizer; returns transformers' own fp32 load of the folder (the reference)."""
    import transformers

    tok = byte_bpe()
    model = hf_model(family, seed, vocab_size=tok.get_vocab_size(), **extra)
    model = model.to(dtype)
    kwargs: dict[str, Any] = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(folder, **kwargs)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    fast.save_pretrained(folder)
    return transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def edit_config(folder: Path, **changes: Any) -> None:
    """Change config.json's keys (a value None removes the key)."""
    path = folder / "config.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def our_config(family: str, **extra: Any) -> ModelConfig:
    """Our ModelConfig of the same shape as hf_config(family)."""
    kw: dict[str, Any] = dict(arch="llama", vocab_size=VOCAB, n_layer=LAYERS, n_head=HEADS,
                              n_kv_head=KV_HEADS, n_embd=WIDTH, intermediate_size=INNER,
                              block_size=POSITIONS, norm_eps=1e-6)
    if family == "llama":
        kw.update(rope_theta=50000.0, rope_scaling=json.dumps(LLAMA3_ROPE))
    elif family == "qwen2":
        kw.update(qkv_bias=True, tie_word_embeddings=False)
    else:
        kw.update(head_size=32, qk_norm=True)
    return ModelConfig(**{**kw, **extra})


def transformers_twin(model: torch.nn.Module, family: str, **extra: Any) -> Any:
    """The transformers model of `family` holding our model's weights (the names are the
    same), with eager attention so it can report its attention weights."""
    twin = hf_model(family, vocab_size=model.config.vocab_size, **extra)  # type: ignore
    twin.config._attn_implementation = "eager"
    missing, unexpected = twin.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    return twin.eval()
