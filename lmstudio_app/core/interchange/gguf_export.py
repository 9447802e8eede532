"""Export a GPT run as one GGUF file, for llama.cpp and the runtimes built on it.

Written with the `gguf` package (the writer llama.cpp's own convert_hf_to_gguf.py uses), as
that script writes a GPT-2: architecture "gpt2", its metadata (context_length,
embedding_length, feed_forward_length, block_count, head_count, layer_norm_epsilon,
file_type) and tensor names (token_embd, position_embd, blk.N.attn_norm / attn_qkv /
attn_output / ffn_norm / ffn_up / ffn_down, output_norm; the output matrix is tied to
token_embd and not stored, as for GPT-2). Our projections are nn.Linear, already the (out, in)
layout the script produces by transposing GPT-2's Conv1D weights.

The tokenizer goes in as llama.cpp's SentencePiece vocabulary ("llama": pieces, scores and
token types, no dummy prefix, no automatic BOS) for runs trained here, or as GPT-2's byte-level
BPE ("gpt2": tokens, merges, pre-tokenizer "gpt-2") for imported GPT-2s.

Precision: f32, f16 or bf16 for matrices; vectors (norms, biases) stay f32, as in the script.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.hf_tokenizer import HFTokenizer
from ..data.tokenizer import Tokenizer
from ..data.tokenizer_base import BaseTokenizer
from ..errors import UserError
from ..inference.loading import load_run
from ..util.atomic import atomic_path
from . import llama_gguf
from .staging import Progress, check_new_destination, require_gguf

DTYPES = ("f32", "f16", "bf16")
GPT_LN_EPS = 1e-5


@dataclass
class GGUFResult:
    out: Path
    dtype: str
    tensors: int
    bytes: int
    seconds: float


def gguf_tensors(model: torch.nn.Module, gguf: Any, n_layer: int) -> dict[str, torch.Tensor]:
    """GGUF name -> float32 tensor, for our GPT's weights (zero biases where it has none)."""
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, n_layer)
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if name == "lm_head.weight":
            continue  # tied to token_embd: llama.cpp uses that matrix for the output
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise RuntimeError(f"no GGUF name for {name}")
        out[new] = value
        bias = name[: -len("weight")] + "bias"
        if name.endswith(".weight") and value.dim() >= 1 and bias not in state \
                and "wte" not in name and "wpe" not in name:
            out[names.get_name(bias, try_suffixes=(".bias",))] = torch.zeros(value.shape[0])
    return out


def _write_tensor(writer: Any, gguf: Any, name: str, value: torch.Tensor, dtype: str) -> None:
    data = value.numpy().astype(np.float32)
    if value.dim() <= 1 or dtype == "f32":
        writer.add_tensor(name, data)
    elif dtype == "f16":
        writer.add_tensor(name, data.astype(np.float16))
    else:
        bf16 = gguf.GGMLQuantizationType.BF16
        # Quantised bytes (rows of 2 * n uint8); the writer derives the logical shape from them.
        writer.add_tensor(name, gguf.quants.quantize(data, bf16), raw_dtype=bf16)


def _spm_vocab(writer: Any, gguf: Any, tok: Tokenizer) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(tok.model_bytes)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        elif i == tok.newline_id:
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(False)
    writer.add_remove_extra_whitespaces(False)
    writer.add_bos_token_id(tok.bos_id)
    writer.add_eos_token_id(tok.eos_id)
    writer.add_unk_token_id(tok.unk_id)
    writer.add_pad_token_id(tok.pad_id)
    writer.add_mask_token_id(tok.mask_id)
    writer.add_sep_token_id(tok.sep_id)


def _gpt2_vocab(writer: Any, gguf: Any, tok: HFTokenizer) -> None:
    spec = json.loads(tok.model_bytes.decode("utf-8"))
    if tok.kind != "byte-level-bpe":
        raise UserError(f"GGUF export takes SentencePiece or GPT-2 byte-level BPE tokenizers; "
                        f"this run's is {tok.kind}.", field="format")
    n = tok.vocab_size
    tokens = [tok.id_to_piece(i) for i in range(n)]
    types = [gguf.TokenType.CONTROL if i in tok.special_ids else gguf.TokenType.NORMAL
             for i in range(n)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, role in ((writer.add_bos_token_id, "bos"), (writer.add_eos_token_id, "eos"),
                         (writer.add_unk_token_id, "unk"), (writer.add_pad_token_id, "pad")):
        if tok.has_role(role):
            setter(tok.roles[role])


def write_vocab(writer: Any, gguf: Any, tok: BaseTokenizer) -> None:
    """The tokenizer's tokens, scores / merges and token types as llama.cpp reads them."""
    if isinstance(tok, Tokenizer):
        _spm_vocab(writer, gguf, tok)
    elif isinstance(tok, HFTokenizer):
        _gpt2_vocab(writer, gguf, tok)
    else:
        raise TypeError(f"unknown tokenizer backend {type(tok).__name__}")
    writer.add_add_bos_token(False)  # our GPTs never saw a BOS before text


def export_gguf(run_dir: Path, out: Path, checkpoint: str = "best", dtype: str = "f16",
                progress: Progress | None = None) -> GGUFResult:
    """Write the GPT run `run_dir` as the GGUF file `out` (which must not exist yet).

    Raises UserError for a BERT or classifier run, an unknown dtype, a missing gguf package, or
    an existing `out`; nothing is written then.
    """
    start = time.monotonic()
    report = progress or (lambda stage, done: None)
    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r}: choose {', '.join(DTYPES)}.", field="dtype")
    gguf = require_gguf()
    out = check_new_destination(Path(out))
    report("loading the run", 0.0)
    loaded = load_run(Path(run_dir), checkpoint, "cpu")
    cfg = loaded.config
    if cfg.model.arch == "bert" or (cfg.finetune is not None and cfg.finetune.spec.head):
        raise UserError(f"{run_dir} is a {cfg.spec.title} run; GGUF holds GPT and Llama "
                        "language models (clm or qa-generative runs): export this one with "
                        "format hf.", field="format", option="hf")
    m = cfg.model
    llama = m.arch == "llama"  # llama_gguf.py: llama.cpp's llama / qwen3 architectures
    tensors = llama_gguf.llama_tensors(loaded.model, gguf, m) if llama else \
        gguf_tensors(loaded.model, gguf, m.n_layer)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "bf16": gguf.LlamaFileType.MOSTLY_BF16}[dtype]
    report("writing", 0.3)
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), llama_gguf.gguf_arch(m) if llama else "gpt2")
        writer.add_name(cfg.name or Path(run_dir).name)
        if llama:
            llama_gguf.write_llama_metadata(writer, gguf, m)
        else:
            writer.add_context_length(m.max_positions)
            writer.add_embedding_length(m.n_embd)
            writer.add_feed_forward_length(4 * m.n_embd)
            writer.add_block_count(m.n_layer)
            writer.add_head_count(m.n_head)
            writer.add_layer_norm_eps(GPT_LN_EPS)
        writer.add_file_type(file_type)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        write_vocab(writer, gguf, loaded.tokenizer)
        for name, value in tensors.items():
            _write_tensor(writer, gguf, name, value, dtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    report("done", 1.0)
    return GGUFResult(out, dtype, len(tensors), out.stat().st_size, time.monotonic() - start)
