"""The GPU fast path, measured: GPT-2 124M's shape at block 1024 in bf16, eager and compiled.

For each mode it prints tokens/s, MFU (from the peak bf16 table in core/util/flops.py), the peak
of torch.cuda.max_memory_allocated, the app's pre-run memory estimate and its error; then the
same with 2 ranks (torchrun, DDP over NCCL) when the machine has 2 GPUs. It runs the real
Trainer, the path of `lmstudio-app pretrain`, on a character-level store of the bundled corpus
(the vocabulary is padded to GPT-2's 50,304 so the output layer has GPT-2's cost). It prints;
it never asserts. At most about 8 minutes on one H100/H200.

    python bench/gpu.py                # the full measurement (a CUDA GPU)
    python bench/gpu.py --smoke        # a reduced shape on whatever device there is (CPU here)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lmstudio_app.core.config import build_run_config  # noqa: E402
from lmstudio_app.core.data.prepare import PrepareConfig, prepare  # noqa: E402
from lmstudio_app.core.data.samples import sample_corpus  # noqa: E402
from lmstudio_app.core.data.tokenizer import TokenizerSpec  # noqa: E402
from lmstudio_app.core.models import count_parameters  # noqa: E402
from lmstudio_app.core.models.flops import mfu  # noqa: E402
from lmstudio_app.core.training.memory import estimate_training_memory  # noqa: E402
from lmstudio_app.core.training.sinks import RecordingSink  # noqa: E402
from lmstudio_app.core.training.trainer import Trainer  # noqa: E402
from lmstudio_app.core.util.device import resolve_device  # noqa: E402

GPT2_VOCAB = 50304  # GPT-2's 50,257 padded to a multiple of 64, as nanoGPT does


def _overrides(args: argparse.Namespace, compile_: bool) -> dict:
    if args.smoke:
        shape = {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 64, "batch_size": 4}
    else:
        shape = {"block_size": 1024, "batch_size": args.batch_size}
    return {**shape, "vocab_size": GPT2_VOCAB, "grad_accum": 1, "max_steps": args.steps,
            "eval_interval": args.steps, "eval_batches": 1, "log_interval": 5,
            "sample_prompt": "", "device": args.device, "dtype": args.dtype,
            "compile": compile_, "dropout": 0.0}


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def measure(data: Path, vocab: int, work: Path, args: argparse.Namespace,
            compile_: bool) -> dict:
    cfg = build_run_config("clm", "gpt2-124m", vocab, _overrides(args, compile_),
                           data_dir=str(data))
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    sink = RecordingSink()
    start = time.perf_counter()
    result = Trainer(cfg, work / f"run-{'compiled' if compile_ else 'eager'}", sink).run()
    wall = time.perf_counter() - start
    if result.reason != "completed":
        raise SystemExit(f"training failed: {sink.failure}")
    device = resolve_device(args.device)
    rates = [m.tokens_per_s for m in sink.steps][2:] or [m.tokens_per_s for m in sink.steps]
    tps = statistics.median(rates)
    n_params = count_parameters(cfg.model)
    estimate = estimate_training_memory(cfg, n_params, device.type)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return {"mode": "compiled" if compile_ else "eager", "tokens_per_s": tps,
            "mfu": mfu(tps, cfg.model, _device_name(device)), "peak": peak,
            "estimate": estimate.total, "dominant": estimate.dominant,
            "parameters": n_params, "wall_s": wall, "device": sink.info.get("device")}


def two_ranks(data: Path, work: Path, args: argparse.Namespace) -> str:
    """The eager run under torchrun with 2 processes: its tokens/s from the JSON lines."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "-m", "lmstudio_app", "pretrain", "--data", str(data), "--preset", "gpt2-124m",
           "--json", "--out", str(work / "run-ddp")]
    for key, value in _overrides(args, False).items():
        cmd += ["--set", f"{key}={value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return f"2 ranks: failed ({(out.stderr.strip().splitlines() or ['?'])[-1]})"
    steps = [json.loads(line) for line in out.stdout.splitlines()
             if line.startswith("{") and '"step"' in line and '"event": "step"' in line]
    rate = statistics.median(s["tokens_per_s"] for s in steps[2:] or steps)
    return f"2 ranks (DDP, eager): {rate:,.0f} tokens/s in all"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a reduced shape, any device")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    args.steps = args.steps or (10 if args.smoke else 60)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepared = prepare(PrepareConfig(sources=[str(sample_corpus())],
                                         out_dir=str(work / "data"),
                                         tokenizer=TokenizerSpec(kind="char", vocab_size=400)))
        data = prepared.out_dir
        modes = [False] if args.no_compile or args.smoke else [False, True]
        for compile_ in modes:
            r = measure(data, prepared.vocab_size, work, args, compile_)
            mfu_text = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a (unknown peak)"
            if r["peak"] is not None:
                err = (r["estimate"] - r["peak"]) / r["peak"]
                memory = (f"peak {r['peak'] / 2**30:.2f} GiB, estimate "
                          f"{r['estimate'] / 2**30:.2f} GiB ({err:+.0%}, mostly {r['dominant']})")
            else:
                memory = (f"estimate {r['estimate'] / 2**20:.0f} MiB (mostly {r['dominant']}); "
                          "no CUDA peak on this device")
            print(f"{r['mode']:>8}: {r['tokens_per_s']:>10,.0f} tokens/s  MFU {mfu_text}  "
                  f"{memory}  [{r['parameters'] / 1e6:.1f}M parameters, {r['device']}, "
                  f"{r['wall_s']:.0f} s]", flush=True)
        if not args.smoke and torch.cuda.device_count() >= 2:
            print(two_ranks(data, work, args), flush=True)


if __name__ == "__main__":
    main()
