"""The window's layout as a person meets it: it never widens itself, Start stays in view in a
short window and never moves, and the samples pane has room in both modes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel

from lmstudio_app.gui.find import button, labelled, named, only
from lmstudio_app.gui.widgets.curves import CurvesWidget
from lmstudio_app.gui.widgets.elided_label import ElidedLabel

LONG = "a-very-long-run-name-" * 12


@pytest.fixture
def window(main_window_on):
    w = main_window_on(1280, 700)
    w.show_page("Train")
    yield w
    w.close()


def _top_in_window(widget, window) -> int:
    return widget.mapTo(window, QPoint(0, 0)).y()


def test_long_labels_are_cut_and_the_window_keeps_its_width(qtbot, window):
    page = window.train_page
    page.progress_panel.set_run(f"Run: {LONG}", LONG)
    named(page, "Progress", QLabel).setText(f"step 1 / 2 · loss 1.0 · {LONG}")
    only(page, CurvesWidget).readout.setText(LONG)
    window.state.sig_status.emit(LONG)
    window.run_label.setText(f"Training: {LONG}")
    data = window.pages["Data"]
    named(data, "Folder", QLabel).setText(f"/home/{LONG}/data — written")
    labelled(data, "Folder", QLabel).setText(f"/home/{LONG}/data")
    named(data, "Progress", QLabel).setText(f"Ready: /home/{LONG}")
    window.pages["Runs"].root_label.setText(f"Runs in /home/{LONG}")
    for name in ("Data", "Playground", "Runs", "Train"):
        window.show_page(name)
        qtbot.wait(50)
    assert window.width() == 1280
    assert window.minimumSizeHint().width() <= 1280
    run = named(page, "Run", ElidedLabel)
    assert run.text() == f"Run: {LONG}"  # the whole text is kept...
    assert run.is_elided() and LONG in run.toolTip()  # ...and shown


def test_start_is_in_view_at_1280_by_700_and_stays_put_when_a_message_appears(qtbot, window):
    page = window.train_page
    start = button(page, "Start")
    assert start.isVisible() and not start.visibleRegion().isEmpty()
    top = _top_in_window(start, window)
    assert top + start.height() <= window.height()
    page.set_field("n_head", "7")  # a mistake: the message appears above the buttons
    qtbot.wait(50)
    assert named(page, "Errors", QLabel).isVisible() and named(page, "Errors", QLabel).text()
    assert _top_in_window(start, window) == top
    page.set_field("n_head", "2")


def test_the_samples_pane_has_room_and_gets_it_back_after_fine_tuning(qtbot, window):
    page = window.train_page
    qtbot.wait(50)
    sizes = page.right_split.sizes()
    assert page.samples_box.isVisible() and sizes[2] >= 80 and sizes[1] == 0
    page.set_mode("finetune")
    qtbot.wait(50)
    assert not page.samples_box.isVisible() and page.metrics_box.isVisible()
    assert page.right_split.sizes()[1] > 100
    page.set_mode("pretrain")
    qtbot.wait(50)
    assert page.samples_box.isVisible() and page.right_split.sizes()[2] >= 80
