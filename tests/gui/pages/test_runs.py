"""The Runs page over real run folders: listing, actions, delete after confirmation, polling,
and the confusion heatmap of a finished classify run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from lmstudio_app.core import runs
from lmstudio_app.core.config import OBJECTIVES
from lmstudio_app.gui.find import button
from lmstudio_app.gui.pages.runs import COLUMNS, RunsPage
from lmstudio_app.gui.state import AppState


def make_page(qtbot, tmp_path, home: Path) -> tuple[RunsPage, AppState]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=home)
    page = RunsPage(state)
    qtbot.addWidget(page)
    return page, state


def test_lists_both_runs_with_their_state(qtbot, tmp_path, engine_runs):
    page, _ = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    assert set(page.run_paths()) == {engine_runs.gpt, engine_runs.bert}
    gpt = page.row_text(engine_runs.gpt)
    bert = page.row_text(engine_runs.bert)
    # The objectives by their titles in the engine's table.
    assert gpt[1:3] == [OBJECTIVES["clm"].title, "tiny"] and bert[1] == OBJECTIVES["mlm"].title
    assert gpt[3] == "30 / 30" and gpt[5] == "completed" and bert[5] == "completed"
    best = runs.summarize(engine_runs.gpt).best_val_loss
    assert gpt[4] == f"{best:.4f}"
    page.shutdown()


def test_actions_emit_the_state_signals(qtbot, tmp_path, engine_runs):
    page, state = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    assert not button(page, "Open").isEnabled()
    assert page.select_run(engine_runs.gpt)
    with qtbot.waitSignal(state.sig_open_run) as opened:
        button(page, "Open").click()
    assert opened.args == [engine_runs.gpt]
    with qtbot.waitSignal(state.sig_use_run) as used:
        button(page, "Use in Playground").click()
    assert used.args == [engine_runs.gpt]
    with qtbot.waitSignal(state.sig_compare_run) as compared:
        button(page, "Compare").click()
    assert compared.args == [engine_runs.gpt]
    with qtbot.waitSignal(state.sig_resume_run) as resumed:
        button(page, "Resume").click()
    assert resumed.args == [engine_runs.gpt]
    page.shutdown()


def test_delete_asks_first_and_is_refused_for_the_training_run(qtbot, tmp_path, copied_runs,
                                                               monkeypatch, engine_runs):
    page, state = make_page(qtbot, tmp_path, copied_runs.parent)
    gpt = copied_runs / engine_runs.gpt.name
    answers = []

    def answer(choice):
        def question(*args, **kwargs):
            answers.append(args[2])
            return choice
        return question

    page.select_run(gpt)
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    button(page, "Delete…").click()
    assert gpt.is_dir() and len(answers) == 1 and gpt.name in answers[0]

    state.training_run = gpt
    page.refresh()
    assert page.row_text(gpt)[5] == "training" and not button(page, "Delete…").isEnabled()
    state.training_run = None
    page.refresh()
    assert button(page, "Delete…").isEnabled()

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(state.sig_runs_changed):
        button(page, "Delete…").click()
    assert not gpt.exists()
    assert page.run_paths() == [copied_runs / engine_runs.bert.name]
    page.shutdown()


def test_poll_sees_a_new_run_folder(qtbot, tmp_path, copied_runs, engine_runs):
    page, _ = make_page(qtbot, tmp_path, copied_runs.parent)
    page._poll.setInterval(50)
    page.show()
    assert len(page.run_paths()) == 2
    shutil.copytree(engine_runs.gpt, copied_runs / "20990101-000000-copy")
    with qtbot.waitSignal(page.sig_refreshed, timeout=5000):
        pass  # the poll timer notices the new folder
    assert len(page.run_paths()) == 3
    page.shutdown()


def test_runs_page_shows_the_confusion_of_a_finished_classify_run(qtbot, tmp_path, finetune_runs,
                                                                  click_a_mistake):
    page, _ = make_page(qtbot, tmp_path, finetune_runs.runs_root.parent)
    assert page.select_run(finetune_runs.qa)
    assert not button(page, "Confusion…").isEnabled()  # a QA run has no confusion matrix
    assert page.select_run(finetune_runs.classify)
    assert button(page, "Confusion…").isEnabled()
    with qtbot.waitSignal(page.sig_confusion_shown, timeout=10000) as shown:
        button(page, "Confusion…").click()
    dialog = shown.args[0]
    report = json.loads((finetune_runs.classify / "results.json").read_text())
    view = dialog.view
    assert dialog.isVisible() and view.labels == report["labels"]
    assert view.matrix == report["confusion"] and f"{report['accuracy']:.3f}" in \
        dialog.summary.text()
    n = len(view.labels)
    counts = [[int(view.table.item(i, j).text()) for j in range(n)] for i in range(n)]
    assert counts == report["confusion"]
    i, j, (true, pred, texts) = click_a_mistake(view)
    expected = [m["text"] for m in report["mistakes"]
                if (m["label"], m["predicted"]) == (true, pred)]
    assert (true, pred) == (view.labels[i], view.labels[j]) and texts == expected
    qtbot.waitUntil(button(page, "Confusion…").isEnabled)
    page.shutdown()
    assert not dialog.isVisible()


def test_reveal_opens_the_folder_and_shows_and_copies_its_path(qtbot, tmp_path, engine_runs):
    from PySide6.QtCore import QObject, QUrl, Slot
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QApplication

    class FileManager(QObject):  # what the desktop would hand a folder to
        def __init__(self) -> None:
            super().__init__()
            self.opened: list[str] = []

        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            self.opened.append(url.toLocalFile())

    page, _ = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    manager = FileManager()
    QDesktopServices.setUrlHandler("file", manager, "open")
    try:
        page.select_run(engine_runs.gpt)
        button(page, "Reveal").click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert manager.opened == [str(engine_runs.gpt)]
    assert QApplication.clipboard().text() == str(engine_runs.gpt)
    assert str(engine_runs.gpt) in page.message_label.text()
    assert page.message_label.text().startswith("Opened in the file manager")
    page.shutdown()


def test_the_training_runs_row_follows_the_loops_step(qtbot, tmp_path, engine_runs):
    page, state = make_page(qtbot, tmp_path, engine_runs.runs_root.parent)
    state.training_run = engine_runs.gpt
    state.sig_run_started.emit(engine_runs.gpt)
    state.sig_run_progress.emit(engine_runs.gpt, 120, 150)
    assert page.row_text(engine_runs.gpt)[3] == "120 / 150"  # not the folder's last record
    page.refresh()  # a poll that rereads the folders keeps the live step
    row = page.row_text(engine_runs.gpt)
    assert (row[COLUMNS.index("Steps")], row[COLUMNS.index("State")]) == ("120 / 150", "training")
    state.training_run = None
    state.sig_run_finished.emit(engine_runs.gpt, "completed")
    assert page.row_text(engine_runs.gpt)[3] == "30 / 30"
    page.shutdown()
