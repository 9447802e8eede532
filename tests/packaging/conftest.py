"""Icon renders need a QGuiApplication; like every Qt test here it runs offscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
