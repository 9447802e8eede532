"""CurvesWidget: growing buffers, NaN safety, smoothing, overlays, hover read-out and export."""

from __future__ import annotations

import csv
import math

import numpy as np
import pyqtgraph as pg
import pytest

from lmstudio_app.gui.widgets.curve_data import ema
from lmstudio_app.gui.widgets.curves import CurvesWidget, arrays_from_events
from lmstudio_app.gui.widgets.series import GrowingSeries


def reference_ema(values, alpha):
    """TensorBoard's smoothing, point by point: a zero-started EMA over the points so far (NaN
    carries the last value), debiased by 1 - alpha**n."""
    out, biased, n, last = [], 0.0, 0, None
    for v in values:
        if math.isfinite(v):
            last = v
        if last is None:
            out.append(math.nan)
            continue
        biased, n = alpha * biased + (1 - alpha) * last, n + 1
        out.append(biased / (1 - alpha ** n))
    return np.array(out)


def shown_curves(qtbot, width: int, height: int) -> CurvesWidget:
    """A CurvesWidget of that size on screen (laid out, so its plots have their sizes)."""
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_series_grows_by_doubling_and_keeps_every_point():
    s = GrowingSeries(capacity=4)
    for i in range(10):
        s.append([i], [i * i])
    assert s.n == 10 and s.capacity == 16
    s.append(np.arange(10, 40), np.arange(10, 40) ** 2)
    assert s.capacity == 64
    np.testing.assert_array_equal(s.x, np.arange(40))
    np.testing.assert_array_equal(s.y, np.arange(40) ** 2)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9, 0.99])
def test_ema_matches_the_recurrence_and_carries_over_nan(alpha):
    rng = np.random.default_rng(0)
    values = rng.random(3000) + 2.0
    values[[0, 17, 18, 1500]] = np.nan
    got, _ = ema(values, alpha)
    want = reference_ema(values, alpha)
    assert np.isnan(got[0]) and np.isnan(want[0])
    np.testing.assert_allclose(got[1:], want[1:], rtol=1e-9)


def test_smoothing_follows_a_falling_loss_from_its_first_points():
    # TensorBoard's debiasing: after ten points of a loss falling from 8.7 to 6, the smoothed
    # value is a weighted mean of those ten, not 35% the first point (0.9 ** 10) as a plain
    # average started at the first point would be.
    loss = np.linspace(8.7, 6.0, 10)
    smoothed, state = ema(loss, 0.9)
    assert smoothed[0] == loss[0] and loss[-1] < smoothed[-1] < loss.mean()
    assert state[1] == 10


def test_incremental_smoothing_equals_smoothing_all_at_once(qtbot):
    w = CurvesWidget()
    qtbot.addWidget(w)
    loss = 5.0 * np.exp(-np.arange(200) / 50) + 0.1 * np.sin(np.arange(200))
    for lo in range(0, 200, 7):
        w.append_steps(np.arange(lo, min(lo + 7, 200)), loss[lo:lo + 7])
    incremental = w.smoothed.y.copy()
    w.set_smoothing(w.smoothing)  # recompute in one go
    # The buffers are float32: agreement to float32 precision.
    np.testing.assert_allclose(incremental, w.smoothed.y, rtol=1e-6)
    np.testing.assert_allclose(w.smoothed.y, reference_ema(loss, w.smoothing), rtol=1e-6)
    w.set_smoothing(0.0)
    np.testing.assert_allclose(w.smoothed.y, loss, rtol=1e-6)
    assert w.smoothing_slider.value() == 0


def test_redraw_happens_on_the_timer_only_when_points_arrived(qtbot):
    w = CurvesWidget(redraw_ms=20)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.sig_redrawn, timeout=2000):
        w.append_steps([1, 2, 3], [3.0, 2.5, 2.0], [1e-3] * 3, [100.0] * 3)
    count = w.redraw_count
    qtbot.wait(100)
    assert w.redraw_count == count  # nothing new: no redraw
    x, y = w.loss_curve.getData()
    np.testing.assert_array_equal(x, [1, 2, 3])


def test_nan_and_infinity_never_reach_the_curves(qtbot):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.show()
    w.append_steps([1, 2, 3, 4], [2.0, math.nan, math.inf, 1.5], [1e-3] * 4, [10.0] * 4)
    w.add_eval(2, math.nan)
    w.add_eval(4, 1.7)
    w.set_log_scale(True)
    w.flush()
    for curve in (w.loss_curve, w.smooth_curve, w.val_curve, w.lr_curve, w.tps_curve):
        x, y = curve.getData()
        assert np.isfinite(x).all() and np.isfinite(y).all()
    np.testing.assert_array_equal(w.loss.x, [1, 4])
    np.testing.assert_array_equal(w.val.x, [4])
    # The smoothed curve skips the gap: the debiased average of 2.0 then 1.5.
    alpha = w.smoothing
    assert w.smoothed.y[-1] == pytest.approx(
        (alpha * (1 - alpha) * 2.0 + (1 - alpha) * 1.5) / (1 - alpha ** 2))
    assert w.log_box.isChecked()
    assert "step 1" in w.outputs.show_readout(1.2)
    assert "val 1.7000 @ 4" in w.outputs.show_readout(4)


