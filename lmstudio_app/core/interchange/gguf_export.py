"""Export a GPT run as one GGUF file, for llama.cpp and the runtimes built on it.

Written with the `gguf` package (the writer llama.cpp's own convert_hf_to_gguf.py uses): the
architecture's hyperparameters and tensors (`ARCHITECTURES`, one module per architecture:
gguf_gpt2.py), the tokenizer as the llama.cpp tokenizer that segments text as ours
(gguf_vocab.py; a kind none reproduces is refused) and the general metadata a model file
carries (general.name, basename, size_label, license, file_type).

Precision (`dtype`): f32, f16 or bf16 matrices, or the quantized q8_0 and q4_0 (blocks of 32
weights with one f16 scale, as llama.cpp's quantize makes them; a matrix whose rows are not a
multiple of 32 falls back to f16, as in convert_hf_to_gguf.py). Vectors (norms, biases) and the
architecture's `keep_f32` tensors stay f32.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ModelConfig
from ..errors import UserError
from ..inference.chat import chat_format_of
from ..inference.loading import load_run
from ..util.atomic import atomic_path
from . import llama_gguf
from .chat_export import add_gguf_chat, write_modelfile
from .gguf_arch import GGUFArchitecture
from .gguf_gpt2 import GPT2
from .gguf_vocab import UNIGRAM_NOTE, tokenizer_model, write_vocab
from .staging import Progress, check_new_destination, require_gguf

DTYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")
QUANTIZED = ("q8_0", "q4_0")
DEFAULT_LICENSE = "other"  # Hugging Face's word for a license not named
# Our config's model.arch -> its GGUF mapping for a model of that config.
ARCHITECTURES: dict[str, Callable[[ModelConfig], GGUFArchitecture]] = {
    "gpt": lambda m: GPT2, "llama": llama_gguf.architecture}


@dataclass
class GGUFResult:
    out: Path
    dtype: str
    tensors: int
    bytes: int
    seconds: float
    tokenizer: str  # tokenizer.ggml.model written
    notes: list[str]  # where llama.cpp's tokenizer may differ from the app's (gguf_vocab.py)


def _ggml_type(gguf: Any, dtype: str) -> Any:
    return getattr(gguf.GGMLQuantizationType, dtype.upper())


def _write_tensor(writer: Any, gguf: Any, name: str, value: torch.Tensor, dtype: str,
                  keep_f32: tuple[str, ...]) -> None:
    data = value.numpy().astype(np.float32)
    if value.dim() <= 1 or dtype == "f32" or name in keep_f32:
        writer.add_tensor(name, data)
    elif dtype == "f16" or (dtype in QUANTIZED and data.shape[-1] % 32):
        writer.add_tensor(name, data.astype(np.float16))
    else:
        qtype = _ggml_type(gguf, dtype)
        # Quantised bytes; the writer derives the logical shape from them.
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


def basename(name: str) -> str:
    """A file-name-safe form of a model's name (general.basename): letters, digits, '-'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "model"


def _general(writer: Any, gguf: Any, name: str, n_params: int, license_: str) -> None:
    writer.add_name(name)
    writer.add_basename(basename(name))
    writer.add_size_label(gguf.size_label(n_params, 0, 0, 0))
    writer.add_license(license_)


def _architecture(run_dir: Path, cfg: Any) -> GGUFArchitecture:
    mapping = ARCHITECTURES.get(cfg.model.arch)
    if mapping is None or (cfg.finetune is not None and cfg.finetune.spec.head):
        raise UserError(f"{run_dir} is a {cfg.spec.title} run; GGUF holds GPT and Llama "
                        "language models (clm or qa-generative runs): export this one with "
                        "format hf.", field="format", option="hf")
    return mapping(cfg.model)


def export_gguf(run_dir: Path, out: Path, checkpoint: str = "best", dtype: str = "f16",
                progress: Progress | None = None,
                license_: str = DEFAULT_LICENSE) -> GGUFResult:
    """Write the GPT run `run_dir` as the GGUF file `out` (which must not exist yet).

    Raises UserError for a BERT or classifier run, an unknown dtype, a tokenizer llama.cpp
    cannot reproduce (gguf_vocab.UnsupportedTokenizer), a missing gguf package, or an
    existing `out`; nothing is written then.
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
    arch = _architecture(Path(run_dir), cfg)
    tokenizer_model(loaded.tokenizer)  # refuses before anything is written
    chat = chat_format_of(Path(run_dir), loaded.tokenizer)
    tensors = arch.tensors(loaded.model, gguf, cfg.model)
    n_params = sum(p.numel() for p in loaded.model.parameters())
    report("writing", 0.3)
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch.name)
        _general(writer, gguf, cfg.name or Path(run_dir).name, n_params, license_)
        arch.hparams(writer, gguf, cfg.model)
        writer.add_file_type(getattr(gguf.LlamaFileType, "ALL_F32" if dtype == "f32" else
                                     f"MOSTLY_{dtype.upper()}"))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        model = write_vocab(writer, gguf, loaded.tokenizer)
        add_gguf_chat(writer, chat, loaded.tokenizer)
        for name, value in tensors.items():
            _write_tensor(writer, gguf, name, value, dtype, arch.keep_f32)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    modelfile = write_modelfile(out, chat, loaded.tokenizer.id_to_piece(
        loaded.tokenizer.eos_id))
    report("done", 1.0)
    notes = [UNIGRAM_NOTE] if model == "plamo2" else []
    notes.append(f"{modelfile}: for Ollama (ollama create NAME -f {modelfile})")
    return GGUFResult(out, dtype, len(tensors), out.stat().st_size, time.monotonic() - start,
                      model, notes)
