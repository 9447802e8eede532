"""Keys and focus in the Playground, pressed on the real widgets of a whole window: Enter sends,
Shift+Enter starts a new line, Ctrl+Enter sends (not Start training), and the focus stays in
the message box after Send."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QPlainTextEdit, QSpinBox

from lmstudio_app.gui.find import button, labelled, named
from lmstudio_app.gui.main_window import MainWindow
from lmstudio_app.gui.state import AppState


def _window(qtbot, tmp_path, runs_root, data, run):
    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                     runs_root.parent)
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    state.sig_data_ready.emit(data)  # Start (Ctrl+Return) is enabled: the keys could go there
    window.show_page("Playground")
    page = window.pages["Playground"]
    with qtbot.waitSignal(page.sig_model_loaded, timeout=20000):
        state.sig_use_run.emit(run)
    assert window.start_action.isEnabled()
    return window, page


@pytest.fixture
def chat(qtbot, tmp_path, engine_runs, prepared_data):
    window, page = _window(qtbot, tmp_path, engine_runs.runs_root, prepared_data,
                           engine_runs.gpt)
    labelled(page, "Max new tokens", QSpinBox).setValue(6)
    yield window, page
    page.shutdown()
    window.close()


def test_enter_and_ctrl_enter_send_shift_enter_starts_a_line(qtbot, chat):
    window, page = chat
    box = named(page, "Message", QPlainTextEdit)
    box.setFocus()
    qtbot.keyClicks(box, "It is")
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(box, "a truth")
    assert box.toPlainText() == "It is\na truth" and not page.is_generating()

    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        qtbot.keyClick(box, Qt.Key.Key_Return)
    sent = named(page, "Last prompt sent", QPlainTextEdit)
    assert sent.toPlainText() == "It is\na truth" and box.toPlainText() == ""

    qtbot.keyClicks(box, "She")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert named(page, "Last prompt sent", QPlainTextEdit).toPlainText().endswith("\nShe")
    assert not window.train_page.is_training()  # the window's Start did not fire
    assert window.current_page() == "Playground"


def test_after_send_the_focus_stays_in_the_message_box(qtbot, chat):
    _, page = chat
    box = named(page, "Message", QPlainTextEdit)
    temperature = labelled(page, "Temperature", QDoubleSpinBox)
    before = temperature.value()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(box, "It is")
    with qtbot.waitSignal(page.sig_reply_finished, timeout=20000):
        qtbot.mouseClick(button(page, "Send"), Qt.MouseButton.LeftButton)
        assert QApplication.focusWidget() is box
    assert QApplication.focusWidget() is box
    qtbot.keyClicks(QApplication.focusWidget(), "0.5")  # typed where the user looks
    assert box.toPlainText() == "0.5" and temperature.value() == before


def test_enter_classifies_in_the_classify_box(qtbot, tmp_path, finetune_runs, prepared_data):
    window, page = _window(qtbot, tmp_path, finetune_runs.runs_root, prepared_data,
                           finetune_runs.classify)
    panel = page.classify_panel
    panel.text_edit.setFocus()
    for modifier in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier):
        with qtbot.waitSignal(page.sig_task_result, timeout=20000) as shown:
            qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return, modifier)
        assert shown.args[0]["label"] in panel.bars.values
        assert QApplication.focusWidget() is panel.text_edit
        qtbot.waitUntil(panel.button.isEnabled, timeout=5000)
    assert not window.train_page.is_training()
    page.shutdown()
    window.close()
