"""The Data page on real files with the real engine: counts, preview, prepare, cancel, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QSpinBox, QTreeWidget

from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.core.data.store import TokenStore
from lmstudio_app.gui.find import button, labelled, named, only
from lmstudio_app.gui.pages.data.page import KEY_SOURCES, DataPage
from lmstudio_app.gui.pages.data.token_view import TokenView


def make_page(qtbot, state, sources=None):
    if sources is not None:
        state.set_value(KEY_SOURCES, json.dumps([str(s) for s in sources]))
    page = DataPage(state)
    qtbot.addWidget(page)
    return page


def wait_counted(qtbot, page, path, timeout=10000):
    qtbot.waitUntil(lambda: page.counts(str(path)) is not None, timeout=timeout)
    return page.counts(str(path))


def test_first_start_lists_the_sample_corpus(qtbot, app_state):
    page = make_page(qtbot, app_state)
    assert page.source_paths() == [str(sample_corpus())]
    counts = wait_counted(qtbot, page, sample_corpus(), timeout=20000)
    assert counts.error is None and counts.files == 2 and counts.documents > 10
    assert counts.chars > 1_000_000
    page.shutdown()
    # The list persists: a second page sees the same sources, without counting the sample again.
    assert json.loads(app_state.value(KEY_SOURCES)) == [str(sample_corpus())]


def test_add_file_counts_it_and_previews_it(qtbot, app_state, austen_corpus):
    page = make_page(qtbot, app_state, sources=[])
    path = austen_corpus / "austen.txt"
    with qtbot.waitSignal(page.sig_preview_shown, timeout=5000):
        page.add_sources([path])  # the first source is selected, so its preview shows at once
    counts = wait_counted(qtbot, page, path)
    text = path.read_text(encoding="utf-8")
    assert counts.error is None and counts.size == path.stat().st_size
    assert counts.chars == len(text) and counts.documents >= 2
    item = named(page, "Sources", QTreeWidget).topLevelItem(0)
    assert item.text(3) == f"{len(text):,}"
    assert item.isSelected()
    shown = named(page, "Preview", QPlainTextEdit).toPlainText()
    assert shown == text[: len(shown)]
    assert len(named(page, "Preview", QPlainTextEdit).toPlainText()) > 1000
    assert json.loads(app_state.value(KEY_SOURCES)) == [str(path)]
    page.shutdown()


def test_drop_on_the_list_adds_sources(qtbot, app_state, austen_corpus):
    page = make_page(qtbot, app_state, sources=[])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(austen_corpus))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    named(page, "Sources", QTreeWidget).dropEvent(event)
    assert page.source_paths() == [str(austen_corpus)]
    assert wait_counted(qtbot, page, austen_corpus).files == 1
    page.shutdown()


def test_bad_utf8_gives_a_readable_message_and_keeps_the_list(qtbot, app_state, tmp_path,
                                                              austen_corpus):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Some good text first.\n\nthen a bad byte \xff here\n")
    good = austen_corpus / "austen.txt"
    page = make_page(qtbot, app_state, sources=[good])
    page.add_sources([bad])
    counts = wait_counted(qtbot, page, bad)
    assert "bad.txt" in counts.error and "UTF-8" in counts.error
    assert counts.fields == ("encoding",)
    assert page.error_text().startswith("Encoding: ") and "Traceback" not in page.error_text()
    assert named(page, "Sources", QTreeWidget).topLevelItem(1).text(4) == "error"

    # Preparing with the bad file fails with a readable line; nothing listed is lost.
    app_state.home.mkdir(parents=True, exist_ok=True)
    with qtbot.waitSignal(page.sig_prepare_finished, timeout=20000) as done:
        page.start_prepare()
    assert done.args == ["failed"]
    assert "bad.txt" in page.error_text() and "UTF-8" in page.error_text()
    assert page.source_paths() == [str(good), str(bad)]
    assert not page.out_dir().exists()

    # Choosing another encoding counts it again, without the error.
    labelled(page, "Encoding", QComboBox).setCurrentText("replace")
    assert wait_counted(qtbot, page, bad).error is None
    page.shutdown()


def test_prepare_shows_progress_figures_and_pieces(qtbot, app_state, austen_corpus):
    page = make_page(qtbot, app_state, sources=[austen_corpus / "austen.txt"])
    labelled(page, "Vocabulary", QSpinBox).setValue(500)
    assert page.out_dir().parent == app_state.data_root
    assert page.out_dir().name == "austen-unigram-500"
    ready = []
    app_state.sig_data_ready.connect(ready.append)
    job_progress, labels = [], []
    with qtbot.waitSignal(page.sig_prepare_finished, timeout=30000) as done:
        page.start_prepare()
        assert page.busy() is not None and not button(page, "Prepare").isEnabled()
        job = page.prepare_panel.job
        job.sig_progress.connect(lambda p: job_progress.append(p.stage))
        job.sig_progress.connect(lambda p: labels.append(named(page, "Progress", QLabel).text()))
    stages = set(job_progress)
    # A rate in binary units (core.util.units), the time left and the files done.
    assert any(re.search(r"\d [KMG]?i?B/s", t) and "ETA" in t and "files 1/1" in t
               for t in labels)
    assert done.args == ["done"]
    assert {"tokenizer", "encode"} <= stages
    assert ready == [page.out_dir()]
    store = TokenStore.open(page.out_dir() / "tokens.h5")
    s = page.last_summary
    assert (s.train_tokens, s.val_tokens) == (store.n_tokens("train"), store.n_tokens("val"))
    assert f"{store.n_tokens('train'):,}" in named(page, "Tokens", QLabel).text()
    assert "500" in named(page, "Vocabulary", QLabel).text()
    pieces = only(page, TokenView).pieces()
    assert len(pieces) > 5 and "".join(pieces) == s.sample
    assert only(page, TokenView).ids() == s.ids
    assert "id " in only(page, TokenView).tooltip_for(0)
    assert page.busy() is None and button(page, "Prepare").isEnabled()
    page.shutdown()


def test_cancel_prepare_leaves_no_thread_and_no_store(qtbot, app_state, tmp_path):
    # A larger corpus, so there is time to cancel while the tokenizer trains or encoding runs.
    corpus = sample_corpus()
    page = make_page(qtbot, app_state, sources=[corpus])
    labelled(page, "Vocabulary", QSpinBox).setValue(2000)
    out = page.out_dir()
    with qtbot.waitSignal(page.sig_prepare_finished, timeout=30000) as done:
        page.start_prepare()
        qtbot.waitUntil(lambda: page.prepare_panel.stage in ("tokenizer", "encode"),
                        timeout=10000)
        button(page, "Cancel").click()
    assert done.args == ["cancelled"]
    assert page.busy() is None and button(page, "Prepare").isEnabled()
    assert not (out / "tokens.h5").exists() and not (out / "tokenizer.model").exists()
    assert page.source_paths() == [str(corpus)]
    page.shutdown()


def test_settings_persist(qtbot, app_state, austen_corpus):
    page = make_page(qtbot, app_state, sources=[austen_corpus])
    labelled(page, "Tokenizer", QComboBox).setCurrentText("bpe")
    labelled(page, "Vocabulary", QSpinBox).setValue(1000)
    page.shutdown()
    again = make_page(qtbot, app_state)
    assert again.source_paths() == [str(austen_corpus)]
    assert labelled(again, "Tokenizer", QComboBox).currentText() == "bpe"
    assert labelled(again, "Vocabulary", QSpinBox).value() == 1000
    assert Path(again.out_dir()).name.endswith("-bpe-1000")
    again.shutdown()


def test_missing_column_names_the_setting_to_change(qtbot, app_state, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"body": "First document."}\n{"body": "Second one."}\n', encoding="utf-8")
    page = make_page(qtbot, app_state, sources=[rows])
    counts = wait_counted(qtbot, page, rows)
    assert "rows.jsonl" in counts.error and counts.fields == ("text_field",)
    # The page names the setting by its label, outlines it, and keeps its tooltip's reason.
    assert page.error_text().startswith("Text field: ") and "rows.jsonl" in page.error_text()
    assert "border" in labelled(page, "Text field", QLineEdit).styleSheet()
    assert labelled(page, "Text field", QLineEdit).toolTip().startswith("Text field (text_field): ")
    labelled(page, "Text field", QLineEdit).setText("body")
    labelled(page, "Text field", QLineEdit).editingFinished.emit()
    counts = wait_counted(qtbot, page, rows)
    assert counts.error is None and counts.documents == 2
    assert labelled(page, "Text field", QLineEdit).styleSheet() == "" and page.error_text() == ""
    assert counts.chars == len("First document.") + len("Second one.")
    page.shutdown()


def test_a_failed_prepare_outlines_the_encoding_and_names_no_flag(qtbot, app_state, tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("Caf\u00e9 au lait, and more text after it.\n".encode("latin-1") * 50)
    page = make_page(qtbot, app_state, sources=[bad])
    labelled(page, "Vocabulary", QSpinBox).setValue(100)
    app_state.home.mkdir(parents=True, exist_ok=True)
    tip = labelled(page, "Encoding", QComboBox).toolTip()
    with qtbot.waitSignal(page.sig_prepare_finished, timeout=20000) as done:
        page.start_prepare()
    assert done.args == ["failed"]
    text = page.error_text()
    assert text.startswith("Preparing the data failed: Encoding: ") and "latin.txt" in text
    assert "--" not in text and "UTF-8" in text
    assert "border" in labelled(page, "Encoding", QComboBox).styleSheet()
    assert labelled(page, "Encoding", QComboBox).toolTip().startswith("Encoding (encoding): ")
    assert labelled(page, "Tokenizer", QComboBox).styleSheet() == ""
    assert labelled(page, "Text field", QLineEdit).styleSheet() == ""
    # Choosing another encoding takes the outline and the line away, and the tooltip comes back.
    labelled(page, "Encoding", QComboBox).setCurrentText("latin-1")
    assert labelled(page, "Encoding", QComboBox).styleSheet() == "" and page.error_text() == ""
    assert labelled(page, "Encoding", QComboBox).toolTip() == tip
    page.shutdown()


def test_the_first_start_says_what_to_press_until_a_run_exists(qtbot, app_state, prepared_data):
    shown = []
    app_state.sig_show_page.connect(shown.append)
    page = make_page(qtbot, app_state)
    assert not page.hint.isHidden()
    assert "Press <b>Prepare</b>" in page.hint.text() and "Train page" in page.hint.text()
    item = named(page, "Sources", QTreeWidget).topLevelItem(0)
    assert item.text(0) == "Bundled sample corpus (two Jane Austen novels)"
    page.hint.linkActivated.emit("Train")  # the link in the hint
    assert shown == ["Train"]
    app_state.sig_data_ready.emit(prepared_data)
    assert page.hint.text().startswith("<b>Data ready.</b>")
    run = app_state.runs_root / "20260101-000000-tiny-clm"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    app_state.sig_runs_changed.emit()
    assert page.hint.isHidden()
    page.shutdown()


def test_a_store_prepared_in_an_earlier_session_is_mentioned(qtbot, app_state):
    page = make_page(qtbot, app_state)
    assert named(page, "Progress", QLabel).text() == ""
    page.shutdown()
    (page.out_dir()).mkdir(parents=True)
    (page.out_dir() / "tokens.h5").write_bytes(b"")
    again = make_page(qtbot, app_state)
    line = named(again, "Progress", QLabel).text()
    assert line.startswith(f"Prepared before: {again.out_dir()}.")
    again.shutdown()
