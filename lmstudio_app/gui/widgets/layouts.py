"""Rows and columns of widgets in one call: a panel's layout reads as the list of what it shows.

An item is a widget, a layout, a text (shown as a QLabel) or `(item, stretch)`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

Part = QWidget | QLayout | str
Item = Part | tuple[Part, int]


def fill(layout: QBoxLayout, *items: Item) -> None:
    """Add `items` to `layout` in order, each with its stretch (0 unless given)."""
    for item in items:
        part, stretch = item if isinstance(item, tuple) else (item, 0)
        if isinstance(part, QLayout):
            layout.addLayout(part, stretch)
        else:
            layout.addWidget(QLabel(part) if isinstance(part, str) else part, stretch)


def hbox(*items: Item) -> QHBoxLayout:
    """`items` side by side, left to right."""
    layout = QHBoxLayout()
    fill(layout, *items)
    return layout


def vbox(*items: Item, owner: QWidget | None = None) -> QVBoxLayout:
    """`items` one under another. With `owner`, the layout is the owner's own, without margins
    (a panel fills the place its page gives it)."""
    layout = QVBoxLayout(owner) if owner is not None else QVBoxLayout()
    if owner is not None:
        layout.setContentsMargins(0, 0, 0, 0)
    fill(layout, *items)
    return layout
