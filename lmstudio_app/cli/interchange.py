"""export and import: runs as Hugging Face folders or GGUF files, and Hugging Face models as
runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_loaded_run

FORMATS = ("hf", "gguf", "peft")
GGUF_DTYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")


def add_export_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    s.add_argument("--format", required=True, choices=FORMATS,
                   help="hf: a transformers folder; gguf: one file for llama.cpp (GPT runs); "
                        "peft: a LoRA run's adapters for PeftModel.from_pretrained (hf and "
                        "gguf write a LoRA run merged)")
    s.add_argument("--out", required=True, metavar="DIR|FILE.gguf",
                   help="a new folder (hf) or file (gguf); it must not exist yet")
    s.add_argument("--dtype", choices=GGUF_DTYPES, default="f16",
                   help="gguf: precision of the matrices (default f16; q8_0 and q4_0 are "
                        "llama.cpp's quantized types; vectors stay f32)")
    s.add_argument("--license", default="other", metavar="ID",
                   help="the license named in the model card and GGUF metadata, as a Hugging "
                        "Face license id (e.g. apache-2.0, mit, cc-by-4.0; default other)")


def run_export(args: argparse.Namespace) -> int:
    import sys

    from ..core.util.units import format_duration, human_bytes

    if args.format == "hf":
        from ..core.interchange.hf_export import export_hf

        hf = export_hf(Path(args.run), Path(args.out), args.checkpoint, license_=args.license)
        out, size, seconds, what = hf.out, hf.bytes, hf.seconds, hf.architecture
        notes: list[str] = []
    elif args.format == "peft":
        from ..core.interchange.peft_export import export_peft

        hf = export_peft(Path(args.run), Path(args.out), args.checkpoint)
        out, size, seconds, what = hf.out, hf.bytes, hf.seconds, hf.architecture
        notes = []
    else:
        from ..core.interchange.gguf_export import export_gguf

        gg = export_gguf(Path(args.run), Path(args.out), args.checkpoint, args.dtype,
                         license_=args.license)
        out, size, seconds = gg.out, gg.bytes, gg.seconds
        what, notes = f"GGUF, {gg.dtype}, tokenizer {gg.tokenizer}", list(gg.notes)
    print(f"{out}: {what}, {human_bytes(size)}, {format_duration(seconds)}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def add_import_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--hf", required=True, metavar="DIR|REPO_ID",
                   help="a GPT-2, BERT, Llama, Mistral, Qwen2 or Qwen3 folder (config.json, "
                   "weights, tokenizer), or a Hugging Face repo id (cache, then download)")
    s.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="the new run folder; it must not exist yet")


def run_import(args: argparse.Namespace) -> int:
    import sys

    from ..core.interchange.hf_import import import_hf
    from ..core.util.units import format_duration, human_bytes, human_count

    r = import_hf(Path(args.hf), Path(args.out))
    print(f"{r.out}: {r.objective} run from {r.architecture}, {human_count(r.parameters)} "
          f"parameters, {human_bytes(r.bytes)}, {format_duration(r.seconds)}")
    for note in r.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
