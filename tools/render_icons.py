"""Render the app's icon (resources/icons/lmstudio_app.svg, the one drawing) into the freedesktop
hicolor sizes under packaging/icons/hicolor/<N>x<N>/apps/lmstudio_app.png.

Run it after changing the SVG; tests/packaging/test_desktop_files.py fails while a committed PNG
differs from a fresh render, so the sizes cannot drift from the drawing.

    python tools/render_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "lmstudio_app.svg"
HICOLOR = ROOT / "packaging" / "icons" / "hicolor"
# The sizes desktops look up (freedesktop Icon Theme Specification, hicolor's index.theme).
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent size x size ARGB image (needs a QGuiApplication)."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def png_path(size: int, hicolor: Path = HICOLOR) -> Path:
    return hicolor / f"{size}x{size}" / "apps" / "lmstudio_app.png"


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    for size in SIZES:
        path = png_path(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render(SVG, size).save(str(path), "PNG"):
            print(f"error: could not write {path}", file=sys.stderr)
            return 2
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
