"""The Train page end to end: a real tiny model on a real prepared corpus, in a worker thread."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit

from lmstudio_app.core import runs
from lmstudio_app.gui.find import button, choose, labelled, named, only, setting
from lmstudio_app.gui.pages.train.page import TrainPage
from lmstudio_app.gui.pages.train.samples_panel import SamplesPanel
from lmstudio_app.gui.state import AppState
from lmstudio_app.gui.widgets.curves import CurvesWidget

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
        "log_interval": 1, "learning_rate": 0.003}


@pytest.fixture
def state(tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    return AppState(settings, tmp_path / "home")


@pytest.fixture
def page(qtbot, state, prepared_data):
    page = TrainPage(state)
    qtbot.addWidget(page)
    state.sig_data_ready.emit(prepared_data)
    choose(page, "Device", "cpu")
    yield page
    page.shutdown()


def fill(page: TrainPage, **values) -> None:
    for key, value in {**TINY, **values}.items():
        page.set_field(key, value)


def start(qtbot, page: TrainPage) -> None:
    assert button(page, "Start").isEnabled(), named(page, "Errors", QLabel).text()
    with qtbot.waitSignal(page.sig_started, timeout=30000):
        qtbot.mouseClick(button(page, "Start"), Qt.MouseButton.LeftButton)


def test_train_until_20_steps_are_plotted_then_stop(qtbot, page, state):
    fill(page, max_steps=5000, eval_interval=10)
    finished = []
    state.sig_run_finished.connect(lambda path, reason: finished.append((path, reason)))
    start(qtbot, page)
    run_dir = page.run_folder()
    assert state.training_run == run_dir
    assert not button(page, "Start").isEnabled() and button(page, "Stop").isEnabled()
    qtbot.waitUntil(lambda: only(page, CurvesWidget).n_points() >= 20, timeout=60000)

    with qtbot.waitSignal(page.sig_done, timeout=30000) as done:
        qtbot.mouseClick(button(page, "Stop"), Qt.MouseButton.LeftButton)
    assert done.args[1] == "stopped"
    assert finished == [(run_dir, "stopped")]

    # Every logged step reached the plot, in order, up to the step the loop stopped at.
    step = page.run_step()
    assert step >= 20
    only(page, CurvesWidget).flush()
    np.testing.assert_array_equal(only(page, CurvesWidget).loss.x, np.arange(1, step + 1))
    assert np.isfinite(only(page, CurvesWidget).loss.y).all()
    x, _ = only(page, CurvesWidget).loss_curve.getData()
    assert x[-1] == step
    # Evaluations every 10 steps: validation points and one sample each.
    assert list(only(page, CurvesWidget).val.x) == list(range(10, step + 1, 10))
    assert [s for s, _ in only(page, SamplesPanel).samples] == list(range(10, step + 1, 10))
    assert named(page, "Samples", QPlainTextEdit).toPlainText().count("── step") == len(
        only(page, SamplesPanel).samples)
    # Saved at the stop, and the run folder says so.
    status = json.loads((run_dir / runs.STATUS).read_text())
    assert status["state"] == "stopped" and status["step"] == step
    assert (run_dir / "model.safetensors").is_file()
    assert button(page, "Start").isEnabled() and not button(page, "Stop").isEnabled()
    assert page.busy() is None


def test_pause_resume_then_stop_while_paused(qtbot, page):
    fill(page, max_steps=5000, eval_interval=1000)
    start(qtbot, page)
    qtbot.waitUntil(lambda: only(page, CurvesWidget).n_points() >= 3, timeout=60000)
    with qtbot.waitSignal(page.sig_paused, timeout=30000) as paused:
        qtbot.mouseClick(button(page, "Pause"), Qt.MouseButton.LeftButton)
    at = paused.args[0]
    assert page.run_state() == "paused"
    assert button(page, "Resume").isEnabled() and not button(page, "Pause").isEnabled()
    assert "Paused" in named(page, "Progress", QLabel).text()
    qtbot.wait(300)
    assert page.run_step() == at  # nothing moves while paused

    qtbot.mouseClick(button(page, "Resume"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.run_step() > at + 2, timeout=30000)
    with qtbot.waitSignal(page.sig_paused, timeout=30000):
        page.pause()
    with qtbot.waitSignal(page.sig_done, timeout=30000) as done:
        page.stop()  # a paused loop wakes up to see the stop
    assert done.args[1] == "stopped"


def test_open_and_resume_a_stopped_run_continue_its_curve(qtbot, page, state):
    fill(page, max_steps=30, eval_interval=10)
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.run_step() >= 5, timeout=60000)
    with qtbot.waitSignal(page.sig_done, timeout=30000):
        page.stop()
    run_dir, stopped_at = page.run_folder(), page.run_step()
    assert stopped_at < 30

    only(page, CurvesWidget).clear()
    with qtbot.waitSignal(page.sig_history_loaded, timeout=10000):
        state.sig_open_run.emit(run_dir)
    assert only(page, CurvesWidget).n_points() == stopped_at

    with qtbot.waitSignal(page.sig_done, timeout=60000) as done:
        state.sig_resume_run.emit(run_dir)
    assert done.args == [run_dir, "completed"]
    np.testing.assert_array_equal(only(page, CurvesWidget).loss.x, np.arange(1, 31))
    assert json.loads((run_dir / runs.STATUS).read_text())["step"] == 30


def test_an_invalid_value_disables_start_and_says_why(qtbot, page):
    fill(page, max_steps=20, eval_interval=10)
    assert button(page, "Start").isEnabled()
    assert "to train on" in named(page, "Size", QLabel).text()
    assert page.parameter_count > 0 and page.memory_estimate > 0

    page.set_field("n_head", "3")  # 32 is not a multiple of 3: the engine's rule
    assert not button(page, "Start").isEnabled()
    assert not page.start()
    for key in ("n_head", "n_embd"):
        assert "border" in setting(page, key).styleSheet()
        assert "not divisible" in setting(page, key).toolTip()
    assert "not divisible" in named(page, "Errors", QLabel).text()
    assert setting(page, "dropout").styleSheet() == ""

    page.set_field("n_head", "2")
    page.set_field("learning_rate", "fast")
    assert not button(page, "Start").isEnabled()
    assert "expected a number" in setting(page, "learning_rate").toolTip()
    page.set_field("learning_rate", "0.003")
    page.set_field("dropout", "1.5")
    errors = named(page, "Errors", QLabel)
    assert errors.text() == "Dropout 1.5: must be in [0, 1)."  # the form's label
    page.set_field("dropout", "0")
    assert button(page, "Start").isEnabled() and named(page, "Errors", QLabel).text() == ""


def test_without_data_start_is_disabled(qtbot, state):
    page = TrainPage(state)
    qtbot.addWidget(page)
    assert page.data_dir is None
    assert not button(page, "Start").isEnabled()
    assert "Data page" in named(page, "Errors", QLabel).text()


def test_evaluate_every_past_the_steps_warns_in_the_forms_words(qtbot, page):
    fill(page, max_steps=150, eval_interval=200)
    assert button(page, "Start").isEnabled()  # a warning, not a mistake
    assert not page.form.warning_label.isHidden()
    text = page.form.warning_label.text()
    assert text.startswith("Warning: Evaluate every 200 is more than Steps 150")
    assert "Playground" in text and "30" in text and "eval_interval" not in text
    page.set_field("eval_interval", "30")
    assert page.form.warning_label.isHidden() and page.form.warnings == []


def test_a_run_bigger_than_the_machine_warns_and_names_what_to_lower(qtbot, page):
    from lmstudio_app.core.util.memory import physical_memory_bytes

    fill(page, max_steps=20, eval_interval=10)
    assert page.form.warning_label.isHidden()
    # GPT-2 small's width at a long context and a big batch: far past this machine's memory.
    fill(page, n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=256,
         max_steps=20, eval_interval=10)
    assert page.memory_estimate > physical_memory_bytes()
    text = page.form.warning_label.text()
    assert text.startswith("Warning: Batch size · Context length")
    assert "more than the" in text and "of memory on this machine" in text
    assert button(page, "Start").isEnabled()


def test_the_architecture_and_optimizer_choices_reach_the_run(qtbot, page):
    choose(page, "Architecture", "llama")
    assert setting(page, "n_embd").text() == "96"  # the Llama tiny preset's sizes were shown
    fill(page, max_steps=20, eval_interval=10)
    choose(page, "Optimizer", "muon")
    assert button(page, "Start").isEnabled(), named(page, "Errors", QLabel).text()
    cfg = page.form.config
    assert (cfg.model.arch, cfg.model.n_kv_head, cfg.train.optimizer) == ("llama", 2, "muon")
    assert "to train on" in named(page, "Size", QLabel).text()

    choose(page, "Architecture", "gpt")
    choose(page, "Preset", "smollm2-135m")  # Llama only
    assert not button(page, "Start").isEnabled()
    assert "border" in labelled(page, "Preset", QComboBox).styleSheet()
    assert "smollm2-135m" in named(page, "Errors", QLabel).text()
