"""FieldMarks: the controls of the fields a mistake names are outlined, their tooltips say why
under the form's label, and everything comes back as it was when the mistake is gone."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit

from lmstudio_app.core.errors import UserError
from lmstudio_app.gui.widgets.field_marks import Control, FieldMarks


def test_marks_outline_the_named_fields_and_clear_back_to_their_tooltips(qtbot):
    width, heads, encoding = QLineEdit(), QLineEdit(), QComboBox()
    for w in (width, heads, encoding):
        qtbot.addWidget(w)
    width.setToolTip("Embedding width (n_embd)")
    marks = FieldMarks({"n_embd": Control("Width", width),
                        "n_head": Control("Attention heads", heads),
                        "encoding": Control("Encoding", encoding)})
    exc = UserError("n_embd=32 is not divisible by n_head=3.", field=("n_embd", "n_head"))
    shown = marks.show(str(exc), exc.fields)
    # The message speaks the form's labels, not the config's names.
    assert shown == "Width 32 is not divisible by Attention heads 3."
    assert width.styleSheet().startswith("QLineEdit {") and "border" in heads.styleSheet()
    assert width.toolTip() == "Width (n_embd): n_embd=32 is not divisible by n_head=3."
    assert encoding.styleSheet() == "" and encoding.toolTip() == ""
    assert marks.marked == dict.fromkeys(("n_embd", "n_head"), str(exc))

    # Another mistake moves the outline; a combo box is outlined as a combo box.
    marks.show("not valid UTF-8", ["encoding", "not_a_field_here"])
    assert encoding.styleSheet().startswith("QComboBox {") and width.styleSheet() == ""
    assert width.toolTip() == "Embedding width (n_embd)"
    # A field named but not mentioned gets its label in front.
    assert marks.describe("not valid UTF-8.", ["encoding"]) == "Encoding: not valid UTF-8."
    # A message that names no field of the form is shown as it is (capitalised).
    assert marks.show("no corpus given.", ()) == "No corpus given."
    # Only whole names are replaced.
    assert marks.words("n_embdx stays; lower n_embd.") == "n_embdx stays; lower Width."
    assert all(w.styleSheet() == "" for w in (width, heads, encoding)) and not marks.marked
