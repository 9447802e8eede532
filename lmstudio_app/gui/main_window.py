"""The main window: four pages in a sidebar, a status bar, menus with shortcuts.

The window knows its pages through small protocols (pages/page.py: a title, busy and why,
shut down; the Training menu's commands) and learns the run's state, device, resources and
allowed commands from AppState's signals, never from a page's widgets.

Closing while a run trains asks first; then the loop is told to stop at its next step
boundary, it saves, and the window closes once the run has reported that it finished
(the GUI thread never blocks on the worker). Every page's `shutdown()` runs before the window
goes, so no page leaves a thread running.
"""

from __future__ import annotations

import logging
import platform
from html import escape
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, Slot, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from .. import __version__
from .engine import EngineInfo
from .help_page import HelpDialog, help_html
from .pages.data.page import DataPage
from .pages.page import Page, TrainingPage
from .pages.playground.page import PlaygroundPage
from .pages.runs import RunsPage
from .pages.sweep import SweepPage
from .pages.train.page import TrainPage
from .state import AppState, TrainingControls
from .widgets.elided_label import ElidedLabel

log = logging.getLogger(__name__)

PAGE_NAMES = ("Data", "Train", "Playground", "Runs", "Sweep")
KEY_GEOMETRY = "window/geometry"
KEY_WINDOW_STATE = "window/state"
KEY_PAGE = "window/page"


def versions_text() -> str:
    """Python, PyTorch (and its CUDA), Qt and the plotting library, one per line."""
    import pyqtgraph
    import torch

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    if torch.cuda.is_available():
        cuda += f", {torch.cuda.device_count()} GPU(s) visible"
    return "\n".join([
        f"lmstudio_app {__version__}",
        f"Python {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"PyTorch {torch.__version__} ({cuda})",
        f"Qt {qVersion()} (PySide6 {pyside_version})",
        f"pyqtgraph {pyqtgraph.__version__}",
    ])


def about_text(state: AppState | None = None) -> str:
    """The About box: what the app is, its versions, and where it keeps its files."""
    where = "" if state is None else (
        f"<br><br>Prepared data: {escape(str(state.data_root))}<br>"
        f"Runs: {escape(str(state.runs_root))}<br>Log: {escape(str(state.log_path))}")
    return (
        "<b>lmstudio_app</b><br>Pretrain small GPT- and BERT-style language models on your "
        "own text, on your own machine.<br><br>"
        + versions_text().replace("\n", "<br>") + where
    )


