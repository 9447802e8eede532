"""ElidedLabel: one line of text that never widens the window.

A plain QLabel asks for the width of its whole text, so a long run name, path or line of figures
makes its layout, and then the window, grow past the screen. This label asks for no width: it
shows as much of its text as fits, ends it with "…", and shows the whole text in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A one-line label cut to its width; `text()` is the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        # Preferred: it would like its whole text, and shrinks to nothing without the room.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def text(self) -> str:  # the whole text, not the part shown
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._full = str(text)
        self._elide()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 (Qt's name)
        self._tip = tip
        self._elide()

    def is_elided(self) -> bool:
        return super().text() != self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """The whole text's width (not the part shown: a label cut once would stay cut)."""
        m = self.contentsMargins()
        width = (self.fontMetrics().horizontalAdvance(self._full) + m.left() + m.right()
                 + 2 * self.margin() + 2)
        return QSize(width, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                              max(self.width(), 1))
        QLabel.setText(self, shown)
        tips = [t for t in (self._full if shown != self._full else "", self._tip) if t]
        QLabel.setToolTip(self, "\n".join(tips))
