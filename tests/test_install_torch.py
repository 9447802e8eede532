"""tools/install_torch.py: the CPU build on Linux without an NVIDIA GPU, chosen from pip's own
listing of the sources it can reach."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parents[1] / "tools" / "install_torch.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_torch", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_newest_cpu_build_is_taken_from_pips_listing():
    tool = load_tool()
    listing = ("torch (2.14.1)\nAvailable versions: 2.14.1, 2.13.0+cpu, 2.12.1+cpu, 2.4.0\n"
               "  INSTALLED: 2.11.0+cpu\n")
    assert tool.newest_cpu_version(listing) == "2.13.0+cpu"
    assert tool.newest_cpu_version("Available versions: 2.14.1, 2.13.0\n") is None
    assert tool.newest_cpu_version("ERROR: No matching distribution found for torch\n") is None


def test_only_linux_without_a_gpu_asks_for_the_cpu_build():
    tool = load_tool()
    assert tool.wants_cpu_build("linux", nvidia=False)
    assert not tool.wants_cpu_build("linux", nvidia=True)
    assert not tool.wants_cpu_build("darwin", nvidia=False)  # MPS lives in the default build
    assert not tool.wants_cpu_build("win32", nvidia=False)  # PyPI's Windows build is the CPU one