def device_text(engine: EngineInfo | None) -> str:
    """The status bar's device: the one a new run would use, or what keeps it unknown."""
    if engine is None:
        return "Loading the engine (PyTorch)…"
    if engine.error:
        return f"The engine did not load: {engine.error}"
    return engine.default


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("lmstudio_app")
        self.help_dialog: HelpDialog | None = None
        self._closing = False  # the user agreed to close (asked once)
        self._asked = False  # waiting for the training loop to stop before closing

        self.train_page: TrainingPage = TrainPage(state)
        pages: list[Page] = [DataPage(state), self.train_page, PlaygroundPage(state),
                             RunsPage(state), SweepPage(state)]
        self.pages: dict[str, Page] = {page.title: page for page in pages}
        assert tuple(self.pages) == PAGE_NAMES

        self.sidebar = QListWidget()
        self.sidebar.addItems(list(PAGE_NAMES))
        self.sidebar.setFixedWidth(130)
        self.sidebar.setObjectName("sidebar")
        # Spacing only: colours stay the palette's, so light and dark themes both work.
        self.sidebar.setStyleSheet("QListWidget#sidebar::item { padding: 7px 10px; }")
        self.stack = QStackedWidget()
        for name in PAGE_NAMES:
            self.stack.addWidget(self.pages[name].widget())
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.device_label = ElidedLabel(device_text(state.engine()))
        self.device_label.setToolTip("The device training uses")
        state.sig_engine_ready.connect(self._on_engine_ready)
        self.run_label = ElidedLabel("Idle")
        self.statusBar().addPermanentWidget(self.run_label)
        # What the training run takes (process memory; GPU memory and utilisation on CUDA).
        self.resources_label = ElidedLabel("")
        self.resources_label.setToolTip("Memory of this process (and of the GPU, with its "
                                        "utilisation) at the last logged step")
        self.statusBar().addPermanentWidget(self.resources_label)
        state.sig_run_resources.connect(self.resources_label.setText)
        self.statusBar().addPermanentWidget(self.device_label)

        self._build_actions()
        state.sig_status.connect(self._show_status)
        state.sig_show_page.connect(self.show_page)
        state.sig_open_run.connect(lambda _p: self.show_page("Train"))
        state.sig_resume_run.connect(lambda _p: self.show_page("Train"))
        state.sig_compare_run.connect(lambda _p: self.show_page("Train"))
        state.sig_use_run.connect(lambda _p: self.show_page("Playground"))
        state.sig_use_checkpoint.connect(lambda _p, _s: self.show_page("Playground"))
        state.sig_run_line.connect(self.run_label.setText)
        state.sig_run_device.connect(self.device_label.setText)
        # Between runs, show the device a new run would use (a run on the CPU uses a core less).
        self._idle_device = self.device_label.text()
        state.sig_run_finished.connect(self._on_run_finished)
        state.sig_training_controls.connect(self._update_actions)
        self._restore()
        self._update_actions(state.training_controls)

    # -- actions and shortcuts -----------------------------------------------------------------

    def _action(self, text: str, shortcut: str | QKeySequence | QKeySequence.StandardKey | None,
                slot: Any) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever page has the focus
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))

        view_menu = menu.addMenu("&View")
        self.page_actions = []
        for i, name in enumerate(PAGE_NAMES):
            action = self._action(f"&{name}", f"Ctrl+{i + 1}",
                                  lambda _c=False, n=name: self.show_page(n))
            view_menu.addAction(action)
            self.page_actions.append(action)

        train_menu = menu.addMenu("&Training")
        self.start_action = self._action("&Start", "Ctrl+Return", self.start_training)
        self.pause_action = self._action("&Pause", "Ctrl+P", self.train_page.pause)
        self.resume_action = self._action("&Resume", "Ctrl+R", self.train_page.resume)
        self.stop_action = self._action("S&top (save)", "Ctrl+.", self.train_page.stop)
        for a in (self.start_action, self.pause_action, self.resume_action, self.stop_action):
            train_menu.addAction(a)

        help_menu = menu.addMenu("&Help")
        self.help_action = self._action("&Help", QKeySequence.StandardKey.HelpContents,
                                        self.show_help)
        help_menu.addAction(self.help_action)
        help_menu.addAction(self._action("&About", None, self.show_about))

    @Slot(object)
    def _on_engine_ready(self, engine: EngineInfo) -> None:
        self._idle_device = device_text(engine)
        if self.state.training_run is None:
            self.device_label.setText(self._idle_device)

    @Slot(object, str)
    def _on_run_finished(self, *_: object) -> None:
        self.device_label.setText(self._idle_device)
        if self._asked:  # closing waited for the run to stop and save
            self._asked = False
            self.setEnabled(True)
            self.close()

    @Slot(object)
    def _update_actions(self, controls: TrainingControls) -> None:
        self.start_action.setEnabled(controls.start)
        self.pause_action.setEnabled(controls.pause)
        self.resume_action.setEnabled(controls.resume)
        self.stop_action.setEnabled(controls.stop)

    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGE_NAMES.index(name))

    def current_page(self) -> str:
        return PAGE_NAMES[self.stack.currentIndex()]

    @Slot()
    def start_training(self) -> None:
        self.show_page("Train")
        if not self.train_page.start():
            self._show_status(self.train_page.start_refusal())

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(self, "About lmstudio_app", about_text(self.state))

    @Slot()
    def show_help(self) -> None:
        """F1: the help page (one window, raised again if it is open)."""
        if self.help_dialog is None:
            self.help_dialog = HelpDialog(help_html(self.state.data_root, self.state.runs_root,
                                                    self.state.log_path), self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        self.help_dialog.activateWindow()

    @Slot(str)
    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # -- geometry ------------------------------------------------------------------------------

    def _restore(self) -> None:
        geometry = self.state.value(KEY_GEOMETRY)
        if isinstance(geometry, (QByteArray, bytes)) and geometry:
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1280, 820)
        window_state = self.state.value(KEY_WINDOW_STATE)
        if isinstance(window_state, (QByteArray, bytes)) and window_state:
            self.restoreState(QByteArray(window_state))
        page = self.state.value(KEY_PAGE, 0, int)
        self.sidebar.setCurrentRow(page if 0 <= page < len(PAGE_NAMES) else 0)

    def _save(self) -> None:
        self.state.set_value(KEY_GEOMETRY, self.saveGeometry())
        self.state.set_value(KEY_WINDOW_STATE, self.saveState())
        self.state.set_value(KEY_PAGE, self.stack.currentIndex())
        self.state.settings.sync()

    # -- closing -------------------------------------------------------------------------------

    def busy_reasons(self) -> list[str]:
        out = []
        for name, page in self.pages.items():
            reason = page.busy()
            if reason:
                out.append(f"{name}: {reason}")
        return out

    def confirm_close(self, reasons: list[str]) -> bool:
        """Ask before closing while work is in progress."""
        answer = QMessageBox.question(
            self, "Quit while working?",
            "Work is in progress:\n\n" + "\n".join(reasons)
            + "\n\nStop it, save, and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self._closing:
            reasons = self.busy_reasons()
            if reasons and not self.confirm_close(reasons):
                event.ignore()
                return
            self._closing = True
        if self.state.training_run is not None:
            # Stop at the next step boundary; the loop saves; close again once it has ended
            # (_on_run_finished).
            self._asked = True
            self.train_page.stop()
            self.statusBar().showMessage("Stopping training and saving before closing…")
            self.setEnabled(False)
            event.ignore()
            return
        self._save()
        for page in self.pages.values():
            page.shutdown()
        self.state.shutdown()
        event.accept()
        super().closeEvent(event)


def screen_fit(window: QMainWindow) -> None:
    """Keep a restored window on a visible screen (a monitor may have gone since)."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return
    available = screen.availableGeometry()
    if not available.intersects(window.frameGeometry()):
        window.move(available.topLeft())
