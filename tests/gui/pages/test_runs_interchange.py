"""Export… and Import model… on the Runs page, over real runs and a transformers-made GPT-2:
the work runs in a background job, failures are one line with nothing written, and an imported
run appears in the run list and in the Playground, where it chats."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings

from lmstudio_app.gui.find import button
from lmstudio_app.gui.pages.playground.page import PlaygroundPage
from lmstudio_app.gui.pages.runs import RunsPage
from lmstudio_app.gui.pages.runs_interchange import ExportDialog, ImportDialog
from lmstudio_app.gui.state import AppState

pytest.importorskip("transformers", reason="pip install 'lmstudio-app[hf]'")


def make_page(qtbot, tmp_path) -> tuple[RunsPage, AppState]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=tmp_path / "home")
    state.runs_root.mkdir(parents=True)
    page = RunsPage(state)
    qtbot.addWidget(page)
    return page, state


def _run_dialog(qtbot, dialog) -> None:
    dialog.action_button.click()
    assert dialog.job is not None and not dialog.action_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=60000)


def test_export_writes_the_chosen_format_in_the_background(qtbot, tmp_path, tiny_runs):
    page, state = make_page(qtbot, tmp_path)
    run = state.runs_root / "gpt"
    shutil.copytree(tiny_runs["gpt"], run)
    page.refresh()
    assert page.select_run(run) and button(page, "Export…").isEnabled()
    button(page, "Export…").click()
    dialog = page.interchange_dialog
    assert isinstance(dialog, ExportDialog) and not dialog.dtype_box.isEnabled()
    dialog.out_edit.setText(str(tmp_path / "out" / "gpt-hf"))
    _run_dialog(qtbot, dialog)
    assert "Exported gpt as GPT2LMHeadModel" in dialog.message.text()
    assert (tmp_path / "out" / "gpt-hf" / "config.json").is_file()

    dialog.format_box.setCurrentIndex(1)  # GGUF
    assert dialog.dtype_box.isEnabled() and dialog.out_edit.text().endswith("gpt.gguf")
    dialog.dtype_box.setCurrentText("bf16")
    dialog.out_edit.setText(str(tmp_path / "out" / "gpt.gguf"))
    _run_dialog(qtbot, dialog)
    assert "GGUF (bf16)" in dialog.message.text()
    assert (tmp_path / "out" / "gpt.gguf").stat().st_size > 0
    dialog.close()


def test_a_failed_export_says_why_and_writes_nothing(qtbot, tmp_path, tiny_runs):
    dialog = ExportDialog(tiny_runs["bert"])
    qtbot.addWidget(dialog)
    dialog.format_box.setCurrentIndex(1)  # GGUF from a BERT run: refused
    dialog.out_edit.setText(str(tmp_path / "bert.gguf"))
    _run_dialog(qtbot, dialog)
    assert dialog.message.text().startswith("Failed: ") and "format hf" in dialog.message.text()
    assert list(tmp_path.iterdir()) == []


def test_import_adds_a_run_to_the_list_and_the_playground(qtbot, tmp_path, hf_gpt2):
    page, state = make_page(qtbot, tmp_path)
    playground = PlaygroundPage(state)
    qtbot.addWidget(playground)
    button(page, "Import model…").click()
    dialog = page.interchange_dialog
    assert isinstance(dialog, ImportDialog)
    dialog.source_edit.setText(str(tmp_path / "nowhere"))
    _run_dialog(qtbot, dialog)
    assert dialog.message.text().startswith("Failed: ") and "no such folder" in \
        dialog.message.text()
    assert list(state.runs_root.iterdir()) == []

    dialog.source_edit.setText(str(hf_gpt2))
    assert dialog.name_edit.text() == "imported-gpt2"
    with qtbot.waitSignal(state.sig_runs_changed, timeout=60000):
        _run_dialog(qtbot, dialog)
    run = state.runs_root / "imported-gpt2"
    assert "Imported GPT2LMHeadModel as the clm run imported-gpt2" in dialog.message.text()
    assert run in page.run_paths()
    listed = [playground.run_combo.itemData(i)[0] for i in range(playground.run_combo.count())]
    assert str(run) in listed
    with qtbot.waitSignal(playground.sig_model_loaded, timeout=20000):
        state.sig_use_run.emit(run)
    assert playground.current_panel() == "chat"
    dialog.close()
    playground.shutdown()
