"""The main window: pages, status bar, shortcuts, About, geometry, and closing mid-training."""

from __future__ import annotations

import json
import platform

import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QTimer, qVersion
from PySide6.QtWidgets import QApplication, QMessageBox

from lmstudio_app.core import runs
from lmstudio_app.core.util.device import describe_device
from lmstudio_app.gui.find import choose
from lmstudio_app.gui.main_window import PAGE_NAMES, MainWindow, about_text
from lmstudio_app.gui.state import AppState, TrainingControls

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
        "log_interval": 1, "max_steps": 5000, "eval_interval": 1000}


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, tmp_path, settings):
    state = AppState(settings, tmp_path / "home")
    w = MainWindow(state)
    qtbot.addWidget(w)
    w.show()
    yield w
    if w.isVisible():
        w.train_page.stop()
        w.close()
    for page in w.pages.values():  # idempotent: no page may leave a thread behind
        page.shutdown()


def answer_next_box(button: QMessageBox.StandardButton, asked: list[str]) -> None:
    """Click `button` on the next message box once it is shown."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, click)

    QTimer.singleShot(20, click)


def start_tiny_training(qtbot, w: MainWindow, data) -> None:
    w.state.sig_data_ready.emit(data)
    page = w.train_page
    choose(page, "Device", "cpu")
    for key, value in TINY.items():
        page.set_field(key, value)
    steps = []
    w.state.sig_run_progress.connect(lambda _run, step, _max: steps.append(step))
    with qtbot.waitSignal(w.state.sig_run_started, timeout=30000):
        w.start_action.trigger()  # Ctrl+Return
    qtbot.waitUntil(lambda: bool(steps) and steps[-1] >= 3, timeout=60000)


def test_opens_with_four_pages_and_the_device(window):
    assert PAGE_NAMES == ("Data", "Train", "Playground", "Runs", "Sweep")
    assert window.sidebar.count() == 5 and window.stack.count() == 5
    assert window.device_label.text() == describe_device(torch.device("cpu"))
    assert window.device_label.text().startswith("CPU: ")
    for i, action in enumerate(window.page_actions):
        assert action.shortcut().toString() == f"Ctrl+{i + 1}"
        action.trigger()
        assert window.current_page() == PAGE_NAMES[i]
    assert window.stop_action.shortcut().toString() == "Ctrl+."
    assert window.start_action.shortcut().toString() == "Ctrl+Return"
    assert not window.start_action.isEnabled()  # no data yet


def test_about_names_python_pytorch_qt_and_where_the_files_live(window):
    text = about_text(window.state)
    assert f"Python {platform.python_version()}" in text
    assert f"PyTorch {torch.__version__}" in text
    assert f"Qt {qVersion()}" in text
    assert ("CUDA" in text) or ("CPU build" in text)
    state = window.state
    for label, path in (("Prepared data", state.data_root), ("Runs", state.runs_root),
                        ("Log", state.home / "lmstudio_app.log")):
        assert f"{label}: {path}" in text


def test_f1_opens_a_help_page_on_the_pages_and_curves(qtbot, window):
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.help_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.browser.toPlainText()
    for name in ("Data", "Train", "Playground", "Runs", "validation", "lr", "tokens/s",
                 "Prepare", "Start", str(window.state.runs_root)):
        assert name in text, name
    qtbot.keyClick(window, Qt.Key.Key_F1)  # again: the same window, not a second one
    assert window.help_dialog is dialog
    dialog.close()


def test_geometry_and_page_are_restored(qtbot, tmp_path, settings):
    state = AppState(settings, tmp_path / "home")
    first = MainWindow(state)
    qtbot.addWidget(first)
    first.show()
    first.resize(first.width(), 500)  # the offscreen screen is 800 x 600
    first.show_page("Runs")
    first.close()
    assert settings.value("window/geometry")
    second = MainWindow(AppState(settings, tmp_path / "home"))
    qtbot.addWidget(second)
    assert second.size().height() == 500
    assert second.current_page() == "Runs"
    second.close()


def test_closing_while_training_asks_then_stops_saves_and_joins(qtbot, window, prepared_data):
    start_tiny_training(qtbot, window, prepared_data)
    state = window.state
    run_dir = state.training_run
    assert "Training" in window.run_label.text()
    assert window.busy_reasons()

    asked: list[str] = []
    answer_next_box(QMessageBox.StandardButton.Cancel, asked)
    window.close()
    assert asked and "training" in asked[0]
    assert window.isVisible() and state.training_run == run_dir  # cancelled: nothing stopped

    asked.clear()
    answer_next_box(QMessageBox.StandardButton.Yes, asked)
    with qtbot.waitSignal(state.sig_run_finished, timeout=30000) as done:
        window.close()
    assert asked
    assert done.args[1] == "stopped"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert state.training_run is None and window.train_page.busy() is None
    stopped_at = window.run_label.text()  # "Idle (last run stopped at step 12)"
    status = json.loads((run_dir / runs.STATUS).read_text())
    assert status["state"] == "stopped"
    assert stopped_at == f"Idle (last run stopped at step {status['step']:,})"
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "state.pt").is_file()


def test_app_names_icon_and_uncaught_exceptions_are_logged_and_shown(qtbot, tmp_path):
    import logging

    from lmstudio_app.core.errors import UserError
    from lmstudio_app.gui.app import ExceptionReporter, app_icon, create_app, setup_logging

    app = create_app([])
    assert app.organizationName() == "lmstudio_app"
    assert app.applicationName() == "lmstudio_app"
    assert not app_icon().isNull() and not app_icon().pixmap(64, 64).isNull()
    log_path = setup_logging(tmp_path / "home")
    try:
        reporter = ExceptionReporter(log_path)
        try:
            raise ValueError("boom in a slot")
        except ValueError as exc:
            reporter.handle(type(exc), exc, exc.__traceback__)
        reporter.handle(UserError, UserError("n_head=3: choose another value."), None)
        for handler in logging.getLogger().handlers:
            handler.flush()
        logged = log_path.read_text()
        assert "boom in a slot" in logged and "Traceback" in logged
        assert "Something went wrong: ValueError: boom in a slot" in reporter.shown[0]
        assert str(log_path) in reporter.shown[0]
        assert reporter.shown[1] == "n_head=3: choose another value."
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.isVisible()]
        assert boxes
        for box in boxes:
            box.close()
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_lmstudio_app", False):
                root.removeHandler(handler)
                handler.close()


def test_use_in_playground_and_open_show_their_pages(window, engine_runs):
    window.state.sig_use_run.emit(engine_runs.gpt)
    assert window.current_page() == "Playground"
    window.state.sig_open_run.emit(engine_runs.gpt)
    assert window.current_page() == "Train"


def test_the_window_follows_the_app_states_facts_not_the_pages_widgets(window):
    """The Training menu, the run's line, its device and resources come from AppState's signals;
    a refused Start says the page's own reason in the status bar."""
    state = window.state
    assert (window.start_action.isEnabled(), window.stop_action.isEnabled()) == (False, False)
    state.sig_training_controls.emit(TrainingControls(pause=True, stop=True))
    assert [a.isEnabled() for a in (window.start_action, window.pause_action,
                                    window.resume_action, window.stop_action)] == [
        False, True, False, True]
    assert state.training_controls == TrainingControls(pause=True, stop=True)
    state.sig_run_line.emit("Training: step 3 / 9")
    state.sig_run_device.emit("CPU: 1 thread")
    state.sig_run_resources.emit("RAM 1.0 GiB")
    assert window.run_label.text() == "Training: step 3 / 9"
    assert window.device_label.text() == "CPU: 1 thread"
    assert window.resources_label.text() == "RAM 1.0 GiB"
    idle = describe_device(torch.device("cpu"))
    state.sig_run_finished.emit(state.runs_root / "gone", "stopped")
    assert window.device_label.text() == idle

    window.start_training()  # no prepared data yet: refused, and the page says why
    assert window.current_page() == "Train"
    reason = window.train_page.start_refusal()
    assert reason.startswith("No prepared data")
    assert window.statusBar().currentMessage() == reason
    assert [page.title for page in window.pages.values()] == list(PAGE_NAMES)
    assert all(page.busy() is None for page in window.pages.values())
