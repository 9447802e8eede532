"""Text made of tokens, each shaded by how likely the model found it.

One colour scale for every instrument: a generated piece is shaded by the probability the
sampler gave it, and a scored token of a passage by exp(-loss), the probability the model gave
the right token (so a hard token and an unlikely choice look alike). Hovering a token shows its
details as a tooltip; clicking one selects it (sig_token_chosen) so a panel can show them
beside the text. Both name the character under the pointer (QTextLine.xToCursor with
CursorOnCharacter), not the nearest gap between characters, which on the right half of a
one-character piece is the start of the next one.
"""

from __future__ import annotations

import bisect
import html
import math
from dataclasses import dataclass
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QHelpEvent,
    QMouseEvent,
    QTextCharFormat,
    QTextCursor,
    QTextLine,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextEdit,
    QToolTip,
    QWidget,
)

# Probability stops of the scale: unlikely (red) through uncertain (yellow) to sure (green).
_STOPS = ((0.0, QColor("#f1948a")), (0.3, QColor("#f9e79f")), (1.0, QColor("#abebc6")))
LEGEND_STEPS = (0.02, 0.1, 0.3, 0.6, 0.95)


def probability_colour(p: float) -> QColor:
    """The background of a token of probability `p` in [0, 1] (clamped)."""
    p = min(1.0, max(0.0, p))
    for (p0, c0), (p1, c1) in zip(_STOPS, _STOPS[1:], strict=False):
        if p <= p1:
            t = (p - p0) / (p1 - p0)
            return QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(
                _rgb(c0), _rgb(c1), strict=True)))
    return QColor(_STOPS[-1][1])


def _rgb(colour: QColor) -> tuple[float, float, float]:
    """The red, green and blue of `colour`, each in [0, 1]."""
    return colour.redF(), colour.greenF(), colour.blueF()


def piece_label(piece: str) -> str:
    """A token as a person reads it: SentencePiece's word mark as a space, quoted."""
    return repr(piece.replace("\u2581", " "))


def choice_details(choice: Any) -> str:
    """Rich text for a generated token (a core TokenChoice): its probability, the entropy of
    the distribution it was drawn from, and the likeliest alternatives."""
    rows = "".join(f"<tr><td>{html.escape(piece_label(p))}</td>"
                   f"<td align='right'>&nbsp;{q:.1%}</td></tr>" for p, q in choice.top)
    return (f"<b>{html.escape(piece_label(choice.piece))}</b>: p = {choice.probability:.1%}"
            f"<br>entropy {choice.entropy_bits:.2f} bits<br>top {len(choice.top)}:"
            f"<table>{rows}</table>")


def choice_summary(choice: Any) -> str:
    """One line of rich text for a generated token picked in the text: its probability, the
    entropy and the likeliest alternatives."""
    top = ", ".join(f"{html.escape(piece_label(p))} {q:.1%}" for p, q in choice.top)
    return (f"<b>{html.escape(piece_label(choice.piece))}</b>: p = {choice.probability:.1%}, "
            f"entropy {choice.entropy_bits:.2f} bits; top {len(choice.top)}: {top}")


def loss_details(text: str, loss: float | None) -> str:
    """Rich text for a scored token of a passage: its loss and the probability it stands for."""
    if loss is None:
        return f"<b>{html.escape(piece_label(text))}</b>: not scored"
    return (f"<b>{html.escape(piece_label(text))}</b>: loss {loss:.3f} nats "
            f"(p = {math.exp(-loss):.1%} for the right token)")


@dataclass(frozen=True)
class ShadedToken:
    """A token shown in the text: its characters [start, end) of the document (Qt positions),
    the probability it is shaded by (None: unshaded), its details (rich text, the tooltip)
    and their one-line summary (shown when the token is clicked)."""

    start: int
    end: int
    probability: float | None
    details: str
    data: Any = None
    summary: str = ""


