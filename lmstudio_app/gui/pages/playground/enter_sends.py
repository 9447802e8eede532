"""Enter sends, Shift+Enter starts a new line: the keys of a chat app, for a multi-line box.

Ctrl+Enter sends too. The box takes these keys before the window's shortcuts see them (it
accepts Qt's ShortcutOverride): the window's Ctrl+Return (Start training) would otherwise take
the same keys, and with two claimants Qt fires neither.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit

_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_SENDS = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier)


class EnterSends(QObject):
    """Installed on `edit`: Enter or Ctrl+Enter calls `send`; Shift+Enter inserts a newline."""

    def __init__(self, edit: QPlainTextEdit, send: Callable[[], None]) -> None:
        super().__init__(edit)
        self.edit, self.send = edit, send
        edit.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() not in _ENTER:
            return False
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # these keys are the box's, not the window's shortcuts'
            return True
        if modifiers in _SENDS:
            self.send()
            return True
        if modifiers == Qt.KeyboardModifier.ShiftModifier:
            self.edit.insertPlainText("\n")  # a plain newline (Qt's own is U+2028)
            return True
        return False
