"""Screenshots of each page in a realistic state, for the documentation.

Opens the window offscreen on a temporary home, prepares the bundled sample corpus on the Data
page, trains a short run of the tiny preset on the Train page, loads it in the Playground and
asks for a continuation, and shows it on the Runs page. Saves docs/screenshots/data.png,
train.png, playground.png and runs.png.

    python tools/screenshots.py [--steps 300] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app does (gui/app.py)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QSettings, QSize  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

SIZE = QSize(1280, 820)


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Run the event loop until `condition()` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(window: QWidget, path: Path) -> None:
    settle()
    window.grab().save(str(path), "PNG")
    print(f"wrote {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from lmstudio_app.gui.app import create_app

    _app = create_app([])  # noqa: F841 (kept alive while the window exists)
    from lmstudio_app.gui.main_window import MainWindow
    from lmstudio_app.gui.state import AppState

    home = Path(tempfile.mkdtemp(prefix="lmstudio_app-screens-"))
    state = AppState(QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat), home)
    for folder in (state.home, state.data_root, state.runs_root):
        folder.mkdir(parents=True, exist_ok=True)
    window = MainWindow(state)
    window.resize(SIZE)
    window.show()

    # Data: the sample corpus listed on first start; prepare it with a small vocabulary.
    window.show_page("Data")
    data = window.pages["Data"]
    ready: list[Path] = []
    state.sig_data_ready.connect(lambda p: ready.append(Path(p)))
    if hasattr(data, "vocab_spin"):
        data.vocab_spin.setValue(2000)
    data.start_prepare()
    wait_for(lambda: bool(ready), 600, "the sample corpus to be prepared")
    settle(1.0)
    save(window, args.out / "data.png")

    # Train: the tiny preset on the CPU, a few hundred steps with evaluations and samples.
    window.show_page("Train")
    train = window.train_page
    train.device_box.setCurrentIndex(max(train.device_box.findData("cpu"), 0))
    train.preset_box.setCurrentIndex(train.preset_box.findData("tiny"))
    train.set_field("max_steps", args.steps)
    train.set_field("eval_interval", max(args.steps // 6, 1))
    train.set_field("log_interval", 1)
    done: list[str] = []
    train.session.sig_done.connect(lambda _run, reason: done.append(reason))
    if not train.start():
        raise SystemExit(f"cannot start training: {train.error_label.text()}")
    wait_for(lambda: bool(done), 1800, "the training run")
    if done[0] != "completed":
        raise SystemExit(f"training ended: {done[0]}: {train.error_label.text()}")
    train.curves.show_readout(args.steps * 0.6)
    save(window, args.out / "train.png")

    # Playground: the new run loaded, one continuation generated.
    window.show_page("Playground")
    play = window.pages["Playground"]
    run_dir = train.session.run_dir
    if hasattr(play, "use_run") and run_dir is not None:
        loaded: list[object] = []
        play.sig_model_loaded.connect(lambda p: loaded.append(p))
        play.use_run(run_dir)
        wait_for(lambda: bool(loaded), 120, "the model to load")
        replies: list[str] = []
        play.sig_reply_finished.connect(lambda outcome: replies.append(outcome))
        play.message_edit.setPlainText("It is a truth universally acknowledged")
        play.send()
        wait_for(lambda: bool(replies), 120, "the reply")
    save(window, args.out / "playground.png")

    # Runs: the table with the run just trained.
    window.show_page("Runs")
    runs_page = window.pages["Runs"]
    if hasattr(runs_page, "refresh"):
        runs_page.refresh()
        if run_dir is not None and hasattr(runs_page, "select_run"):
            wait_for(lambda: runs_page.select_run(run_dir), 30, "the runs list")
    save(window, args.out / "runs.png")

    window.close()
    settle(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
