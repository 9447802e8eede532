"""TokenView: a text cut into its tokenizer pieces, each piece a visibly delimited box.

Boxes alternate between a few soft background colours chosen from the widget's palette (pale on
a light palette, deep on a dark one), with the text in the palette's own text colour, so the
boundaries read in either theme. Spaces show as a middle dot and a newline as a return arrow, so
a piece that starts with a space is told apart from one that does not. The tooltip of a box gives
the piece's id.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

_HUES = (210, 30, 120, 290)  # blue, orange, green, purple: neighbours always differ
_PAD_X, _PAD_Y, _GAP = 3, 2, 2


def display_piece(piece: str) -> str:
    """How a piece is drawn: whitespace made visible."""
    text = piece.replace(" ", "\u00b7").replace("\t", "\u2192").replace("\n", "\u21b5")
    return text or "\u2205"


class TokenView(QWidget):
    """Pieces of a text as delimited boxes; `set_tokens(pieces, ids)` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pieces: list[str] = []
        self._ids: list[int] = []
        self._rects: list[QRect] = []
        self._layout_width = -1
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setMouseTracking(True)

    # -- content

    def set_tokens(self, pieces: Sequence[str], ids: Sequence[int]) -> None:
        if len(pieces) != len(ids):
            raise ValueError(f"{len(pieces)} pieces but {len(ids)} ids")
        self._pieces = list(pieces)
        self._ids = [int(i) for i in ids]
        self._layout_width = -1
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.set_tokens([], [])

    def pieces(self) -> list[str]:
        return list(self._pieces)

    def ids(self) -> list[int]:
        return list(self._ids)

    def tooltip_for(self, index: int) -> str:
        piece = self._pieces[index]
        return f"id {self._ids[index]}: {piece!r}"

    # -- layout

    def _compute(self, width: int) -> tuple[list[QRect], int]:
        fm = QFontMetrics(self.font())
        height = fm.height() + 2 * _PAD_Y
        x = y = 0
        rects = []
        for piece in self._pieces:
            w = fm.horizontalAdvance(display_piece(piece)) + 2 * _PAD_X
            if x > 0 and x + w > width:
                x, y = 0, y + height + _GAP
            rects.append(QRect(x, y, w, height))
            x += w + _GAP
            if piece.endswith("\n"):
                x, y = 0, y + height + _GAP
        total = (rects[-1].bottom() + 1) if rects else height
        return rects, total

    def _ensure_layout(self) -> None:
        if self._layout_width != self.width():
            self._rects, _ = self._compute(max(1, self.width()))
            self._layout_width = self.width()

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return self._compute(max(1, width))[1]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(400, self.heightForWidth(400))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(60, QFontMetrics(self.font()).height() + 2 * _PAD_Y)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        self._layout_width = -1
        super().resizeEvent(event)

    # -- drawing

    def _colours(self) -> list[QColor]:
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        sat, val = (110, 105) if dark else (70, 250)
        return [QColor.fromHsv(h, sat, val) for h in _HUES]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        self._ensure_layout()
        painter = QPainter(self)
        colours = self._colours()
        text = self.palette().color(QPalette.ColorRole.WindowText)
        border = QColor(text)
        border.setAlpha(90)
        for i, (piece, rect) in enumerate(zip(self._pieces, self._rects, strict=True)):
            painter.setPen(QPen(border, 1))
            painter.setBrush(colours[i % len(colours)])
            painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 3, 3)
            painter.setPen(text)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, display_piece(piece))
        painter.end()

    def index_at(self, pos: QPoint) -> int:
        """The piece under `pos`, or -1."""
        self._ensure_layout()
        for i, rect in enumerate(self._rects):
            if rect.contains(pos):
                return i
        return -1

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        # The widget's own tooltip follows the piece under the pointer (Qt shows it on hover).
        i = self.index_at(event.position().toPoint())
        tip = self.tooltip_for(i) if i >= 0 else ""
        if tip != self.toolTip():
            self.setToolTip(tip)
        super().mouseMoveEvent(event)
