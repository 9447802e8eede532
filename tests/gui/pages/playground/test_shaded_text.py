"""The token under the pointer: hovering or clicking any pixel of a piece names that piece, on
either half of a one-character piece, on a wrapped line, and on a newline piece; a point past
the end of a wrapped line or below the text names none."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from lmstudio_app.gui.pages.playground.shaded_text import ShadedText

PIECES = ["It", " is", " a", " t", "r", "u", "th", ",", "\n", "u", "n", "i", "v", "e", "r",
          "s", "a", "l", "l", "y", " acknowledged", " that", " a", " s", "i", "n", "g", "l",
          "e", " man", "\n", "\n", "i", ".", "e", "."]


def _shown(qtbot) -> ShadedText:
    view = ShadedText()
    qtbot.addWidget(view)
    view.add_plain("You: ", bold=True)
    for n, piece in enumerate(PIECES):
        view.add_token(piece, 0.05 * (n % 20), f"details {n}", n, f"summary {n}")
    view.resize(160, 400)  # narrow: the reply wraps over several lines
    view.show()
    qtbot.waitExposed(view)
    return view


def character_box(view: ShadedText, position: int) -> tuple[QPoint, QPoint]:
    """Two viewport points inside the character at `position`: its left and right halves."""
    block = view.document().findBlock(position)
    layout = block.layout()
    offset = position - block.position()
    line = layout.lineForTextPosition(offset)
    x0, x1 = line.cursorToX(offset)[0], line.cursorToX(offset + 1)[0]
    if x1 <= x0:  # the paragraph's end: a zero-width separator, hit to its right
        x1 = x0 + 8
    origin = layout.position() - view.viewport().rect().topLeft().toPointF()
    origin -= QPoint(view.horizontalScrollBar().value(), view.verticalScrollBar().value())
    y = origin.y() + line.y() + line.height() / 2
    left = QPoint(round(origin.x() + x0 + (x1 - x0) * 0.25), round(y))
    right = QPoint(round(origin.x() + x0 + (x1 - x0) * 0.75), round(y))
    return left, right


def hovered(view: ShadedText, point: QPoint) -> str:
    QToolTip.hideText()
    event = QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point))
    QApplication.sendEvent(view.viewport(), event)
    return QToolTip.text() if QToolTip.isVisible() else ""


def test_every_pixel_of_a_piece_names_that_piece(qtbot):
    view = _shown(qtbot)
    assert any(view.document().findBlock(t.start).layout().lineCount() > 1
               for t in view.tokens)  # a paragraph wraps
    chosen: list[int] = []
    view.sig_token_chosen.connect(chosen.append)
    for index, token in enumerate(view.tokens):
        for position in range(token.start, token.end):
            for point in character_box(view, position):
                assert view.token_at_point(point) == index, (PIECES[index], position)
                assert hovered(view, point) == token.details
                chosen.clear()
                qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
                assert chosen == [index], (PIECES[index], position)


def test_no_piece_past_a_wrapped_line_or_below_the_text(qtbot):
    view = _shown(qtbot)
    block = view.document().firstBlock()
    while block.layout().lineCount() < 2:
        block = block.next()
        assert block.isValid(), "no paragraph wraps"
    wrapped = block.layout()
    line = wrapped.lineAt(0)
    past = QPoint(view.viewport().width() - 3,
                  round(wrapped.position().y() + line.y() + line.height() / 2))
    if wrapped.position().x() + line.x() + line.horizontalAdvance() < past.x() - 1:
        assert view.token_at_point(past) is None
    below = QPoint(10, view.viewport().height() - 2)
    if view.document().documentLayout().documentSize().height() < below.y() - 4:
        assert view.token_at_point(below) is None
        assert hovered(view, below) == ""
        chosen: list[int] = []
        view.sig_token_chosen.connect(chosen.append)
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=below)
        assert chosen == []


def test_keys_choose_the_piece_after_the_caret(qtbot):
    view = _shown(qtbot)
    chosen: list[int] = []
    view.sig_token_chosen.connect(chosen.append)
    token = view.tokens[5]
    cursor = view.textCursor()
    cursor.setPosition(token.start)
    view.setTextCursor(cursor)
    assert chosen == [5]
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert chosen == [5, 6]
