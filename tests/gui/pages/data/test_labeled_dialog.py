"""The labeled-data dialog on the Data page, with the real loaders: mapping and checking a
file, its encoding, and handing it to the Train page's fine-tuning form."""

from __future__ import annotations

import json
import shutil

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel

from lmstudio_app.core.data import labeled
from lmstudio_app.gui.find import choose, named, only
from lmstudio_app.gui.pages.data.labeled_dialog import bar_heights
from lmstudio_app.gui.pages.data.page import DataPage
from lmstudio_app.gui.pages.train.finetune_form import FinetuneForm
from lmstudio_app.gui.state import AppState


def test_mapping_dialog_checks_a_file_and_sets_the_fine_tune_defaults(qtbot, tmp_path,
                                                                      finetune_runs, train_page_on):
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,stars\n1,Great value and kind staff,good\n"
                    "2,Cold food and a long wait,bad\n3,,good\n4,Lovely garden,good\n"
                    "5,Great value and kind staff,good\n", encoding="utf-8")
    root = tmp_path / "home" / "runs"
    shutil.copytree(finetune_runs.runs_root, root)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=root.parent)
    data_page = DataPage(state)
    qtbot.addWidget(data_page)
    train, _ = train_page_on(root)
    state.sig_labeled_ready.connect(train.use_labeled)  # in the window, one shared state

    dialog = data_page.open_labeled(path)
    qtbot.waitUntil(lambda: bool(dialog.columns), timeout=10000)
    assert dialog.columns == ["id", "review", "stars"], dialog.status.text()
    assert dialog.use_button.isDefault() and not dialog.close_button.isDefault()
    assert dialog.table.rowCount() >= 3 and dialog.table.item(0, 1).text().startswith("Great")
    assert dialog.mapping()["text"] == "review"  # guessed from the column's name
    # The mapping is checked as it changes: no button to press.
    dialog.set_mapping({"text": "review", "label": "stars"})
    assert not dialog.use_button.isEnabled()  # not checked yet
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)
    report = dialog.report
    assert (report.rows_read, report.rows_used) == (5, 4)
    text = dialog.report_view.toPlainText()
    assert "line 4" in text and "duplicate" in text
    assert sorted(bar_heights(dialog.bars)) == [1.0, 3.0]
    qtbot.waitUntil(dialog.use_button.isEnabled)
    with qtbot.waitSignal(state.sig_labeled_ready) as ready:  # Enter: the default button
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    choice = ready.args[0]
    assert choice.path == path and choice.columns == {"text": "review", "label": "stars"}
    form = only(train, FinetuneForm)
    assert train.mode() == "finetune" and form.task() == "classify"
    assert form.file_edit.text() == str(path)
    assert form.text_col.text() == "review" and form.label_col.text() == "stars"
    data_page.shutdown()
    train.shutdown()


def _latin1_reviews(path):
    """A labeled CSV in latin-1: every text has an é (byte 0xe9, never valid UTF-8 there)."""
    rows = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()[1:]
    rows = [r for r in rows if r.isascii()]
    rows = rows[:20] + rows[-20:]  # the sample is grouped by label: both ends
    lines = ["text,label", *(r.replace(",", " au café,", 1) if not r.startswith('"')
                             else r.replace('",', ' au café",', 1) for r in rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def test_a_latin1_labeled_file_fine_tunes_with_the_encoding_chosen_in_the_dialog(
        qtbot, tmp_path, train_page_on, engine_runs):
    path = _latin1_reviews(tmp_path / "cafe.csv")
    root = tmp_path / "home" / "runs"
    shutil.copytree(engine_runs.runs_root, root)
    train, state = train_page_on(root)
    data_page = DataPage(state)
    qtbot.addWidget(data_page)

    # Read as utf-8 (the default), the file is refused with a pointer to the Encoding box.
    dialog = data_page.open_labeled(path)
    qtbot.waitUntil(lambda: "not valid UTF-8" in dialog.status.text(), timeout=10000)
    # The dialog names its own setting, outlines it, and names no command-line flag.
    assert dialog.status.text().startswith("Encoding: ") and "--" not in dialog.status.text()
    assert "border" in dialog.encoding_box.styleSheet()
    assert not dialog.use_button.isEnabled()
    qtbot.waitUntil(dialog.encoding_box.isEnabled)  # off while the file is read
    dialog.encoding_box.setCurrentText("latin-1")
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10000)  # read, then checked
    assert "café" in dialog.table.item(0, 0).text()
    assert dialog.encoding_box.styleSheet() == ""
    assert dialog.report.rows_used == 40
    qtbot.waitUntil(dialog.use_button.isEnabled)
    with qtbot.waitSignal(state.sig_labeled_ready) as ready:
        dialog.use_button.click()
    assert ready.args[0].encoding == "latin-1"

    form = only(train, FinetuneForm)
    assert train.mode() == "finetune" and form.encoding() == "latin-1"
    assert form.file_edit.text() == str(path)
    form.steps.setValue(4)
    form.eval_every.setValue(4)
    form.batch_size.setValue(8)
    choose(train, "Device", "cpu")
    assert train.config is not None and train.config.finetune.encoding == "latin-1"
    with qtbot.waitSignal(train.sig_results_shown, timeout=60000):
        assert train.start()
    assert train.run_reason() == "completed", named(train, "Errors", QLabel).text()
    assert "UTF-8" not in named(train, "Errors", QLabel).text()
    config = json.loads((train.run_folder() / "config.json").read_text())
    assert config["run"]["finetune"]["encoding"] == "latin-1"
    data_page.shutdown()
    train.shutdown()




def test_the_files_fields_choose_the_task_and_a_free_text_label_is_refused(qtbot, tmp_path):
    from lmstudio_app.gui.pages.data.labeled_dialog import LabeledDataDialog

    # Opened as a classification set, qa.jsonl becomes a question-answering set by its fields.
    dialog = LabeledDataDialog(labeled.sample_qa_path(), family="classify")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.columns), timeout=10000)
    assert dialog.family() == "qa" and dialog.task_box.currentText().startswith("Question")
    assert list(dialog.role_boxes) == ["question", "context", "answer", "answer_start"]
    qtbot.waitUntil(dialog.use_button.isEnabled, timeout=10000)
    assert "make a question-answering set" in dialog.status.text()
    assert "classes" not in dialog.report_view.toPlainText()
    # The person's choice holds afterwards: back to classification, the file is refused with
    # the task its fields make.
    choose(dialog, "Task", "classify")
    qtbot.waitUntil(lambda: "qa-extractive" in dialog.status.text(), timeout=10000)
    assert dialog.family() == "classify" and not dialog.use_button.isEnabled()
    assert dialog.status.text().startswith("Task:")  # the control at fault is named
    dialog.shutdown()

    # Text and label swapped: refused before fine-tuning, naming the column and the fix.
    rows = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()[1:101]
    swapped = tmp_path / "swapped.jsonl"
    with swapped.open("w", encoding="utf-8") as f:
        for row in rows:
            text, label = row.rsplit(",", 1)
            f.write(json.dumps({"text": label, "label": text.strip('"')}) + "\n")
    dialog = LabeledDataDialog(swapped, family="classify")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "free text" in dialog.status.text(), timeout=10000)
    assert "'label' looks like free text (100 classes in 100 rows" in dialog.status.text()
    assert "map the label to 'text'" in dialog.status.text()
    assert dialog.report is None and not dialog.use_button.isEnabled()
    dialog.shutdown()
