"""packaging/: the desktop entry and AppStream metainfo pass their standard validators, the icon
sizes are renders of the one SVG, and the wheel carries all of it so an installed copy can put
itself in the menu."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lmstudio_app.desktop_entry import DESKTOP_FILE, ICON_NAME, ICON_SIZES

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
METAINFO = next(PACKAGING.glob("*.metainfo.xml"))


def needs(tool: str, package: str):
    return pytest.mark.skipif(shutil.which(tool) is None,
                              reason=f"{tool} is not installed (Debian: apt-get install {package})")


@needs("desktop-file-validate", "desktop-file-utils")
def test_desktop_entry_is_valid():
    out = subprocess.run(["desktop-file-validate", str(PACKAGING / DESKTOP_FILE)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout  # not even hints


@needs("appstreamcli", "appstream")
def test_metainfo_is_valid():
    out = subprocess.run(["appstreamcli", "validate", "--no-net", "--explain", str(METAINFO)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_metainfo_names_the_desktop_entry_and_its_own_id():
    root = ET.parse(METAINFO).getroot()
    assert METAINFO.name == root.findtext("id") + ".metainfo.xml"  # AppStream's file name rule
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP_FILE
    assert root.findtext("provides/binary") == "lmstudio-app"
    entry = (PACKAGING / DESKTOP_FILE).read_text(encoding="utf-8").splitlines()
    assert f"Icon={ICON_NAME}" in entry and sum(x.startswith("Exec=") for x in entry) == 1


def image_array(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    return np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, :image.width() * 4].astype(int)


def test_each_hicolor_png_is_the_svg_rendered_at_its_size(qapp):
    from PySide6.QtGui import QImage

    script = ROOT / "tools" / "render_icons.py"
    spec = importlib.util.spec_from_file_location("render_icons", script)
    render_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_icons)
    assert tuple(render_icons.SIZES) == ICON_SIZES
    found = sorted(p.parent.parent.name for p in (PACKAGING / "icons" / "hicolor").glob(
        "*/apps/*.png"))
    assert found == sorted(f"{s}x{s}" for s in ICON_SIZES)
    for size in ICON_SIZES:
        committed = QImage(str(render_icons.png_path(size)))
        assert (committed.width(), committed.height()) == (size, size)
        fresh = render_icons.render(render_icons.SVG, size)
        diff = np.abs(image_array(committed) - image_array(fresh))
        # Antialiasing may differ by a level between Qt versions; a changed drawing does not.
        assert diff.mean() < 1.0, f"{size}px differs from the SVG: run tools/render_icons.py"


def test_the_wheel_carries_the_desktop_files_and_installs_them_from_there(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT),
                          "-w", str(tmp_path / "wheel")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"lmstudio_app/packaging/{DESKTOP_FILE}", f"lmstudio_app/packaging/{METAINFO.name}",
                "lmstudio_app/resources/icons/lmstudio_app.svg"} | {
        f"lmstudio_app/packaging/icons/hicolor/{s}x{s}/apps/{ICON_NAME}.png" for s in ICON_SIZES}
    assert expected <= names
    assert not any(n.endswith((".spec", "packaging/README.md")) for n in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; from pathlib import Path; from lmstudio_app import desktop_entry as d;"
            "paths = d.install(Path(sys.argv[1]), ['/opt/x/lmstudio-app']);"
            "print(d.packaging_files())")
    # -S: no site-packages, so the editable install's finder cannot answer instead of the wheel.
    run = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path / "data")],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(site))  # read from the wheel, not the checkout
    assert (tmp_path / "data" / "applications" / DESKTOP_FILE).is_file()
    assert (tmp_path / "data" / "icons" / "hicolor" / "512x512" / "apps" / "lmstudio_app.png"
            ).is_file()
