"""`lmstudio-app --install-desktop` / `--uninstall-desktop`: the app in a Linux user's menu.

Install writes the desktop entry (packaging/lmstudio_app.desktop, its Exec= and TryExec= set to
the absolute path of the running launcher) to $XDG_DATA_HOME/applications/ and the icon to
$XDG_DATA_HOME/icons/hicolor/<N>x<N>/apps/ (PNG, 16-512 px) and scalable/apps/ (the SVG), as the
XDG Base Directory and Icon Theme specifications place them; XDG_DATA_HOME defaults to
~/.local/share. Every file is written atomically. Uninstall removes exactly those files.
Desktops watch these folders, so the entry appears in the menu without logging out.

No Qt here: the window's icon (gui/app.py) reads the same files through icon_files().
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .core.util.atomic import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DESKTOP_FILE = "lmstudio_app.desktop"  # the desktop id; gui/app.py sets the same desktopFileName
ICON_NAME = "lmstudio_app"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # px, square; the hicolor sizes desktops ask for

_CHECKOUT = Path(__file__).resolve().parents[1]  # the source tree, for editable installs


def packaging_files() -> Traversable:
    """The folder holding the desktop entry, the metainfo and the hicolor icons.

    A wheel (and a bundle) carries packaging/ inside the package as lmstudio_app/packaging; an
    editable install or a source checkout reads the repository's packaging/ folder.
    """
    inside = importlib.resources.files("lmstudio_app") / "packaging"
    return inside if (inside / DESKTOP_FILE).is_file() else _CHECKOUT / "packaging"


def _resources() -> Traversable:
    try:
        return importlib.resources.files("lmstudio_app.resources")
    except ModuleNotFoundError:  # a source checkout run without installing
        return _CHECKOUT / "resources"


def icon_files() -> list[tuple[str, Traversable]]:
    """(path under icons/hicolor/, source file) for each icon: the SVG, then PNGs large to small."""
    svg = _resources() / "icons" / f"{ICON_NAME}.svg"
    hicolor = packaging_files() / "icons" / "hicolor"
    files = [(f"scalable/apps/{ICON_NAME}.svg", svg)]
    for size in sorted(ICON_SIZES, reverse=True):
        rel = f"{size}x{size}/apps/{ICON_NAME}.png"
        files.append((rel, hicolor.joinpath(*rel.split("/"))))
    return files


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset, empty or relative (XDG spec)."""
    env = os.environ if env is None else env
    value = env.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def launcher_command() -> list[str]:
    """The absolute command that starts this installation of the app.

    A bundle's own executable; else the `lmstudio-app` script being run (or the one beside the
    interpreter, when started as `python -m lmstudio_app`); else `python -m lmstudio_app`.
    """
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).absolute())]
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "lmstudio-app" and argv0.is_file():
        return [str(argv0.absolute())]
    beside = Path(sys.executable).parent / "lmstudio-app"
    if beside.is_file():
        return [str(beside.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "lmstudio_app"]


def exec_quote(arg: str) -> str:
    """One argument of a desktop entry's Exec key, quoted as the Desktop Entry spec requires.

    Inside double quotes `"`, backquote, `$` and backslash take a backslash; then the value's
    own escaping doubles every backslash, and a literal % is written %%.
    """
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if arg and not reserved.intersection(arg):
        quoted = arg
    else:
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        quoted = f'"{inner}"'
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry_text(command: list[str]) -> str:
    """The packaged desktop entry with Exec= running `command` and TryExec= its executable."""
    template = (packaging_files() / DESKTOP_FILE).read_text(encoding="utf-8")
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            lines.append("Exec=" + " ".join(exec_quote(a) for a in command))
            # Menus hide the entry once this installation is gone (say, a deleted venv).
            lines.append("TryExec=" + exec_quote(command[0]))
        elif not line.startswith("TryExec="):
            lines.append(line)
    return "\n".join(lines) + "\n"


def installed_paths(home: Path) -> list[Path]:
    """Every file install() writes under the data folder `home`, the desktop entry first."""
    icons = home / "icons" / "hicolor"
    return [home / "applications" / DESKTOP_FILE] + [
        icons.joinpath(*rel.split("/")) for rel, _ in icon_files()]


def install(home: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the desktop entry and icons under `home` (default data_home()); returns the paths.

    Raises OSError when a file cannot be written (the ones already written stay, complete).
    """
    home = data_home() if home is None else home
    paths = installed_paths(home)
    atomic_write_text(paths[0], desktop_entry_text(command or launcher_command()))
    for path, (_, source) in zip(paths[1:], icon_files(), strict=True):
        atomic_write_bytes(path, source.read_bytes())
    return paths


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install() writes under `home`; returns the paths that were there."""
    home = data_home() if home is None else home
    removed = []
    for path in installed_paths(home):
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


def main(args: list[str]) -> int:
    """`--install-desktop` or `--uninstall-desktop` (alone); exit status 0, or 2 with one line."""
    if len(args) != 1 or args[0] not in ("--install-desktop", "--uninstall-desktop"):
        print(f"error: {args[0]} takes no other arguments", file=sys.stderr)
        return 2
    if not sys.platform.startswith("linux"):
        print(f"error: {args[0]} is for Linux desktops (freedesktop menus); on macOS and "
              "Windows install the app bundle instead (packaging/README.md)", file=sys.stderr)
        return 2
    try:
        if args[0] == "--install-desktop":
            paths = install()
            print(f"installed {paths[0]} and {len(paths) - 1} icons under "
                  f"{paths[1].parents[2]}; remove them with `lmstudio-app --uninstall-desktop`")
        else:
            removed = uninstall()
            print(f"removed {len(removed)} files" + (f" ({removed[0]}, ...)" if removed else
                                                      " (nothing was installed)"))
    except OSError as exc:
        verb = "write" if args[0] == "--install-desktop" else "remove"
        print(f"error: {args[0]}: cannot {verb} {exc.filename or 'the files'}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
