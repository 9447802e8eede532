"""The Train form's learning-rate finder: Find… runs the range test in the background, plots
loss against rate and Apply puts the suggestion in the Learning rate field."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QSettings, Qt

from lmstudio_app.gui.find import button, choose
from lmstudio_app.gui.pages.train.page import TrainPage
from lmstudio_app.gui.state import AppState

SMALL = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4}


@pytest.fixture
def page(qtbot, tmp_path, prepared_data):
    state = AppState(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     tmp_path / "home")
    page = TrainPage(state)
    qtbot.addWidget(page)
    state.sig_data_ready.emit(prepared_data)
    choose(page, "Device", "cpu")
    for key, value in SMALL.items():
        page.set_field(key, value)
    yield page
    page.shutdown()


def test_find_plots_the_sweep_and_applies_the_suggestion(qtbot, page):
    find = button(page, "Find…")
    assert find.isEnabled()
    qtbot.mouseClick(find, Qt.MouseButton.LeftButton)
    dialog = page.form.lr_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.job.is_running()  # the click returned while the sweep runs in its thread
    with qtbot.waitSignal(dialog.job.sig_result, timeout=120000) as got:
        pass
    result = got.args[0]
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=5000)
    xs, ys = dialog.curve.getData()
    assert len(xs) == len(result.lr) > 11
    assert list(ys) == pytest.approx(result.loss)
    assert dialog.plot.getPlotItem().ctrl.logXCheck.isChecked()  # log x
    assert dialog.mark.value() == pytest.approx(math.log10(result.suggestion))
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    edit = page.form.model_form.edits["learning_rate"]
    assert float(edit.text()) == pytest.approx(result.suggestion, rel=1e-2)
    assert not dialog.isVisible()


def test_closing_the_dialog_stops_the_sweep(qtbot, page):
    qtbot.mouseClick(button(page, "Find…"), Qt.MouseButton.LeftButton)
    dialog = page.form.lr_dialog
    dialog.reject()
    assert dialog.job.wait_finished(60000)
    assert not dialog.apply_button.isEnabled()


def test_report_to_tensorboard_box_sets_the_field(qtbot, page):
    box = page.form.model_form.tensorboard_box
    assert page.form.config is not None and page.form.config.train.report_to == "none"
    box.setChecked(True)
    assert page.form.config.train.report_to == "tensorboard"
    page.form.fill_from_config(page.form.config)
    assert box.isChecked()
