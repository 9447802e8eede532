"""ElidedLabel: the whole text kept, what fits shown, and a size that never stays cut."""

from __future__ import annotations

from lmstudio_app.gui.widgets.elided_label import ElidedLabel


def test_cut_to_its_width_whole_in_its_tooltip_and_asking_for_the_whole_width(qtbot):
    label = ElidedLabel("Training: step 1,234 / 5,000")
    qtbot.addWidget(label)
    label.show()
    full = label.sizeHint().width()
    label.resize(40, label.height())
    assert label.is_elided() and label.text() == "Training: step 1,234 / 5,000"
    assert "Training: step 1,234 / 5,000" in label.toolTip()
    assert label.minimumSizeHint().width() == 0
    # Cut once, it still asks for the room its whole text needs (a layout can give it back).
    assert label.sizeHint().width() == full >= label.fontMetrics().horizontalAdvance(
        "Training: step 1,234 / 5,000")
    label.resize(full, label.height())
    assert not label.is_elided() and label.toolTip() == ""
