"""The app's home folder: where the window and the command line keep prepared data and runs.

One rule for both faces, so that `lmstudio-app runs` lists what the window trained and the
window's Runs page shows what the command line trained: the environment variable
`LMSTUDIO_APP_HOME` when set, else `lmstudio_app` inside the platform's per-user data folder,
the same folder Qt's `QStandardPaths.GenericDataLocation` names (Linux: `$XDG_DATA_HOME`, by
default `~/.local/share`; macOS: `~/Library/Application Support`; Windows: `%LOCALAPPDATA%`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOME_ENV = "LMSTUDIO_APP_HOME"
APP_FOLDER = "lmstudio_app"
RUNS_FOLDER = "runs"
DATA_FOLDER = "data"


def platform_data_folder() -> Path:
    """The per-user data folder of this platform (not yet the app's own folder inside it)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) if local else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"


def default_home() -> Path:
    """`$LMSTUDIO_APP_HOME`, else the app's folder in the platform's data folder."""
    chosen = os.environ.get(HOME_ENV, "").strip()
    return Path(chosen).expanduser() if chosen else platform_data_folder() / APP_FOLDER


def default_runs_root() -> Path:
    """Where new runs go and where `runs` looks unless told otherwise: `<home>/runs`."""
    return default_home() / RUNS_FOLDER
