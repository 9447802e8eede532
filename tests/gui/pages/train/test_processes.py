"""The Train page with Processes = 2: the run is launched as two gloo processes on the CPU
(PyTorch's launcher, as a subprocess), followed through its run folder, and stopped through its
control file. Every process launched is killed at the end of each test, whatever happened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel

from lmstudio_app.core import runs
from lmstudio_app.gui.find import button, choose, labelled, named, only
from lmstudio_app.gui.pages.train.page import TrainPage
from lmstudio_app.gui.pages.train.processes_box import ProcessesBox, max_processes
from lmstudio_app.gui.pages.train.samples_panel import SamplesPanel
from lmstudio_app.gui.process_session import descendants, kill_tree
from lmstudio_app.gui.state import AppState
from lmstudio_app.gui.widgets.curves import CurvesWidget

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
        "log_interval": 1, "learning_rate": 0.003}


@pytest.fixture
def page(qtbot, tmp_path, prepared_data):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings, tmp_path / "home")
    page = TrainPage(state)
    qtbot.addWidget(page)
    state.sig_data_ready.emit(prepared_data)
    choose(page, "Device", "cpu")
    seen: set[int] = set()
    page.seen_pids = seen
    try:
        yield page
    finally:
        pid = page.session.process_id()
        if pid:
            seen.update([pid, *descendants(pid)])
            kill_tree(pid)
        page.session.wait_finished(30000)
        for p in seen:  # nothing launched is left, even when the test failed
            kill_tree(p)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_two(qtbot, page: TrainPage, **values) -> Path:
    for key, value in {**TINY, **values}.items():
        page.set_field(key, value)
    labelled(page, "Processes", ProcessesBox).setValue(2)
    assert button(page, "Start").isEnabled(), named(page, "Errors", QLabel).text()
    with qtbot.waitSignal(page.session.sig_started, timeout=40000):
        qtbot.mouseClick(button(page, "Start"), Qt.MouseButton.LeftButton)
    pid = page.session.process_id()
    assert pid

    def all_four_seen() -> bool:  # the command, the launcher and both ranks (/proc, sampled)
        page.seen_pids.update([pid, *descendants(pid)])
        return len(page.seen_pids) >= 4

    qtbot.waitUntil(all_four_seen, timeout=20000)
    assert len(page.seen_pids) >= 4
    return page.session.run_dir


def test_processes_offered_and_remembered(qtbot, page):
    assert labelled(page, "Processes", ProcessesBox).value() == 1
    assert labelled(page, "Processes", ProcessesBox).maximum() == max_processes(["cpu"])
    assert max_processes(["cuda:0", "cuda:1", "cuda:2", "cpu"]) == 3
    assert max_processes(["cuda:0", "cpu"]) == max_processes(["cpu"])  # one GPU: the cores
    assert "processes" in labelled(page, "Processes", ProcessesBox).toolTip()
    labelled(page, "Processes", ProcessesBox).setValue(2)
    page.form.save_settings()
    again = TrainPage(page.state)
    qtbot.addWidget(again)
    assert labelled(again, "Processes", ProcessesBox).value() == 2


def test_two_processes_train_to_completion_and_draw_the_curve(qtbot, page):
    state = page.state
    finished = []
    state.sig_run_finished.connect(lambda path, reason: finished.append((path, reason)))
    run_dir = start_two(qtbot, page, max_steps=10, eval_interval=5)
    assert page.session.state in ("running", "starting")
    assert not button(page, "Start").isEnabled() and button(page, "Stop").isEnabled()
    assert not labelled(page, "Processes", ProcessesBox).isEnabled()
    with qtbot.waitSignal(page.session.sig_done, timeout=180000) as done:
        pass
    assert done.args[1] == "completed", named(page, "Errors", QLabel).text()
    assert finished == [(run_dir, "completed")]

    only(page, CurvesWidget).flush()
    np.testing.assert_array_equal(only(page, CurvesWidget).loss.x, np.arange(1, 11))
    assert np.isfinite(only(page, CurvesWidget).loss.y).all()
    assert list(only(page, CurvesWidget).val.x) == [5, 10]
    samples = only(page, SamplesPanel).samples
    assert [step for step, _ in samples] == [5, 10]  # the samples the evaluations wrote
    assert page.progress_panel.step == 10
    # One run folder, trained by two processes, its metrics written once.
    assert [p.name for p in state.runs_root.iterdir()] == [run_dir.name]
    cfg = json.loads((run_dir / runs.CONFIG).read_text())
    assert cfg["run"]["train"]["max_steps"] == 10
    steps = [r["step"] for r in runs.read_metrics(run_dir) if r["kind"] == "step"]
    assert steps == list(range(1, 11))
    assert runs.read_status(run_dir)["state"] == "completed"
    assert button(page, "Start").isEnabled() and page.busy() is None
    qtbot.waitUntil(lambda: not any(alive(p) for p in page.seen_pids), timeout=10000)


def test_pause_resume_and_stop_reach_both_processes_through_the_control_file(qtbot, page):
    run_dir = start_two(qtbot, page, max_steps=100000, eval_interval=1000)
    qtbot.waitUntil(lambda: only(page, CurvesWidget).n_points() >= 3, timeout=60000)

    with qtbot.waitSignal(page.session.sig_paused, timeout=30000) as paused:
        qtbot.mouseClick(button(page, "Pause"), Qt.MouseButton.LeftButton)
        assert page.session.state == "pausing"
    assert page.session.state == "paused" and button(page, "Resume").isEnabled()
    assert runs.read_status(run_dir)["state"] == "paused"
    at = paused.args[0]
    qtbot.wait(1500)  # paused: no step is taken
    assert runs.read_status(run_dir)["step"] == at
    qtbot.mouseClick(button(page, "Resume"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.session.step > at + 2, timeout=60000)
    with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
        qtbot.mouseClick(button(page, "Stop"), Qt.MouseButton.LeftButton)
        assert page.session.state == "stopping"
    assert done.args[1] == "stopped", named(page, "Errors", QLabel).text()
    assert json.loads((run_dir / runs.CONTROL).read_text())["request"] == "stop"
    status = runs.read_status(run_dir)
    assert status["state"] == "stopped" and status["step"] == page.session.step >= 3
    assert runs.resumable(run_dir)
    only(page, CurvesWidget).flush()
    assert only(page, CurvesWidget).loss.x[-1] <= page.session.step
    qtbot.waitUntil(lambda: not any(alive(p) for p in page.seen_pids), timeout=10000)

    # Resumed from the Runs page in two processes: the curve goes on from the saved step.
    stopped_at = page.session.step
    with qtbot.waitSignal(page.session.sig_started, timeout=120000) as started:
        page.state.sig_resume_run.emit(run_dir)
    assert started.args[0]["start_step"] == stopped_at
    page.seen_pids.update([page.session.process_id(), *descendants(page.session.process_id())])
    qtbot.waitUntil(lambda: page.session.step >= stopped_at + 3, timeout=60000)
    with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
        page.stop()
    assert done.args[1] == "stopped"
    steps = [r["step"] for r in runs.read_metrics(run_dir) if r["kind"] == "step"]
    assert steps == list(range(1, page.session.step + 1))  # one curve, no step twice
    only(page, CurvesWidget).flush()
    assert list(only(page, CurvesWidget).loss.x) == steps[:len(only(page, CurvesWidget).loss.x)]


def test_a_stop_not_obeyed_in_time_becomes_sigterm(qtbot, page, caplog):
    run_dir = start_two(qtbot, page, max_steps=100000, eval_interval=1000)
    qtbot.waitUntil(lambda: page.session.step >= 1 or only(page, CurvesWidget).n_points() >= 1,
                    timeout=60000)
    page.session.stop_timeout_ms = 0  # no patience: SIGTERM at once
    with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
        page.stop()
    assert "terminating" in caplog.text
    # The ranks stopped and saved.
    assert done.args[1] == "stopped", named(page, "Errors", QLabel).text()
    assert runs.read_status(run_dir)["state"] == "stopped" and runs.resumable(run_dir)
    qtbot.waitUntil(lambda: not any(alive(p) for p in page.seen_pids), timeout=10000)


def test_a_launch_that_fails_says_why_in_one_line_and_leaves_no_folder(qtbot, page, tmp_path):
    cfg = page.config
    assert cfg is not None
    cfg.data_dir = str(tmp_path / "gone")  # the data vanished after the form was checked
    run_dir = runs.new_run_dir(page.state.runs_root, "gone")
    failed: list[str] = []
    page.session.sig_failed.connect(failed.append)
    with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
        page.session.start(cfg, run_dir, nproc=2)
    assert done.args[1] == "failed"
    assert len(failed) == 1 and "gone" in failed[0] and "Traceback" not in failed[0]
    assert not run_dir.exists()
    assert not page.session.is_running()


def test_closing_the_window_stops_the_processes_and_saves(qtbot, tmp_path, prepared_data):
    from PySide6.QtWidgets import QMessageBox

    from lmstudio_app.gui.main_window import MainWindow
    from tests.gui.test_main_window import answer_next_box

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(AppState(settings, tmp_path / "home"))
    qtbot.addWidget(w)
    w.show()
    page = w.train_page
    page.seen_pids = set()
    page.state.sig_data_ready.emit(prepared_data)
    choose(page, "Device", "cpu")
    try:
        run_dir = start_two(qtbot, page, max_steps=100000, eval_interval=1000)
        qtbot.waitUntil(lambda: page.session.step >= 3 or only(page, CurvesWidget).n_points() >= 3,
                        timeout=60000)
        asked: list[str] = []
        answer_next_box(QMessageBox.StandardButton.Yes, asked)
        with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
            w.close()
        assert asked and "training" in asked[0]
        assert done.args[1] == "stopped"
        qtbot.waitUntil(lambda: not w.isVisible(), timeout=10000)
        assert runs.read_status(run_dir)["state"] == "stopped" and runs.resumable(run_dir)
        qtbot.waitUntil(lambda: not any(alive(p) for p in page.seen_pids), timeout=10000)
    finally:
        pid = page.session.process_id()
        if pid:
            kill_tree(pid)
            page.session.wait_finished(30000)
        for p in page.seen_pids:
            kill_tree(p)
        for each in w.pages.values():  # idempotent: no page may leave a thread behind
            each.shutdown()


def test_a_stop_before_the_loop_listens_is_heard_once_it_does(qtbot, page):
    for key, value in {**TINY, "max_steps": 100000, "eval_interval": 1000}.items():
        page.set_field(key, value)
    labelled(page, "Processes", ProcessesBox).setValue(2)
    qtbot.mouseClick(button(page, "Start"), Qt.MouseButton.LeftButton)
    assert page.session.state == "starting"
    failed: list[str] = []
    page.session.sig_failed.connect(failed.append)
    pid = page.session.process_id()
    with qtbot.waitSignal(page.session.sig_done, timeout=120000) as done:
        qtbot.mouseClick(button(page, "Stop"), Qt.MouseButton.LeftButton)  # still importing torch
        page.seen_pids.update([pid, *descendants(pid)])
    assert done.args[1] == "stopped", failed
    status = runs.read_status(page.session.run_dir)
    assert status["state"] == "stopped" and status["step"] < 1000  # long before the end (100,000)
