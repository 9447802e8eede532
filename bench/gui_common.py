"""Shared set-up for the window benchmarks: a prepared sample corpus and an offscreen window.

The sample corpus is prepared once into the temporary folder and reused by later runs (prepare
notices unchanged sources and settings).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# As the app does (gui/app.py calm_cpu_threads): both sides of a comparison run with it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.core.data.tokenizer import TokenizerSpec
from lmstudio_app.gui.find import choose
from lmstudio_app.gui.pages.train.model_form import FIELDS

CACHE = Path(tempfile.gettempdir()) / "lmstudio_app-bench"
SETTING_KEYS = {f.key for f in FIELDS}  # the Train page's setting boxes


def sample_data(vocab_size: int = 2000) -> Path:
    """The bundled sample corpus, prepared (unigram tokenizer) and cached between runs."""
    out = CACHE / f"sample-unigram-{vocab_size}"
    cfg = PrepareConfig(sources=[str(sample_corpus())], out_dir=str(out),
                        tokenizer=TokenizerSpec(kind="unigram", vocab_size=vocab_size))
    return Path(prepare(cfg).out_dir)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def train_window(data: Path, home: Path, fields: dict) -> tuple:
    """An offscreen main window on its Train page, set to train the tiny preset on the CPU over
    `data` with `fields` (those the form shows) filled in. Returns (window, page, state)."""
    from PySide6.QtCore import QSettings

    from lmstudio_app.gui.main_window import MainWindow
    from lmstudio_app.gui.state import AppState

    state = AppState(QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat), home)
    window = MainWindow(state)
    window.resize(1280, 820)
    window.show()
    window.show_page("Train")
    page = window.train_page
    state.sig_data_ready.emit(data)
    choose(page, "Device", "cpu")
    choose(page, "Preset", "tiny")
    for key, value in fields.items():
        if key in SETTING_KEYS:
            page.set_field(key, value)
    return window, page, state