def test_csv_export_holds_steps_and_validation(qtbot, tmp_path):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.append_steps([10, 20, 30], [3.0, 2.0, 1.0], [1e-3, 9e-4, 8e-4], [500.0, 510.0, 520.0])
    w.add_eval(20, 2.2)
    w.add_eval(25, 2.1)  # an evaluation between two logged steps gets its own row
    path = tmp_path / "curves.csv"
    w.outputs.export_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert [r["step"] for r in rows] == ["10", "20", "25", "30"]
    assert float(rows[0]["loss"]) == 3.0 and rows[0]["val_loss"] == ""
    assert float(rows[1]["val_loss"]) == 2.2 and float(rows[1]["lr"]) == 9e-4
    assert rows[2]["loss"] == "" and float(rows[2]["val_loss"]) == 2.1
    assert float(rows[3]["tokens_per_s"]) == 520.0
    smoothed = reference_ema(np.array([3.0, 2.0, 1.0]), w.smoothing)
    assert float(rows[3]["loss_smoothed"]) == pytest.approx(smoothed[-1], rel=1e-6)


def test_png_export_and_overlays_from_run_events(qtbot, tmp_path):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.resize(600, 400)
    w.show()
    events = [{"kind": "step", "step": s, "loss": 4.0 / s, "lr": 1e-3, "tokens_per_s": 100}
              for s in range(1, 50)]
    events.append({"kind": "eval", "step": 49, "val_loss": None})
    events.append({"kind": "eval", "step": 50, "val_loss": 0.2})
    w.load_events(events)
    assert w.n_points() == 49
    arrays = arrays_from_events(events)
    assert np.isnan(arrays["val_loss"][0])  # null in the file
    np.testing.assert_array_equal(w.val.x, [50])
    w.add_overlay("earlier-run", arrays)
    assert w.overlay_names() == ["earlier-run"]
    assert w.clear_overlays_button.isVisibleTo(w)
    path = tmp_path / "curves.png"
    assert w.outputs.export_png(path)
    assert path.stat().st_size > 1000
    w.clear_overlays()
    assert w.overlay_names() == []


def test_long_curves_reach_the_plot_one_pair_a_pixel_at_any_zoom(qtbot):
    w = shown_curves(qtbot, 900, 600)
    n = 200_000
    steps = np.arange(1, n + 1, dtype=np.float64)
    loss = 4 + np.sin(steps / 500) + np.random.default_rng(0).standard_normal(n)
    w.append_steps(steps, loss, 1e-3 * np.cos(steps / n), np.full(n, 100.0))
    w.flush()
    width = w.loss_plot.getViewBox().width()
    for curve, series in ((w.loss_curve, w.loss), (w.lr_curve, w.lr), (w.tps_curve, w.throughput)):
        x, y = curve.getData()  # every plot at the full resolution of the shared step axis
        assert width / 2 < len(x) <= 2 * width + 1
        assert y.min() == series.y.min() and y.max() == series.y.max() and x[-1] == n
    # Zoomed in, the linked plots get the visible steps point for point.
    w.loss_plot.setXRange(1000, 1500, padding=0)
    for curve in (w.loss_curve, w.lr_curve):
        x, _ = curve.getData()
        inside = (x >= 1000) & (x <= 1500)
        np.testing.assert_array_equal(x[inside], np.arange(1000, 1501))
    # Back to following the data: the whole run again, reduced.
    w.loss_plot.enableAutoRange(x=True)
    w.loss_plot.getViewBox().updateAutoRange()
    x, _ = w.loss_curve.getData()
    assert len(x) <= 2 * width + 1 and x[0] == 1 and x[-1] == n


@pytest.mark.parametrize(("lo", "hi", "size"), [(0.0, 1.0, 60), (16000, 24000, 60), (0, 3e-4, 45)])
def test_short_plot_axes_space_their_labels(qtbot, lo, hi, size):
    from lmstudio_app.gui.widgets.curves import SparseAxis

    axis = SparseAxis("left")
    spacing = axis.tickSpacing(lo, hi, size)[0][0]
    assert size * spacing / (hi - lo) >= SparseAxis.MIN_LABEL_GAP
    mantissa = spacing / 10 ** np.floor(np.log10(spacing))
    assert round(float(mantissa), 6) in (1, 2, 2.5, 5)
    tall = SparseAxis("left").tickSpacing(lo, hi, 600)[0][0]
    assert tall == pg.AxisItem("left").tickSpacing(lo, hi, 600)[0][0]  # roomy axes unchanged


