"""The platform-plugin check: `lmstudio-app` names missing system libraries instead of letting
Qt abort. Real plugins, real ldd, real subprocesses; the failure is a copy of PySide6's own xcb
plugin whose DT_NEEDED entry for libxcb-cursor was renamed to a library that does not exist."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmstudio_app.gui.platform_check import (
    PROVIDERS,
    candidate_platforms,
    check_plugins,
    install_advice,
    platform_problem,
    unresolved_libraries,
)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None,
    reason="the check asks the Linux dynamic loader through ldd")

ABSENT = "libxcb-absent.so.0"  # as long as libxcb-cursor.so.0, so the ELF stays valid


def pyside_qt() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "Qt"


def base_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no display variables from the machine running the tests."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": os.environ.get(
                "PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


@pytest.fixture
def broken_plugins(tmp_path: Path) -> Path:
    """A Qt plugin folder whose xcb plugin needs a library no system has (for QT_PLUGIN_PATH).

    Qt/lib beside it links to PySide6's, so the plugin's RUNPATH ($ORIGIN/../../lib) resolves
    and the renamed library is the only thing the loader cannot find.
    """
    real = pyside_qt() / "plugins" / "platforms" / "libqxcb.so"
    data = real.read_bytes()
    needed = b"libxcb-cursor.so.0\x00"
    assert data.count(needed) == 1, "the xcb plugin no longer links libxcb-cursor"
    root = tmp_path / "Qt"
    (root / "plugins" / "platforms").mkdir(parents=True)
    (root / "lib").symlink_to(pyside_qt() / "lib")
    plugin = root / "plugins" / "platforms" / "libqxcb.so"
    plugin.write_bytes(data.replace(needed, ABSENT.encode() + b"\x00"))
    return root / "plugins"


def test_the_platforms_qt_tries_follow_its_rules():
    assert candidate_platforms({}) == []
    assert candidate_platforms({"DISPLAY": ":0"}) == ["xcb"]
    assert candidate_platforms({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == [
        "wayland", "xcb"]
    assert candidate_platforms({"XDG_SESSION_TYPE": "wayland"}) == ["wayland"]
    assert candidate_platforms({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb:dpi=96"}) == [
        "wayland", "xcb"]
    assert candidate_platforms({"QT_QPA_PLATFORM": "offscreen"}) == ["offscreen"]


def test_advice_names_debian_and_fedora_packages_once_each():
    advice = install_advice(("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-shm.so.0",
                             "libxcb-sync.so.1", "libfoo.so.3"))
    assert "apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-shm0 libxcb-sync1`" in advice
    assert "dnf install xcb-util-cursor xcb-util-wm libxcb`" in advice  # libxcb named once
    assert "libfoo.so.3" in advice and "apt-file search" in advice
    assert "PySide6" in install_advice(("libQt6XcbQpa.so.6",))


@linux_only
def test_the_installed_xcb_plugin_finds_every_library(tmp_path):
    """On a machine with the README's packages (CI installs them) nothing is missing."""
    env = {**base_env(tmp_path), "DISPLAY": ":0"}
    [xcb] = check_plugins(env)
    assert xcb.path == pyside_qt() / "plugins" / "platforms" / "libqxcb.so"
    assert xcb.missing == (), (
        f"missing {xcb.missing}: install the packages README.md's System requirements name")
    assert platform_problem(env) is None
    started = time.perf_counter()
    platform_problem(env)
    assert time.perf_counter() - started < 1.0  # one ldd; about 20 ms on 2 cores


@linux_only
def test_a_missing_library_is_named_with_its_packages(tmp_path, broken_plugins):
    plugin = broken_plugins / "platforms" / "libqxcb.so"
    assert unresolved_libraries(plugin, os.environ) == (ABSENT,)
    env = {**base_env(tmp_path), "DISPLAY": ":0", "QT_PLUGIN_PATH": str(broken_plugins)}
    problem = platform_problem(env)
    assert problem is not None and "\n" not in problem
    assert "xcb platform plugin cannot load" in problem and ABSENT in problem
    # Qt falls back from QT_QPA_PLATFORM_PLUGIN_PATH to the installed plugin, and so does the
    # check; a plugin that draws off-screen needs nothing from the display's libraries.
    fallback = {**base_env(tmp_path), "DISPLAY": ":0",
                "QT_QPA_PLATFORM_PLUGIN_PATH": str(broken_plugins / "platforms")}
    assert platform_problem(fallback) is None
    assert platform_problem({**env, "QT_QPA_PLATFORM": "offscreen"}) is None
    assert "no platform plugin named nosuch" in platform_problem(
        {**env, "QT_QPA_PLATFORM": "nosuch"})


@linux_only
def test_lmstudio_app_exits_2_with_one_line_where_qt_would_abort(tmp_path, broken_plugins):
    env = {**base_env(tmp_path), "DISPLAY": ":0", "QT_PLUGIN_PATH": str(broken_plugins)}
    bare = subprocess.run(
        [sys.executable, "-c", "from PySide6.QtWidgets import QApplication; QApplication([])"],
        env=env, capture_output=True, text=True, timeout=60)
    assert bare.returncode == -signal.SIGABRT, bare.stderr  # what users met: a core dump
    assert 'Could not load the Qt platform plugin "xcb"' in bare.stderr

    ours = subprocess.run([sys.executable, "-m", "lmstudio_app"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert ours.returncode == 2 and ours.stdout == ""
    lines = ours.stderr.splitlines()
    assert len(lines) == 1, ours.stderr
    assert lines[0].startswith("error: the window cannot start: ") and ABSENT in lines[0]


def test_without_a_display_lmstudio_app_says_so(tmp_path):
    ours = subprocess.run([sys.executable, "-m", "lmstudio_app"], env=base_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert ours.returncode == 2 and ours.stdout == ""
    assert len(ours.stderr.splitlines()) == 1 and "no display found" in ours.stderr


def test_every_library_in_the_table_is_a_system_library():
    """The table maps sonames to packages; PySide6's own libraries are never in it."""
    bundled = {p.name for p in (pyside_qt() / "lib").glob("lib*.so*")}
    assert not bundled & set(PROVIDERS)
    assert all(".so." in soname for soname in PROVIDERS)
