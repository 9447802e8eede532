"""Progress between log points: the bar, the line of figures and the Runs page follow every
step of a real run; before its first step the page says what the loop is doing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QProgressBar

from lmstudio_app.gui.find import button, choose, named, only
from lmstudio_app.gui.pages.runs import RunsPage
from lmstudio_app.gui.pages.train.page import TrainPage
from lmstudio_app.gui.pages.train.progress_panel import ProgressPanel
from lmstudio_app.gui.state import AppState
from lmstudio_app.gui.widgets.curves import CurvesWidget

# Log points 1,000 steps apart: everything the test sees before one comes from the counter.
SLOW_LOG = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
            "max_steps": 100000, "log_interval": 1000, "eval_interval": 1000}


@pytest.fixture
def pages(qtbot, tmp_path, prepared_data):
    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                     tmp_path / "home")
    train, runs_page = TrainPage(state), RunsPage(state)
    for page in (train, runs_page):
        qtbot.addWidget(page)
    state.sig_data_ready.emit(prepared_data)
    choose(train, "Device", "cpu")
    for key, value in SLOW_LOG.items():
        train.set_field(key, value)
    yield train, runs_page, state
    train.shutdown()
    runs_page.shutdown()


def test_the_bar_the_figures_and_the_runs_page_move_between_log_points(qtbot, pages):
    train, runs_page, _ = pages
    phases = []
    train.sig_phase.connect(phases.append)
    with qtbot.waitSignal(train.sig_started, timeout=30000):
        qtbot.mouseClick(button(train, "Start"), Qt.MouseButton.LeftButton)
    run_dir = train.run_folder()
    bar = named(train, "Training progress", QProgressBar)
    qtbot.waitUntil(lambda: bar.value() >= 5, timeout=60000)
    step = bar.value()
    # No log point yet: the counter moved.
    assert only(train, CurvesWidget).n_points() == 0 and step < 1000
    line = named(train, "Progress", QLabel)
    assert line.text().startswith(f"step {step:,} / 100,000")
    assert line.text() != "Starting…"
    qtbot.waitUntil(lambda: runs_page.row_text(run_dir)[3] != "0 / 100,000", timeout=5000)
    shown = int(runs_page.row_text(run_dir)[3].split(" / ")[0].replace(",", ""))
    assert shown >= step and runs_page.row_text(run_dir)[5] == "training"
    assert phases[0] == "loading the data and building the model"
    with qtbot.waitSignal(train.sig_done, timeout=30000):
        train.stop()
    assert named(train, "Progress", QLabel).text().startswith("Stopped at step")


def test_before_the_first_step_the_line_says_what_the_loop_does(qtbot):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.started({"run_dir": "/runs/r", "start_step": 0, "max_steps": 10, "parameters": 10})
    assert panel.progress_label.text() == "The first step…"
    panel.phase("compiling the model: the first steps take longer")
    assert panel.progress_label.text() == "Compiling the model: the first steps take longer…"
    assert panel.live(3)
    assert panel.progress_label.text() == "step 3 / 10" and panel.progress.value() == 3
    panel.phase("evaluating")
    assert panel.progress_label.text() == "step 3 / 10 · evaluating…"
    assert not panel.live(3)  # the counter has not moved


def test_mfu_and_gpu_memory_show_beside_tokens_per_s_only_when_present(qtbot):
    from lmstudio_app.core.training.sinks import StepMetrics
    from lmstudio_app.gui.training import QtSink

    sink, rows = QtSink(), []
    sink.sig_steps.connect(lambda r, n: rows.append(r))
    gib = 2**30
    sink.step(StepMetrics(10, 2.5, 1e-3, 1.0, 50_000.0, 3.0, 100, mfu=0.41,
                          memory_allocated=3 * gib, memory_reserved=4 * gib,
                          max_memory_allocated=int(3.5 * gib)))
    sink.flush()
    sink.step(StepMetrics(20, 2.4, 1e-3, 1.0, 50_000.0, 6.0, 100))  # a CPU step: none of them
    sink.flush()
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.started({"start_step": 0, "max_steps": 100})
    panel.logged(rows[0], 100)
    assert ("50,000 tokens/s · MFU 41% · GPU 3.0 GiB (peak 3.5 GiB of 4.0 GiB reserved)"
            in panel.progress_label.text())
    panel.logged(rows[1], 100)
    assert "50,000 tokens/s · ETA" in panel.progress_label.text()
    assert "MFU" not in panel.progress_label.text() and "GPU" not in panel.progress_label.text()
