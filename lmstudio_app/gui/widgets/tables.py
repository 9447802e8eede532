"""Tables a person reads, sorts and selects in but never edits: one way to make them, to read a
cell back and to align a number.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def read_only_table(headers: Sequence[str] = (), *, row_numbers: bool = True,
                    stretch: bool = False) -> QTableWidget:
    """An empty table with one column per header, whose cells cannot be edited.

    `row_numbers=False` hides the numbers down the left side; `stretch` shares the width
    among all the columns.
    """
    table = QTableWidget(0, len(headers))
    if headers:
        table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(row_numbers)
    if stretch:
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return table


def cell_text(item: QTableWidgetItem | None) -> str:
    """The text of a table cell; an empty cell has none."""
    return "" if item is None else item.text()


def align_right(item: QTableWidgetItem) -> None:
    """Numbers line up on their last digit."""
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
