"""Finding controls as a person does: by a button's text, a field's label, an accessible name;
exactly one match or a clear failure."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from lmstudio_app.gui.find import button, labelled, named, only


def test_controls_are_found_by_text_label_and_name_and_never_guessed(qtbot):
    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    start, again = QPushButton("&Start"), QPushButton("Stop")
    again.setAccessibleName("Stop the run")
    form = QFormLayout()
    edit = QLineEdit()
    form.addRow("Learning rate", edit)
    note = QLabel("fine")
    note.setAccessibleName("Errors")
    for w in (start, again, note):
        layout.addWidget(w)
    layout.addLayout(form)

    assert button(root, "Start") is start  # the & of a mnemonic aside
    assert button(root, "Stop the run") is again  # its accessible name, not its text
    with pytest.raises(AssertionError, match="0 buttons 'Stop'"):
        button(root, "Stop")
    assert labelled(root, "Learning rate", QLineEdit) is edit
    assert named(root, "Errors", QLabel) is note
    assert only(root, QLineEdit) is edit
    layout.addWidget(QPushButton("Start"))
    with pytest.raises(AssertionError, match="2 buttons 'Start'"):
        button(root, "Start")
    with pytest.raises(AssertionError, match="0 QLineEdits labelled 'Steps'"):
        labelled(root, "Steps", QLineEdit)
