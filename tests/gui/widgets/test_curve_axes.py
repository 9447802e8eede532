"""The curves against steps, tokens seen or training time; validation bits per byte beside the
loss; kept checkpoints marked: on a real tiny run's metrics."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.runs.table import training_time
from lmstudio_app.gui.training import STEP_COLUMNS, resources_text
from lmstudio_app.gui.widgets.curves import CurvesWidget, arrays_from_events


@pytest.fixture
def run_arrays(engine_runs):
    events = runs.read_metrics(engine_runs.gpt)
    arrays = arrays_from_events(events)
    arrays["checkpoint_step"] = np.array([s.step for s in runs.list_snapshots(engine_runs.gpt)])
    return events, arrays


@pytest.fixture
def curves(qtbot):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_the_x_axis_can_be_tokens_seen_or_training_time(curves, run_arrays):
    events, arrays = run_arrays
    steps = [e for e in events if e["kind"] == "step"]
    evals = [e for e in events if e["kind"] == "eval"]
    curves.load_arrays(arrays)
    tokens = np.array([e["tokens"] for e in steps], dtype=float)
    assert tokens[0] > 0 and np.all(np.diff(tokens) > 0)

    curves.x_combo.setCurrentIndex(curves.x_combo.findData("tokens"))  # as a person picks it
    assert curves.x_mode == "tokens"
    np.testing.assert_allclose(curves.loss.x, tokens, rtol=1e-6)
    np.testing.assert_allclose(curves.smoothed.x, tokens, rtol=1e-6)
    at_eval = {e["step"]: t for e, t in zip(steps, tokens, strict=True)}
    np.testing.assert_allclose(curves.val.x, [at_eval[e["step"]] for e in evals], rtol=1e-6)
    assert curves.tps_plot.getAxis("bottom").labelText == "tokens seen"
    assert "tokens" in curves.outputs.show_readout(float(tokens[3]))

    curves.set_x_axis("time")
    time = training_time(e["elapsed_s"] for e in steps)
    np.testing.assert_allclose(curves.loss.x, time, rtol=1e-5)
    curves.set_x_axis("step")
    np.testing.assert_array_equal(curves.loss.x, [e["step"] for e in steps])
    with pytest.raises(ValueError):
        curves.set_x_axis("epochs")


def test_an_axis_the_run_cannot_place_its_steps_on_is_greyed_out(curves, run_arrays):
    _, arrays = run_arrays
    old = {**arrays, "tokens": np.full(len(arrays["step"]), np.nan)}  # recorded before tokens
    curves.set_x_axis("tokens")
    curves.load_arrays(old)
    assert curves.x_mode == "step"
    model = curves.x_combo.model()
    assert not model.item(curves.x_combo.findData("tokens")).isEnabled()
    assert model.item(curves.x_combo.findData("time")).isEnabled()


def test_validation_bits_per_byte_reads_on_the_right_axis(curves, run_arrays):
    events, arrays = run_arrays
    last = [e for e in events if e["kind"] == "eval"][-1]
    curves.load_arrays(arrays)
    curves.flush()
    axis = curves.loss_plot.getAxis("right")
    assert axis.isVisible() and axis.labelText == "val bits/byte"
    # The right axis is the loss axis times the run's factor: val_loss there reads val_bpb.
    assert last["val_loss"] * axis.scale == pytest.approx(last["val_bpb"], rel=1e-6)
    assert f"({last['val_bpb']:.3f} bits/byte)" in curves.outputs.show_readout(float(last["step"]))
    curves.set_log_scale(True)
    assert not axis.isVisible()  # a rescaled log axis would not read true
    curves.set_log_scale(False)
    assert axis.isVisible()


def test_kept_checkpoints_are_marked_and_a_click_names_the_step(qtbot, curves, run_arrays):
    events, arrays = run_arrays
    curves.load_arrays(arrays)
    curves.flush()
    val = {e["step"]: e["val_loss"] for e in events if e["kind"] == "eval"}
    marks = curves.marks.positions()
    assert [m[0] for m in marks] == arrays["checkpoint_step"].tolist()
    for step, x, y in marks:
        assert x == step and y == pytest.approx(val[step], rel=1e-6)  # at its evaluation
    curves.set_x_axis("tokens")
    curves.flush()
    tokens = dict(zip(arrays["step"].tolist(), arrays["tokens"].tolist(), strict=True))
    assert [x for _, x, _ in curves.marks.positions()] == pytest.approx(
        [tokens[s] for s, _, _ in marks])
    with qtbot.waitSignal(curves.sig_checkpoint_chosen) as chosen:
        curves.marks.choose(marks[0][0])
    assert chosen.args == [marks[0][0]]


def test_the_csv_has_tokens_time_and_bits_per_byte(curves, run_arrays, tmp_path):
    events, arrays = run_arrays
    curves.load_arrays(arrays)
    curves.set_x_axis("time")  # the CSV stays by step whatever is shown
    curves.outputs.export_csv(tmp_path / "c.csv")
    rows = list(csv.DictReader(open(tmp_path / "c.csv", encoding="utf-8")))
    steps = {e["step"]: e for e in events if e["kind"] == "step"}
    evals = {e["step"]: e for e in events if e["kind"] == "eval"}
    for row in rows:
        step = int(row["step"])
        if step in steps:
            assert float(row["tokens"]) == pytest.approx(steps[step]["tokens"], rel=1e-6)
        if step in evals:
            assert float(row["val_bpb"]) == pytest.approx(evals[step]["val_bpb"], rel=1e-6)


def test_the_status_bar_text_says_memory_and_gpu():
    row = dict.fromkeys(STEP_COLUMNS, 1.0)
    row.update(rss_bytes=1.5 * 2**30, gpu_memory_bytes=3 * 2**30, gpu_utilization=87.0)
    assert resources_text(np.array([row[c] for c in STEP_COLUMNS])) == \
        "RAM 1.5 GiB · GPU 3.0 GiB, 87%"
    row.update(gpu_memory_bytes=np.nan, gpu_utilization=np.nan)
    assert resources_text(np.array([row[c] for c in STEP_COLUMNS])) == "RAM 1.5 GiB"
