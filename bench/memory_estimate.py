"""The pre-run memory estimate against real training steps on the CPU.

Each shape trains three AdamW steps in a fresh subprocess; the measured figure is the growth of
the process's peak resident memory (ru_maxrss) from just before the model is built. It prints a
table of measured and estimated MiB and the error; it never asserts.

    python bench/memory_estimate.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = [  # arch, n_layer, n_head, n_embd, block_size, batch_size, vocab_size
    ("gpt", 4, 4, 96, 128, 16, 8000), ("gpt", 6, 6, 384, 256, 32, 8000),
    ("gpt", 4, 4, 128, 64, 12, 65), ("gpt", 2, 2, 64, 512, 8, 2000),
    ("gpt", 8, 8, 256, 128, 64, 8000), ("gpt", 2, 4, 256, 128, 16, 16000),
    ("gpt", 12, 4, 128, 128, 8, 500), ("gpt", 4, 4, 512, 64, 8, 500),
    ("bert", 4, 4, 96, 128, 16, 8000), ("bert", 6, 6, 384, 256, 16, 8000),
    ("bert", 2, 4, 128, 512, 8, 500), ("bert", 4, 4, 128, 128, 32, 16000),
]


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(shape: tuple) -> dict:
    """Runs in the child: three training steps of `shape`, the peak growth in bytes."""
    import torch

    from lmstudio_app.core.config import ModelConfig
    from lmstudio_app.core.models import build_model

    torch.set_num_threads(1)
    arch, L, H, C, T, B, V = shape
    x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    base = max(_rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    model = build_model(ModelConfig(arch=arch, vocab_size=V, n_layer=L, n_head=H, n_embd=C,
                                    block_size=T))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    for _ in range(3):
        if arch == "gpt":
            loss = model(x, y)[1]
        else:
            loss = model(x, labels=torch.where(torch.rand(B, T) < 0.15, y, -100))[1]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"params": sum(p.numel() for p in model.parameters()), "growth": peak - base}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure(tuple(json.loads(sys.argv[2])))))
        return
    from lmstudio_app.core.config import ModelConfig, RunConfig, TrainConfig
    from lmstudio_app.core.training.memory import estimate_training_memory

    print(f"{'shape':<34} {'measured MiB':>12} {'estimate MiB':>12} {'error':>7}  dominant")
    for shape in SHAPES:
        out = subprocess.run([sys.executable, __file__, "--child", json.dumps(shape)],
                             capture_output=True, text=True, check=True)
        got = json.loads(out.stdout)
        arch, L, H, C, T, B, V = shape
        cfg = RunConfig(objective="clm" if arch == "gpt" else "mlm",
                        model=ModelConfig(arch=arch, vocab_size=V, n_layer=L, n_head=H,
                                          n_embd=C, block_size=T),
                        train=TrainConfig(batch_size=B))
        est = estimate_training_memory(cfg, got["params"], "cpu")
        error = (est.total - got["growth"]) / got["growth"]
        label = f"{arch} L{L} H{H} C{C} T{T} B{B} V{V}"
        print(f"{label:<34} {got['growth'] / 2**20:12.0f} {est.total / 2**20:12.0f} "
              f"{error:+7.0%}  {est.dominant}")


if __name__ == "__main__":
    main()
