"""Checkpoints along the curve in the window: a real run trained from the Train page marks its
kept snapshots on the curve, a click on a mark opens that step's weights in the Playground, and
the status bar shows what the run takes while it trains."""

from __future__ import annotations

import shutil

import pytest
import torch
from PySide6.QtCore import QPointF, Qt
from safetensors.torch import load_file

from lmstudio_app.core import runs
from lmstudio_app.gui.find import button, choose, only
from lmstudio_app.gui.widgets.curves import CurvesWidget

RUN = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 4,
       "max_steps": 24, "eval_interval": 3, "log_interval": 1}


@pytest.fixture
def window(main_window_on):
    w = main_window_on(1200, 800)
    train = w.train_page
    choose(train, "Device", "cpu")
    for key, value in RUN.items():
        train.set_field(key, value)
    yield w
    train.stop()
    for page in w.pages.values():
        page.shutdown()


def _click_mark(qtbot, curves, step: int) -> None:
    """Press and release the mouse on the mark of `step`, as a person does (once the plot has
    been painted with it in view)."""
    curves.flush()
    x, y = next((x, y) for s, x, y in curves.marks.positions() if s == step)
    view = curves.loss_plot.vb
    qtbot.waitUntil(lambda: view.viewRange()[0][0] <= x <= view.viewRange()[0][1], timeout=5000)
    pos = curves.graphics.mapFromScene(view.mapViewToScene(QPointF(x, y)))
    qtbot.mouseClick(curves.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_a_mark_on_the_curve_opens_that_checkpoint_in_the_playground(qtbot, window):
    train = window.train_page
    shown_resources = []
    train.sig_steps.connect(
        lambda *_: shown_resources.append(window.resources_label.text()))
    with qtbot.waitSignal(window.state.sig_run_finished, timeout=120000) as done:
        qtbot.mouseClick(button(train, "Start"), Qt.MouseButton.LeftButton)
    run_dir = done.args[0]
    assert done.args[1] == "completed"
    assert shown_resources and all(t.startswith("RAM ") and ("MiB" in t or "GiB" in t)
                                   for t in shown_resources)
    assert window.resources_label.text() == ""  # cleared once the run ended

    kept = [s.step for s in runs.list_snapshots(run_dir)]
    assert len(kept) >= 3
    # The marks the live run drew are the snapshots on disk.
    assert only(train, CurvesWidget).checkpoint_steps == kept
    step = kept[1]
    window.show_page("Train")
    playground = window.pages["Playground"]
    with qtbot.waitSignal(playground.sig_model_loaded, timeout=30000):
        _click_mark(qtbot, only(train, CurvesWidget), step)

    assert window.current_page() == "Playground"
    assert playground.checkpoint_combo.currentData() == step
    loaded = playground.model.loaded
    assert loaded.weights == runs.snapshot_path(run_dir, step)
    saved = load_file(str(runs.snapshot_path(run_dir, step)))
    state = loaded.model.state_dict()
    assert all(torch.equal(state[k].cpu(), v) for k, v in saved.items())
    final = load_file(str(run_dir / runs.WEIGHTS))
    assert any(not torch.equal(final[k], v) for k, v in saved.items())


def test_a_run_opened_from_disk_marks_its_snapshots(qtbot, window, engine_runs):
    train = window.train_page
    shutil.copytree(engine_runs.runs_root, window.state.runs_root)
    gpt = window.state.runs_root / engine_runs.gpt.name
    with qtbot.waitSignal(train.sig_history_loaded, timeout=30000):
        window.state.sig_open_run.emit(gpt)
    kept = [s.step for s in runs.list_snapshots(gpt)]
    assert kept and only(train, CurvesWidget).checkpoint_steps == kept
    playground = window.pages["Playground"]
    with qtbot.waitSignal(window.state.sig_use_checkpoint) as used, \
            qtbot.waitSignal(playground.sig_model_loaded, timeout=30000):
        _click_mark(qtbot, only(train, CurvesWidget), kept[0])
    assert used.args == [gpt, kept[0]]
