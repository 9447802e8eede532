"""Import time and peak memory of a SmolLM2-135M-shaped model on the CPU.

transformers builds a random LlamaForCausalLM of SmolLM2-135M's shape (30 layers, width 576,
9 heads, 3 key/value heads, SwiGLU 1536, vocabulary 49,152, tied embeddings) and saves it in
bf16, sharded as the Hub stores larger models; a fresh process then runs `import_hf` on it (the
path of `lmstudio-app import --hf`), and another loads the run (`load_run`, the path of chat and
generate). Each child reports its wall time, its CPU time (user + system, the whole process
with its imports: less sensitive to a busy machine than the wall time) and its peak resident
memory (ru_maxrss).

It prints; it never asserts. The machine's load average is printed beside the figures.

    python bench/llama_import.py [--shard 100MB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    max_position_embeddings=8192, rms_norm_eps=1e-5, tie_word_embeddings=True,
                    rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                    bos_token_id=0, eos_token_id=0)


def make_folder(folder: Path, shard: str) -> None:
    import torch
    import transformers

    from tests.llama_fixtures import byte_bpe

    torch.manual_seed(0)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SMOLLM2_135M))
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    model.to(torch.bfloat16).save_pretrained(folder, max_shard_size=shard)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=byte_bpe(),
                                                bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>")
    fast.save_pretrained(folder)


def child(role: str, src: Path, run: Path) -> None:
    start = time.monotonic()
    if role == "import":
        from lmstudio_app.core.interchange.hf_import import import_hf

        n = import_hf(src, run).parameters
    else:
        from lmstudio_app.core.inference.loading import load_run

        n = sum(p.numel() for p in load_run(run).model.parameters())
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_bytes": usage.ru_maxrss * 1024, "parameters": n}))


def measure(role: str, src: Path, run: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", role, str(src), str(run)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shard", default="100MB")
    p.add_argument("--child", nargs=3, metavar=("ROLE", "SRC", "RUN"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child[0], Path(a.child[1]), Path(a.child[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        src, run = Path(tmp) / "src", Path(tmp) / "run"
        make_folder(src, a.shard)
        size = sum(f.stat().st_size for f in src.iterdir())
        shards = len(list(src.glob("*.safetensors")))
        print(f"folder: {size / 1e6:.0f} MB in {shards} bf16 shards; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for role in ("import", "load"):
            r = measure(role, src, run)
            print(f"{role}: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU (the whole "
                  f"process, imports included), peak RSS {r['peak_bytes'] / 2**20:.0f} MiB, "
                  f"{r['parameters']:,} parameters (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
