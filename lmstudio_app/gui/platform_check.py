"""Can Qt's platform plugin load here? Asked before the first Qt import, answered without Qt.

On Linux, QApplication loads a platform plugin (xcb for X11, wayland for Wayland) and aborts the
process (SIGABRT, no Python exception) when none of the plugins it tries can be loaded, most
often because a system library the plugin links is absent: Qt >= 6.5's xcb plugin needs
libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1, which many minimal desktops lack. This module
decides which plugins Qt will try (the rules of QGuiApplication's init_platform), finds each in the
installed PySide6 and asks the dynamic loader, through `ldd`, which of the libraries it needs,
directly or through the libraries it links (libQt6Gui's libEGL, libfontconfig, ...), cannot be
found. The answer is one line naming those libraries and the Debian/Ubuntu and Fedora packages
that provide them.

No Qt import here, at module level or below: this runs where importing Qt could abort.
About 20-40 ms (one `ldd` per candidate plugin).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The one table of system libraries the window needs: soname -> (Debian/Ubuntu package, Fedora
# package). Every library that PySide6's platform plugins (xcb, wayland, the xcb GL integrations)
# and QtGui/QtWidgets link from the system; the rest (libc, libstdc++, zlib, ...) is in every
# base system. tests/gui/test_platform_check.py keeps it true against dpkg and the README.
PROVIDERS: dict[str, tuple[str, str]] = {
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
}

# Plugins that draw into memory or a framebuffer: nothing beyond what importing QtGui needs.
_NO_DISPLAY_PLUGINS = {"offscreen", "minimal", "minimalegl", "linuxfb", "vnc", "eglfs"}

_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")


@dataclass(frozen=True)
class PluginCheck:
    """One platform plugin and the sonames the loader cannot find for it (empty: it loads)."""

    name: str
    path: Path | None  # None: no plugin file of that name was found
    missing: tuple[str, ...]

    @property
    def loads(self) -> bool:
        """Whether Qt can load it: off-screen plugins always, others when nothing is missing."""
        return self.name in _NO_DISPLAY_PLUGINS or (self.path is not None and not self.missing)


def candidate_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order; [] when no window system is reachable.

    QT_QPA_PLATFORM ("wayland;xcb", "xcb:option=value") is taken as Qt takes it. Otherwise Qt 6
    tries wayland first in a Wayland session and xcb when an X display is set (XWayland too).
    With neither, there is nothing to check: app.display_problem() explains that case.
    """
    forced = env.get("QT_QPA_PLATFORM", "").strip()
    if forced:
        return [item.split(":", 1)[0].strip() for item in forced.split(";") if item.strip()]
    order = []
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        order.append("wayland")
    if env.get("DISPLAY") or env.get("XDG_SESSION_TYPE") == "x11":
        order.append("xcb")
    return order


def plugin_dirs(env: Mapping[str, str]) -> tuple[list[Path], list[Path]]:
    """Where Qt looks for platform plugins: (QT_QPA_PLATFORM_PLUGIN_PATH, the library paths).

    The library paths are each QT_PLUGIN_PATH entry's platforms/ folder, then the installed
    PySide6's (found without importing it).
    """
    first = [Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])] if env.get(
        "QT_QPA_PLATFORM_PLUGIN_PATH") else []
    rest = [Path(entry) / "platforms"
            for entry in env.get("QT_PLUGIN_PATH", "").split(os.pathsep) if entry]
    spec = importlib.util.find_spec("PySide6")
    for root in (spec.submodule_search_locations or []) if spec else []:
        rest.append(Path(root) / "Qt" / "plugins" / "platforms")
    return first, rest


def plugin_files(name: str, env: Mapping[str, str]) -> list[Path]:
    """The plugin files Qt tries for a platform name, in order: the one in
    QT_QPA_PLATFORM_PLUGIN_PATH, then the first one in the library paths (QPlatformIntegration-
    Factory::create). wayland-egl and wayland-brcm live in libqwayland."""
    stem = "wayland" if name.startswith("wayland") else name
    tried = []
    for dirs in plugin_dirs(env):
        found = [folder / f"libq{stem}.so" for folder in dirs
                 if (folder / f"libq{stem}.so").is_file()]
        tried += found[:1]
    return tried