class ShadedText(QTextEdit):
    """A read-only text of plain runs and shaded tokens, with a tooltip per token."""

    sig_token_chosen = Signal(int)  # index into .tokens of the token clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        # The arrow keys move a caret through the pieces, each chosen in turn.
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.tokens: list[ShadedToken] = []
        self._starts: list[int] = []
        self._pressing = False
        self.viewport().installEventFilter(self)
        self.cursorPositionChanged.connect(self._on_cursor_moved)

    def clear(self) -> None:  # noqa: D102 - QTextEdit's, and the tokens with it
        super().clear()
        self.tokens = []
        self._starts = []

    def _insert(self, text: str, fmt: QTextCharFormat) -> tuple[int, int]:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        start = cursor.position()
        cursor.insertText(text, fmt)
        self.blockSignals(True)  # following the end is not a click on a token
        self.setTextCursor(cursor)
        self.blockSignals(False)
        self.ensureCursorVisible()
        return start, cursor.position()

    def add_plain(self, text: str, bold: bool = False) -> None:
        """Text that is no token of the model's (the user's message, a marker)."""
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
        self._insert(text, fmt)

    def add_token(self, text: str, probability: float | None, details: str,
                  data: Any = None, summary: str = "") -> None:
        """A token's text, shaded by `probability` (None: plain), with `details` on hover and
        `summary` (default: the details) when clicked."""
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Normal)
        if probability is not None:
            fmt.setBackground(probability_colour(probability))
        start, end = self._insert(text, fmt)
        if end > start:
            self.tokens.append(ShadedToken(start, end, probability, details, data,
                                           summary or details))
            self._starts.append(start)

    def add_choice(self, choice: Any) -> None:
        """A generated token (a core TokenChoice), shaded by the probability it was drawn
        with."""
        self.add_token(choice.text, choice.probability, choice_details(choice), choice,
                       choice_summary(choice))

    def add_tokens(self, tokens: list[tuple[str, float | None, str, Any]]) -> None:
        """Many tokens at once, as (text, probability, details, data): one edit of the
        document and one layout, instead of one per token."""
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        for text, probability, details, data in tokens:
            fmt = QTextCharFormat()
            if probability is not None:
                fmt.setBackground(probability_colour(probability))
            start = cursor.position()
            cursor.insertText(text, fmt)
            if cursor.position() > start:
                self.tokens.append(ShadedToken(start, cursor.position(), probability, details,
                                               data, details))
                self._starts.append(start)
        cursor.endEditBlock()

    def token_at(self, position: int) -> int | None:
        """The index of the token holding document position `position`, or None."""
        i = bisect.bisect_right(self._starts, position) - 1
        if i >= 0 and self.tokens[i].start <= position < self.tokens[i].end:
            return i
        return None

    def character_at(self, point: QPoint) -> int | None:
        """The document position of the character under `point` (viewport pixels), or None
        when the point is on no character: past the end of a wrapped line, or below the text.
        The end of a paragraph is its separator's position, where a newline token sits."""
        block = self.cursorForPosition(point).block()
        layout = block.layout()
        if not block.isValid() or layout is None:
            return None
        at = QPointF(point) + QPointF(self.horizontalScrollBar().value(),
                                      self.verticalScrollBar().value()) - layout.position()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            if line.y() <= at.y() < line.y() + line.height():
                end = line.textStart() + line.textLength()
                # PySide6 returns (x, cursor position); its stub says `object`.
                end_x = cast(tuple[float, int], line.cursorToX(end))[0]
                if at.x() >= end_x:  # right of the line's last character
                    last = i == layout.lineCount() - 1
                    return block.position() + end if last else None
                offset = line.xToCursor(at.x(), QTextLine.CursorPosition.CursorOnCharacter)
                return block.position() + offset
        return None

    def token_at_point(self, point: QPoint) -> int | None:
        """The index of the token under `point` (viewport pixels), or None."""
        position = self.character_at(point)
        return None if position is None else self.token_at(position)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.viewport() and event.type() == QEvent.Type.ToolTip:
            event = cast(QHelpEvent, event)  # a ToolTip event is a QHelpEvent
            i = self.token_at_point(event.pos())
            if i is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tokens[i].details, self)
            return True
        return super().eventFilter(watched, event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        # A click names the character under the pointer; the caret it leaves behind is a gap.
        self._pressing = True
        try:
            super().mousePressEvent(event)
        finally:
            self._pressing = False
        if event.button() == Qt.MouseButton.LeftButton:
            i = self.token_at_point(event.position().toPoint())
            if i is not None:
                self.sig_token_chosen.emit(i)

    def _on_cursor_moved(self) -> None:
        # Keys move the caret: the token chosen is the one after it.
        if self._pressing:
            return
        i = self.token_at(self.textCursor().position())
        if i is not None:
            self.sig_token_chosen.emit(i)


class ProbabilityLegend(QWidget):
    """The colour scale as a row of swatches, with what the shade stands for."""

    def __init__(self, what: str = "probability", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.caption = QLabel(f"Shade = {what}:")
        self.caption.setToolTip("Each piece's background shows how likely the model found it: "
                                "red unlikely, yellow uncertain, green sure")
        row.addWidget(self.caption)
        for p in LEGEND_STEPS:
            swatch = QLabel(f" {p:.0%} ")
            swatch.setAlignment(Qt.AlignmentFlag.AlignCenter)
            swatch.setStyleSheet(f"QLabel {{ background: {probability_colour(p).name()}; "
                                 "color: black; padding: 1px 4px; }")
            row.addWidget(swatch)
        hint = QLabel("  hover or click a piece for the alternatives")
        hint.setStyleSheet("QLabel { color: palette(mid); }")
        # The hint gives way first when the window is narrow: it never sets the window's width.
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint = hint
        row.addWidget(hint, 1)
