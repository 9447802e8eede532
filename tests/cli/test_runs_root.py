"""The command line and the window share one runs root: what one trains, the other lists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from PySide6.QtCore import QSettings

from lmstudio_app.core.util.home import HOME_ENV
from lmstudio_app.gui.state import AppState

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set",
        "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=4", "--set",
        "eval_batches=2"]


def test_a_run_made_without_out_is_listed_where_the_window_looks(prepared_data, tmp_path,
                                                                  monkeypatch):
    shutil.copytree(prepared_data, tmp_path / "data")
    home = tmp_path / "apphome"
    env = {**os.environ, HOME_ENV: str(home)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lmstudio_app", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    made = cli("pretrain", "--data", "data", "--max-steps", "4", "--name", "shared", *TINY)
    assert made.returncode == 0, made.stderr
    assert not (tmp_path / "runs").exists()  # no longer a folder beside wherever one stands

    listed = json.loads(cli("runs", "--json").stdout)
    assert [r["name"].endswith("shared") for r in listed] == [True]
    monkeypatch.setenv(HOME_ENV, str(home))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = AppState(settings=settings)
    assert [p.parent for p in window.runs_root.iterdir()] == [window.runs_root]
    assert str(window.runs_root / listed[0]["name"]) == listed[0]["path"]
