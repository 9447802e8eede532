"""lmstudio_app.log records what happened: where things live, preparations, runs, failures."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSpinBox, QTreeWidget

from lmstudio_app.gui.app import setup_logging
from lmstudio_app.gui.find import choose, labelled, named
from lmstudio_app.gui.pages.data.page import DataPage
from lmstudio_app.gui.pages.train.page import TrainPage
from lmstudio_app.gui.state import AppState

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
        "max_steps": 6, "eval_interval": 3, "log_interval": 1}


@pytest.fixture
def logged(tmp_path):
    """The app's log file set up in a home of its own; its handlers go again after the test."""
    path = setup_logging(tmp_path / "home")
    yield path
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_lmstudio_app", False)]:
        root.removeHandler(handler)
        handler.close()


def test_prepares_runs_and_failures_reach_the_log(qtbot, tmp_path, logged, austen_corpus):
    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                     tmp_path / "home")
    data, train = DataPage(state), TrainPage(state)
    for page in (data, train):
        qtbot.addWidget(page)
    data.sources_panel.remove_selected()
    named(data, "Sources", QTreeWidget).clear()
    data.add_sources([austen_corpus / "austen.txt"])
    # More pieces than the corpus can give: a failure.
    labelled(data, "Vocabulary", QSpinBox).setValue(100000)
    with qtbot.waitSignal(data.sig_prepare_finished, timeout=60000) as done:
        data.start_prepare()
    assert done.args == ["failed"]
    labelled(data, "Vocabulary", QSpinBox).setValue(400)
    with qtbot.waitSignal(data.sig_prepare_finished, timeout=60000) as done:
        data.start_prepare()
    assert done.args == ["done"]

    choose(train, "Device", "cpu")
    for key, value in TINY.items():
        train.set_field(key, value)
    with qtbot.waitSignal(state.sig_run_finished, timeout=60000) as done:
        assert train.start(), train.start_refusal()
    run_dir = done.args[0]
    for page in (data, train):
        page.shutdown()

    text = logged.read_text(encoding="utf-8")
    out_dir = data.out_dir()
    assert "WARNING MainThread lmstudio_app.gui.pages.data.prepare_panel: preparing the data " \
        "failed: vocab size 100000" in text
    assert f"preparing {out_dir} from {austen_corpus / 'austen.txt'}" in text
    assert f"prepared {out_dir}: " in text
    assert f"starting run {run_dir} (clm, preset tiny, 6 steps, device cpu)" in text
    assert f"run {run_dir}: completed at step 6" in text
