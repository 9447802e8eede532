"""Start-up: the window paints before PyTorch loads, then loads it without blocking.

Each test runs a fresh Python (this test process has PyTorch loaded already), offscreen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str, home: Path) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_window_is_built_without_pytorch_and_gets_it_in_the_background(tmp_path):
    out = _run("""
        import sys
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication, QComboBox, QLabel
        from lmstudio_app.gui.app import create_app
        from lmstudio_app.gui.find import labelled, named
        from lmstudio_app.gui.main_window import MainWindow
        from lmstudio_app.gui.state import AppState
        from lmstudio_app.core.data.samples import sample_corpus

        app = create_app([])
        state = AppState(QSettings("settings.ini", QSettings.Format.IniFormat), home=None)
        state.defer_engine()
        window = MainWindow(state)
        window.show()
        app.processEvents()
        page = window.train_page
        print("torch before:", "torch" in sys.modules)
        print("device:", window.device_label.text())
        print("size:", named(page, "Size", QLabel).text())
        ready = []
        state.sig_engine_ready.connect(ready.append)
        state.load_engine_in_background()
        while not ready:
            app.processEvents()
        print("torch after:", "torch" in sys.modules)
        print("device:", window.device_label.text())
        print("size:", named(page, "Size", QLabel).text())
        devices = labelled(page, "Device", QComboBox)
        print("devices:", [devices.itemData(i) for i in range(devices.count())])
        window.close()
    """, tmp_path)
    lines = out.splitlines()
    assert lines[0].startswith("torch before: False")
    assert lines[1] == "device: Loading the engine (PyTorch)…"
    assert lines[2] == "size: Parameters: counted once the engine has loaded"
    assert lines[3] == "torch after: True"
    assert lines[4].startswith("device: CPU: ")
    assert lines[5].startswith("size: Parameters: ") and "to train on CPU" in lines[5]
    assert "'cpu'" in lines[6]


def test_the_program_reports_its_first_frame_before_the_engine(tmp_path):
    """The probe bench/startup.py reads: first frame, then the engine, then the stall."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "LMSTUDIO_APP_STARTUP_PROBE": "0.5"}
    done = subprocess.run([sys.executable, "-m", "lmstudio_app"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = dict(line.split()[1:] for line in done.stdout.splitlines()
                   if line.startswith("startup "))
    assert float(figures["first_frame_epoch"]) > 0 and "max_stall_ms" in figures
    log = (tmp_path / "data" / "lmstudio_app" / "lmstudio_app.log").read_text()
    assert "runs in " + str(tmp_path / "data" / "lmstudio_app" / "runs") in log