def test_a_single_point_gets_a_positive_learning_rate_axis_around_it(qtbot):
    w = shown_curves(qtbot, 700, 500)
    w.append_steps(np.array([1.0]), np.array([8.5]), np.array([3e-3]), np.array([900.0]))
    w.flush()
    low, high = w.lr_plot.getViewBox().viewRange()[1]
    assert low == 0 and high == pytest.approx(6e-3)
    assert w.tps_plot.getViewBox().viewRange()[1] == pytest.approx([0, 1800])
    # More points that differ: the axis follows the data again.
    w.append_steps(np.array([2.0, 3.0]), np.array([8.0, 7.5]), np.array([2e-3, 1e-3]),
                   np.array([950.0, 1000.0]))
    w.flush()
    assert w.lr_plot.getViewBox().autoRangeEnabled()[1]


def test_a_new_run_starts_with_axes_that_follow_it_and_no_cross_hair(qtbot):
    w = shown_curves(qtbot, 700, 500)
    steps = np.arange(1, 101, dtype=float)
    w.append_steps(steps, 5 + np.cos(steps), np.full(100, 1e-3), np.full(100, 1e3))
    w.flush()
    w.loss_plot.setXRange(10, 20)  # the user zooms into the old run
    w.outputs.show_readout(15)
    assert all(line.isVisible() for line in w.outputs.cursor_lines)
    w.clear()
    assert not any(line.isVisible() for line in w.outputs.cursor_lines)
    assert w.readout.text().strip() == ""
    w.append_steps(np.arange(1, 6, dtype=float), np.full(5, 2.0))
    w.flush()
    qtbot.wait(50)  # the view fits its range when it paints
    x0, x1 = w.loss_plot.getViewBox().viewRange()[0]
    assert x0 <= 1 and x1 >= 5 and w.loss_plot.getViewBox().autoRangeEnabled()[0]


def test_the_cross_hair_goes_when_the_mouse_leaves(qtbot):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    w = CurvesWidget()
    qtbot.addWidget(w)
    w.show()
    w.append_steps(np.arange(1, 11, dtype=float), np.linspace(5, 3, 10))
    w.flush()
    w.outputs.show_readout(4)
    assert w.readout.text().startswith("step 4")
    QApplication.sendEvent(w.graphics.viewport(), QEvent(QEvent.Type.Leave))
    assert not any(line.isVisible() for line in w.outputs.cursor_lines)
    assert w.readout.text().strip() == ""


def test_the_legend_fits_in_a_short_loss_plot(qtbot):
    w = shown_curves(qtbot, 700, 280)
    w.add_overlay("an-earlier-run", {"step": np.arange(1, 4.0), "loss": np.ones(3),
                                     "lr": np.ones(3), "tokens_per_s": np.ones(3),
                                     "eval_step": np.array([]), "val_loss": np.array([])})
    w.flush()
    qtbot.wait(50)
    legend = w.legend.sceneBoundingRect()
    view = w.loss_plot.getViewBox().sceneBoundingRect()
    assert view.contains(legend), (legend, view)


def test_a_lone_point_is_drawn_as_a_dot_until_a_line_can_be(qtbot):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.append_steps(np.array([10.0]), np.array([8.6]), np.array([1e-3]), np.array([4e3]))
    w.flush()
    assert w.loss_curve.opts["symbol"] == "o" and w.lr_curve.opts["symbol"] == "o"
    w.append_steps(np.array([20.0]), np.array([8.1]), np.array([2e-3]), np.array([4e3]))
    w.flush()
    assert w.loss_curve.opts["symbol"] is None and w.lr_curve.opts["symbol"] is None


@pytest.mark.parametrize("alpha", [0.5, 0.9, 0.99])
def test_the_smoothed_line_of_a_constant_loss_is_that_constant_from_the_first_point(alpha):
    # Debiased: no lag from a zero start, whatever the smoothing; also across a gap of NaN.
    values = np.full(500, 3.25)
    values[[0, 40, 41]] = np.nan
    smoothed, _ = ema(values, alpha)
    np.testing.assert_allclose(smoothed[1:], 3.25, rtol=1e-12)
    first, state = ema(np.full(7, 3.25), alpha)
    rest, _ = ema(np.full(9, 3.25), alpha, state)  # continued, as live points arrive
    np.testing.assert_allclose(np.concatenate([first, rest]), 3.25, rtol=1e-12)