def unresolved_libraries(path: Path, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """Sonames the dynamic loader cannot find for `path` or any library it pulls in, in ldd's
    order; None when that cannot be asked (no ldd, or ldd refuses the file)."""
    ldd = shutil.which("ldd", path=env.get("PATH"))
    if ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=10,
                             env=dict(env))
    except (OSError, subprocess.TimeoutExpired):
        return None
    missing: list[str] = []
    for line in out.stdout.splitlines():
        match = _LDD_LINE.match(line)
        if match and match.group(2) == "not found" and match.group(1) not in missing:
            missing.append(match.group(1))
    if out.returncode != 0 and not missing:
        return None
    return tuple(missing)


def check_plugins(env: Mapping[str, str]) -> list[PluginCheck]:
    """Each plugin Qt will try, with what it lacks; plugins that draw off-screen are not asked.

    A platform loads when any file Qt tries for it does; otherwise the last one tried (usually
    the installed PySide6's) is reported.
    """
    checks = []
    for name in candidate_platforms(env):
        if name in _NO_DISPLAY_PLUGINS:
            checks.append(PluginCheck(name, None, ()))
            continue
        check = PluginCheck(name, None, ())
        for path in plugin_files(name, env):
            # When ldd cannot be asked, nothing is known to be missing: Qt gets to try.
            check = PluginCheck(name, path, unresolved_libraries(path, env) or ())
            if check.loads:
                break
        checks.append(check)
    return checks


def install_advice(sonames: tuple[str, ...]) -> str:
    """The commands that install the packages providing `sonames` (Debian/Ubuntu, Fedora)."""
    known = [PROVIDERS[s] for s in sonames if s in PROVIDERS]
    qt_own = [s for s in sonames if s.startswith("libQt6")]
    unknown = [s for s in sonames if s not in PROVIDERS and s not in qt_own]
    parts = []
    if qt_own:
        parts.append(", ".join(qt_own) + " belong to PySide6: reinstall it "
                     "(`pip install --force-reinstall PySide6-Essentials`)")
    if known:
        debian = " ".join(dict.fromkeys(d for d, _ in known))
        fedora = " ".join(dict.fromkeys(f for _, f in known))
        parts.append(f"on Debian/Ubuntu `sudo apt-get install {debian}`, "
                     f"on Fedora `sudo dnf install {fedora}`")
    if unknown:
        parts.append("find the package of " + ", ".join(unknown)
                     + " with `apt-file search` or `dnf provides '*/NAME'`")
    return "; ".join(parts)


def platform_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why Qt's platform plugin would fail to load (one line), or None when it will load, when
    this is not Linux, or when nothing can be checked (no display: see app.display_problem).

    The line names the missing libraries and the packages to install; it never raises.
    """
    if not sys.platform.startswith("linux"):
        return None
    env = os.environ if env is None else env
    checks = check_plugins(env)
    if not checks or any(c.loads for c in checks):
        return None
    found = [c for c in checks if c.path is not None]
    if not found:
        names = ", ".join(c.name for c in checks)
        return (f"Qt has no platform plugin named {names} (QT_QPA_PLATFORM="
                f"{env.get('QT_QPA_PLATFORM', '')}): unset QT_QPA_PLATFORM or set it to xcb, "
                f"wayland or offscreen; reinstalling PySide6 restores missing plugins.")
    # The plugin needing the fewest packages: installing those is enough for Qt to start.
    best = min(found, key=lambda c: len(c.missing))
    return (f"Qt's {best.name} platform plugin cannot load: these system libraries are missing: "
            f"{', '.join(best.missing)}. Install them: {install_advice(best.missing)}. "
            f"The command line works without a window: `lmstudio-app --help`.")
