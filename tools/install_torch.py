"""Install the right PyTorch into the environment running this script, before the project.

    python tools/install_torch.py

`pip install` of the project alone would take PyPI's default PyTorch, which on Linux is the CUDA
build (about 6 GB in the environment) even on a machine with no NVIDIA GPU. This script decides
first and says what it chose:
- PyTorch already installed: kept as it is (whatever build the user chose).
- Linux without an NVIDIA GPU: the CPU build from PyTorch's CPU index; where that index cannot be
  reached, a CPU build (`+cpu`) the configured package sources offer; else the default build.
- Anywhere else (an NVIDIA GPU, macOS, Windows): the default build (CUDA on Linux, MPS on macOS).
Exit status 0 when PyTorch is importable afterwards, else pip's failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
REQUIREMENT = "torch>=2.4"  # pyproject.toml's own requirement


def has_nvidia_gpu() -> bool:
    """An NVIDIA driver is loaded (its /proc entry) or nvidia-smi lists a GPU."""
    if Path("/proc/driver/nvidia/version").exists():
        return True
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def wants_cpu_build(platform: str, nvidia: bool) -> bool:
    """Only Linux has a default build that carries CUDA whether or not a GPU is there."""
    return platform.startswith("linux") and not nvidia


def newest_cpu_version(listing: str) -> str | None:
    """The newest `+cpu` version in `pip index versions torch`'s output (listed newest first)."""
    line = next((x for x in listing.splitlines() if x.strip().startswith("Available versions")),
                "")
    found = re.findall(r"(\d+(?:\.\d+)*\+cpu)\b", line)
    return found[0] if found else None


def pip(*args: str, env: dict[str, str] | None = None) -> int:
    return subprocess.run([sys.executable, "-m", "pip", *args], env=env, check=False).returncode


def cpu_version(*source: str) -> str | None:
    """The newest CPU build that `source` (pip's options; none: the configured sources) lists."""
    # Only the index named: no configured source (a mirror, a wheel folder, pip.conf's extra
    # indexes) may answer for PyTorch's CPU index. The install itself keeps pip's settings.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "",
           "PIP_EXTRA_INDEX_URL": ""} if source else None
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "torch", *source,
                          "--retries", "1", "--timeout", "20"],
                         capture_output=True, text=True, env=env, check=False)
    return newest_cpu_version(out.stdout) if out.returncode == 0 else None


def main() -> int:
    if importlib.util.find_spec("torch") is not None:
        print("PyTorch: already installed, kept")
        return 0
    if not wants_cpu_build(sys.platform, has_nvidia_gpu()):
        print("PyTorch: the default build (an NVIDIA GPU, or not Linux)")
        return pip("install", "--quiet", REQUIREMENT)
    version = cpu_version("--index-url", CPU_INDEX)
    if version is not None:
        print(f"PyTorch: no NVIDIA GPU, so the CPU build torch=={version} from {CPU_INDEX}")
        return pip("install", "--quiet", "--extra-index-url", CPU_INDEX, f"torch=={version}")
    version = cpu_version()
    if version is not None:
        print(f"PyTorch: no NVIDIA GPU and {CPU_INDEX} cannot be reached: the CPU build "
              f"torch=={version} from the configured package sources")
        return pip("install", "--quiet", f"torch=={version}")
    print(f"PyTorch: no NVIDIA GPU, but no CPU build can be reached ({CPU_INDEX} nor the "
          "configured sources): installing the default build (several GB, with CUDA)")
    return pip("install", "--quiet", REQUIREMENT)


if __name__ == "__main__":
    sys.exit(main())
