"""The engine and the command line never import Qt."""

from __future__ import annotations

import subprocess
import sys


def test_engine_and_cli_import_no_qt():
    code = (
        "import sys, pkgutil, importlib, lmstudio_app.core as core, lmstudio_app.cli as cli\n"
        "for pkg in (core, cli):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import lmstudio_app.__main__\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
