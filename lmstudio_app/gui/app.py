"""The desktop app's entry point: main(argv) -> exit status.

Sets the organisation and application names (which QSettings and the data folder use), the
window icon, the Fusion style (it follows the system palette, light or dark), a log file in the
app's data folder, and a hook that logs any uncaught exception and shows it as a readable
message instead of ending the program.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from ..core.errors import UserError
from ..core.util.threads import calm_cpu_threads
from ..desktop_entry import icon_files
from .engine import EngineInfo
from .state import LOG_FILE

APP_NAME = "lmstudio_app"

log = logging.getLogger("lmstudio_app")


def app_icon() -> QIcon:
    """The window icon: the SVG and its hicolor sizes, the files the desktop entry installs."""
    icon = QIcon()
    for _, path in icon_files():
        if path.is_file():
            icon.addFile(str(path))
    return icon


def setup_logging(home: Path) -> Path:
    """Log to <home>/lmstudio_app.log (rotated) and to stderr; returns the log file's path."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOG_FILE
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_lmstudio_app", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    file_handler._lmstudio_app = True  # type: ignore[attr-defined]
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.WARNING)
    stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stream._lmstudio_app = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    root.addHandler(stream)
    return path


class ExceptionReporter:
    """sys.excepthook (and threading.excepthook): log the traceback, show one readable message.

    A UserError is the user's to fix and shows as a warning; anything else is a bug: the log
    keeps the traceback, the message names the log file. The program keeps running.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.shown: list[str] = []  # messages shown (the tests read them)
        self._showing = False
        self._boxes: list[QMessageBox] = []

    def install(self) -> None:
        sys.excepthook = self.handle
        threading.excepthook = self._thread_hook

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def message_for(self, exc: BaseException) -> str:
        if isinstance(exc, UserError):
            return str(exc)
        return (f"Something went wrong: {type(exc).__name__}: {exc}\n\n"
                f"The program goes on; details are in {self.log_path}.")

    def handle(self, exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        if isinstance(exc, UserError):
            log.warning("%s", exc)
        else:
            log.error("uncaught exception:\n%s", text)
        message = self.message_for(exc)
        self.shown.append(message)
        app = QApplication.instance()
        if app is None or threading.current_thread() is not threading.main_thread():
            if app is not None:  # show it from the GUI thread
                QTimer.singleShot(0, app, lambda: self._show(message, exc))
            return
        self._show(message, exc)

    def _show(self, message: str, exc: BaseException) -> None:
        if self._showing:  # an error while showing an error: the log has it
            return
        self._showing = True
        try:
            parent = QApplication.activeWindow()
            box = QMessageBox(parent)
            box.setIcon(QMessageBox.Icon.Warning if isinstance(exc, UserError)
                        else QMessageBox.Icon.Critical)
            box.setWindowTitle(APP_NAME)
            box.setText(message)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            # Keep a reference until it is closed: a parentless box would be collected at once.
            self._boxes.append(box)
            box.finished.connect(lambda _r, b=box: self._boxes.remove(b))
            box.open()  # modal without a nested event loop
        finally:
            self._showing = False


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the project's names, style and icon (reused if one exists)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv)
    assert isinstance(app, QApplication)
    app.setOrganizationName(APP_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("lmstudio_app")
    app.setDesktopFileName("lmstudio_app")
    # Fusion draws with the palette Qt takes from the system (light or dark); no fixed colours.
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    return app


def gui_thread_garbage_collection() -> Any:
    """Python's cycle collector, run by a timer in the GUI thread only (pyqtgraph's
    GarbageCollector): left automatic, it may run in a worker thread (training, an import)
    and destroy a Qt object there, such as a closed plot's menus, which deadlocks or crashes
    the process. Keep the object returned alive while the app runs."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=1.0)


def display_problem() -> str | None:
    """Why no window can open here (a Linux session without a display), or None."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display found (DISPLAY and WAYLAND_DISPLAY are unset): start lmstudio-app from "
            "a desktop session, or use the command line without a window: "
            "`lmstudio-app --help`, or `lmstudio-app demo` for the sample pipeline.")


def _log_engine(engine: EngineInfo) -> None:
    if engine.error:
        log.error("the engine did not load: %s", engine.error)
    else:
        log.info("engine loaded; devices: %s", ", ".join(d.description for d in engine.devices))


def main(argv: list[str] | None = None) -> int:
    """Open the window; returns the exit status."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    calm_cpu_threads()  # a no-op when __main__ ran it first
    app = create_app(argv)
    collector = gui_thread_garbage_collection()
    from .main_window import MainWindow, screen_fit
    from .state import AppState

    state = AppState()
    state.defer_engine()  # PyTorch loads after the first frame (see first_frame.py)
    for folder in (state.home, state.data_root, state.runs_root):
        folder.mkdir(parents=True, exist_ok=True)
    log_path = setup_logging(state.home)
    reporter = ExceptionReporter(log_path)
    reporter.install()
    log.info("starting lmstudio_app %s; prepared data in %s, runs in %s, this log in %s",
             __version__, state.data_root, state.runs_root, log_path)

    window = MainWindow(state)
    window.setWindowIcon(app.windowIcon())
    screen_fit(window)
    from .first_frame import StartupProbe, probe_seconds, when_painted

    seconds = probe_seconds()
    if seconds is not None:
        state.sig_engine_ready.connect(StartupProbe(window, seconds).engine_ready)
    state.sig_engine_ready.connect(_log_engine)
    when_painted(window, state.load_engine_in_background)
    window.show()
    status = app.exec()
    collector.timer.stop()
    log.info("exiting with status %s", status)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
