"""bench/gpu.py's reduced mode runs anywhere, through the real Trainer, and prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_bench_smoke_prints_throughput_mfu_and_the_memory_estimate():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke", "--steps",
                          "6", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip().splitlines()[-1]
    assert "eager:" in line and "tokens/s" in line and "MFU n/a" in line
    assert "estimate" in line and "MiB" in line
