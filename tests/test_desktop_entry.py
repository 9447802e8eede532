"""`lmstudio-app --install-desktop` / `--uninstall-desktop` on a temporary XDG_DATA_HOME, run as a
user runs them (the installed launcher in a subprocess)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from lmstudio_app.desktop_entry import (
    DESKTOP_FILE,
    ICON_SIZES,
    data_home,
    desktop_entry_text,
    exec_quote,
    icon_files,
    installed_paths,
)

LAUNCHER = Path(sys.executable).parent / "lmstudio-app"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="freedesktop menus are a Linux desktop's")


def run(*args: str, env: dict[str, str], launcher: list[str] | None = None):
    return subprocess.run([*(launcher or [str(LAUNCHER)]), *args], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **env})


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@linux_only
def test_install_writes_entry_and_icons_and_uninstall_removes_exactly_them(tmp_path):
    home = tmp_path / "data"
    other = home / "applications" / "someone-else.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\n")
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(home)}

    out = run("--install-desktop", env=env)
    assert out.returncode == 0, out.stderr
    written = sorted(p for p in home.rglob("*") if p.is_file() and p != other)
    assert written == sorted(installed_paths(home))
    assert len(written) == 1 + 1 + len(ICON_SIZES)  # entry, SVG, PNGs
    entry = (home / "applications" / DESKTOP_FILE).read_text().splitlines()
    assert f"Exec={LAUNCHER}" in entry and f"TryExec={LAUNCHER}" in entry
    for size in ICON_SIZES:
        png = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "lmstudio_app.png"
        assert png_size(png) == (size, size)
    for (rel, source), path in zip(icon_files(), installed_paths(home)[1:], strict=True):
        assert path.read_bytes() == source.read_bytes() and path.as_posix().endswith(rel)
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(home / "applications" /
                                                             DESKTOP_FILE)],
                               capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout

    again = run("--install-desktop", env=env)  # reinstalling replaces, adds nothing
    assert again.returncode == 0
    assert sorted(p for p in home.rglob("*") if p.is_file() and p != other) == written

    out = run("--uninstall-desktop", env=env)
    assert out.returncode == 0, out.stderr
    assert f"removed {len(written)} files" in out.stdout
    assert [p for p in home.rglob("*") if p.is_file()] == [other]
    out = run("--uninstall-desktop", env=env)
    assert out.returncode == 0 and "nothing was installed" in out.stdout


@linux_only
def test_started_as_python_m_the_entry_runs_the_launcher_beside_the_interpreter(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = run("--install-desktop", env=env, launcher=[sys.executable, "-m", "lmstudio_app"])
    assert out.returncode == 0, out.stderr
    entry = (tmp_path / "data" / "applications" / DESKTOP_FILE).read_text()
    assert f"\nExec={LAUNCHER}\n" in entry


@linux_only
def test_a_folder_that_cannot_be_written_is_one_line_and_status_2(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "applications").write_text("a file where a folder should be")
    out = run("--install-desktop", env={"HOME": str(tmp_path),
                                         "XDG_DATA_HOME": str(tmp_path / "data")})
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith("error: --install-desktop: ") and "applications" in out.stderr
    assert run("--install-desktop", "extra", env={"HOME": str(tmp_path)}).returncode == 2


def test_data_home_follows_the_xdg_spec(tmp_path):
    assert data_home({"XDG_DATA_HOME": "/x/share", "HOME": "/h"}) == Path("/x/share")
    assert data_home({"XDG_DATA_HOME": "relative/share", "HOME": "/h"}) == Path(
        "/h/.local/share")
    assert data_home({"HOME": "/h"}) == Path("/h/.local/share")


def test_exec_arguments_are_quoted_as_the_desktop_entry_spec_says():
    assert exec_quote("/usr/bin/lmstudio-app") == "/usr/bin/lmstudio-app"
    assert exec_quote("/home/a b/lmstudio-app") == '"/home/a b/lmstudio-app"'
    # $ takes a backslash inside quotes, and the string escaping doubles that backslash.
    assert exec_quote("/opt/$x/app") == '"/opt/\\\\$x/app"'
    assert exec_quote("/opt/100%/app") == "/opt/100%%/app"
    text = desktop_entry_text(["/home/a b/.venv/bin/lmstudio-app"])
    assert 'Exec="/home/a b/.venv/bin/lmstudio-app"' in text.splitlines()


@linux_only
@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (apt-get install "
                           "desktop-file-utils)")
def test_an_entry_for_an_awkward_path_is_still_valid(tmp_path):
    path = tmp_path / "we$ird 100% dir" / "lmstudio-app"
    (tmp_path / DESKTOP_FILE).write_text(desktop_entry_text([str(path)]))
    check = subprocess.run(["desktop-file-validate", str(tmp_path / DESKTOP_FILE)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout


def test_icon_files_are_the_svg_then_each_png_from_large_to_small():
    files = icon_files()
    assert all(source.is_file() for _, source in files)
    assert [rel for rel, _ in files] == ["scalable/apps/lmstudio_app.svg"] + [
        f"{s}x{s}/apps/lmstudio_app.png" for s in sorted(ICON_SIZES, reverse=True)]


def test_the_help_names_both_desktop_flags(capsys):
    from lmstudio_app.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--install-desktop" in out and "--uninstall-desktop" in out
