"""Commands that have nothing heavy to do answer without importing PyTorch or Qt (they took
5.5-6.6 s while the engine was imported first; bench/cli_start.py times them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lmstudio_app.cli.main import COMMANDS

PROBE = """
import sys
from lmstudio_app.__main__ import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("torch", "PySide6", "pyqtgraph") if m in sys.modules)
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


def heavy_imports(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                         timeout=120, check=False)
    lines = [line for line in out.stderr.splitlines() if line.startswith("HEAVY:")]
    assert lines, out.stderr
    return lines[-1].removeprefix("HEAVY:")


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)],
                         ids=lambda a: " ".join(a))
def test_help_imports_neither_torch_nor_qt(argv):
    assert heavy_imports(*argv) == ""


def test_runs_and_argument_errors_import_neither(tmp_path):
    assert heavy_imports("runs", "--root", str(tmp_path)) == ""
    assert heavy_imports("pretrain", "--max-steps", "x") == ""
    assert heavy_imports("generate", "--run", str(tmp_path / "missing"), "--checkpoint", "y") == ""
