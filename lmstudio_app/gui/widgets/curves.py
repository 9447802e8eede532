"""CurvesWidget: training curves that stay smooth at a million points.

Three linked plots share the x-axis (steps, tokens seen or training time: a selector): loss
(training raw and smoothed, validation as markers, kept checkpoints as diamonds that open in the
Playground when clicked; a right axis in validation bits per byte for GPT runs), learning rate
and throughput. Each series keeps its own growing numpy buffer (capacity doubles
when full) with a min/max pyramid (series.PeakSeries), and one curve object fed with setData: a
redraw hands the plot one min/max pair per pixel column of the visible range, so its cost is
bounded by the plot's width, not the run's length. New points only mark the plot dirty: a
single-shot timer redraws a few times a second, and only when points arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from .checkpoint_marks import CheckpointMarks
from .curve_data import (
    X_AXES,
    AxisMap,
    arrays_from_events,
    ema,
    finite_view,
    x_values,
)
from .curve_outputs import CurveOutputs, Plotted
from .elided_label import ElidedLabel
from .series import GrowingSeries, PeakSeries

__all__ = ["CurvesWidget", "SparseAxis", "arrays_from_events", "ema", "finite_view"]

# A few redraws a second look live and leave the CPU to training (measured on 2 cores:
# at 250 ms the window trains at the headless rate; at 100 ms it lost ~9%).
REDRAW_MS = 250
LABEL_OVERFLOW = 4  # px
LEGEND_COLUMNS = 4
_OVERLAY_COLOURS = ("#8e6cc9", "#d0873d", "#3aa59b", "#c9508a", "#7d9c2f")


class SparseAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph ships no types
    """A value axis for short plots: major ticks at least MIN_LABEL_GAP pixels apart.

    pyqtgraph always draws at least ~2.25 major intervals, so a 60-pixel plot spanning 0 to 1
    gets six labels on top of each other; this widens the spacing to the next nice step.
    """

    MIN_LABEL_GAP = 18.0

    def tickSpacing(self, minVal: float, maxVal: float,  # noqa: N802, N803
                    size: float) -> list[tuple[float, float]]:
        levels: list[tuple[float, float]] = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if not levels or size <= 0 or span == 0:
            return levels
        major = levels[0][0]
        for factor in (1, 2, 2.5, 5, 10, 20, 25, 50):
            spacing = major * factor
            exponent = math.floor(math.log10(spacing))
            nice = round(spacing / 10 ** exponent, 6) in (1, 2, 2.5, 5)
            if nice and size * spacing / span >= self.MIN_LABEL_GAP:
                return [(spacing, 0), *levels[1:2]]
        return levels[:1]


class CurvesWidget(QWidget):
    """Loss, learning rate and throughput against the step, with overlays of earlier runs."""

    outputs: CurveOutputs  # the cross-hair's read-out and the exports (set by _build_ui)
    sig_redrawn = Signal()
    sig_checkpoint_chosen = Signal(int)  # a kept checkpoint's mark was clicked: its step

    def __init__(self, parent: QWidget | None = None, redraw_ms: int = REDRAW_MS) -> None:
        super().__init__(parent)
        self.loss = PeakSeries()
        self.smoothed = PeakSeries()
        self.lr = PeakSeries()
        self.throughput = PeakSeries()
        self.val = GrowingSeries(64)  # markers: one per evaluation, drawn as they are
        # The same points against the step, whatever the x-axis (for another axis, the
        # read-out and the CSV).
        self._by_step = {name: GrowingSeries(64 if name in ("val", "bpb") else 1024)
                         for name in ("loss", "lr", "tps", "val", "bpb")}
        self.axis = AxisMap()
        self.x_mode = "step"
        self.checkpoint_steps: list[int] = []
        self._overlay_arrays: dict[str, dict[str, np.ndarray]] = {}
        self._smoothing = 0.9
        self._ema_state: tuple[float, int] = (0.0, 0)  # see ema()
        self._dirty = False
        self._overlays: dict[str, list[pg.PlotDataItem]] = {}
        # Every line drawn from a PeakSeries, with its data.
        self._lines: list[tuple[pg.PlotDataItem, PeakSeries]] = []
        self._drawing = False
        self._drawn_whole = True  # the last redraw reduced whole series (auto-ranged step axis)
        self._flat: set[pg.PlotItem] = set()  # plots given a range by _fit_flat
        self.redraw_count = 0

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(redraw_ms)
        self._timer.timeout.connect(self.redraw)

        self._build_ui()
        self._apply_palette()

    # -- layout --------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(self._smoothing * 100))
        self.smoothing_slider.setMaximumWidth(140)
        self.smoothing_slider.setToolTip("Exponential moving average of the training loss")
        self.smoothing_slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        bar.addWidget(self.smoothing_slider)
        self.smoothing_label = QLabel(f"{self._smoothing:.2f}")
        bar.addWidget(self.smoothing_label)
        self.log_box = QCheckBox("Log scale")
        self.log_box.setToolTip("Logarithmic loss axis")
        self.log_box.toggled.connect(self.set_log_scale)
        bar.addWidget(self.log_box)
        # Grid lines more than double the cost of each repaint: off unless asked for.
        self.grid_box = QCheckBox("Grid")
        self.grid_box.toggled.connect(self.set_grid)
        bar.addWidget(self.grid_box)
        bar.addWidget(QLabel("x"))
        self.x_combo = QComboBox()
        for key, label in X_AXES:
            self.x_combo.addItem(label, key)
        self.x_combo.setToolTip("Draw the curves against steps, tokens seen or training time")
        self.x_combo.currentIndexChanged.connect(
            lambda _i: self.set_x_axis(self.x_combo.currentData()))
        bar.addWidget(self.x_combo)
        bar.addStretch(1)
        self.clear_overlays_button = QPushButton("Clear comparison")
        self.clear_overlays_button.clicked.connect(self.clear_overlays)
        self.clear_overlays_button.setVisible(False)
        bar.addWidget(self.clear_overlays_button)
        png = QPushButton("Export PNG…")
        png.clicked.connect(lambda: self.outputs.ask_export_png(self))
        bar.addWidget(png)
        csv_button = QPushButton("Export CSV…")
        csv_button.clicked.connect(lambda: self.outputs.ask_export_csv(self))
        bar.addWidget(csv_button)
        layout.addLayout(bar)

        self.readout = ElidedLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.readout)

        self.graphics = pg.GraphicsLayoutWidget()
        # Stacked plots: LABEL_OVERFLOW px of a value label may pass its axis's end, and the plots
        # are twice that apart, so the top label of one never meets the bottom label of the next.
        self.graphics.ci.setSpacing(2 * LABEL_OVERFLOW)
        layout.addWidget(self.graphics, 1)
        self.loss_plot = self.graphics.addPlot(row=0, col=0,
                                               axisItems={"left": SparseAxis("left")})
        self.lr_plot = self.graphics.addPlot(row=1, col=0, axisItems={"left": SparseAxis("left")})
        self.tps_plot = self.graphics.addPlot(row=2, col=0,
                                              axisItems={"left": SparseAxis("left")})
        # 2:1:1 keeps the small plots tall enough for their vertical labels in a short window.
        self.graphics.ci.layout.setRowStretchFactor(0, 2)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.graphics.ci.layout.setRowStretchFactor(2, 1)
        for plot, label in ((self.loss_plot, "loss"), (self.lr_plot, "lr"),
                            (self.tps_plot, "tokens/s")):
            plot.setLabel("left", label)
            plot.getAxis("left").setWidth(60)
            plot.getAxis("left").setStyle(hideOverlappingLabels=LABEL_OVERFLOW)
        # A learning rate reads as 0.0005, not "500" under an axis title of "lr (x1e-06)" that
        # is too long for a short plot (it ran into the loss plot's title).
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)
        self.lr_plot.setXLink(self.loss_plot)
        self.tps_plot.setXLink(self.loss_plot)
        self.tps_plot.setLabel("bottom", "step")
        # One step axis, at the bottom: the plots above share it.
        self.loss_plot.hideAxis("bottom")
        self.lr_plot.hideAxis("bottom")
        # One row of entries (more columns as overlays come): a short plot never clips it.
        self.legend = self.loss_plot.addLegend(offset=(-10, 4), colCount=LEGEND_COLUMNS,
                                               verSpacing=-4)
        self.legend.setZValue(10)  # over the curves, on a backing of the plot's own colour

        self.loss_curve = self._add_line(self.loss_plot, self.loss, pg.mkPen("#9ab8dc"),
                                         "train (raw)")
        self.smooth_curve = self._add_line(self.loss_plot, self.smoothed,
                                           pg.mkPen("#1f6fd1", width=2), "train (smoothed)")
        self.val_curve = self.loss_plot.plot(
            pen=None, symbol="o", symbolSize=7, symbolBrush="#e0552f", symbolPen=None,
            name="validation", antialias=False,
        )
        self.marks = CheckpointMarks(self.loss_plot, self)
        self.marks.sig_chosen.connect(self.sig_checkpoint_chosen)
        # Validation bits per byte: the loss axis rescaled (one factor per run: the validation
        # text's tokens per byte over ln 2), shown when the run reports it.
        self.bpb_axis = self.loss_plot.getAxis("right")
        self.bpb_axis.setLabel("val bits/byte")
        self.bpb_axis.setWidth(50)
        self.lr_curve = self._add_line(self.lr_plot, self.lr, pg.mkPen("#3a9a4a"), None)
        self.tps_curve = self._add_line(self.tps_plot, self.throughput, pg.mkPen("#b07a1f"), None)
        # Zooming or panning redraws at the new range's resolution; a resize re-fits the width.
        self.loss_plot.vb.sigXRangeChanged.connect(self._on_view_changed)
        self.loss_plot.vb.sigResized.connect(self._schedule)

        # The cross-hair's read-out and the exports read the very series drawn here.
        self.outputs = CurveOutputs(
            Plotted(self.loss, self.smoothed, self.lr, self.throughput, self.val, self._by_step,
                    self.axis),
            lambda: self.x_mode, self.readout, self.graphics,
            (self.loss_plot, self.lr_plot, self.tps_plot), self.flush)
        # The mouse leaving the plots: the cross-hair and the read-out go.
        self.graphics.installEventFilter(self)
        self.graphics.viewport().installEventFilter(self)

    def _add_line(self, plot: pg.PlotItem, series: PeakSeries, pen: Any,
                  name: str | None) -> pg.PlotDataItem:
        """A curve fed from `series` by redraw(): the data it gets is already reduced to the
        plot's width, so pyqtgraph's own downsampling and clipping stay off."""
        item = plot.plot(pen=pen, name=name, antialias=False)
        item.setDownsampling(ds=1, auto=False)
        item.setClipToView(False)
        self._lines.append((item, series))
        return item

    def _apply_palette(self) -> None:
        """Follow the window's light or dark palette instead of pyqtgraph's black default."""
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        self.graphics.setBackground(base)
        for plot in (self.loss_plot, self.lr_plot, self.tps_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
        self.legend.setLabelTextColor(text)
        backing = pal.color(QPalette.ColorRole.Base)
        backing.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(backing))

    def changeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def eventFilter(self, obj: Any, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Leave and obj in (self.graphics,
                                                         self.graphics.viewport()):
            self.outputs.hide_readout()
        return False

    # -- data in -------------------------------------------------------------------------------

    def append_steps(self, steps: np.ndarray, loss: np.ndarray, lr: np.ndarray | None = None,
                     tokens_per_s: np.ndarray | None = None, tokens: np.ndarray | None = None,
                     elapsed_s: np.ndarray | None = None) -> None:
        """Append step metrics (arrays of equal length; `tokens` seen and `elapsed_s` place
        them on the other x-axes) and schedule a redraw."""
        steps = np.asarray(steps, dtype=np.float64)
        if len(steps) == 0:
            return
        self.axis.append(steps, tokens, elapsed_s)
        # Only finite points enter the buffers: the curves never see NaN or infinity, so the
        # plot can skip its own finite checks over the whole series at every redraw.
        x, y = self._append("loss", self.loss, steps, loss)
        if len(x):
            smooth, self._ema_state = ema(y, self._smoothing, self._ema_state)
            self.smoothed.append(x, smooth)
        if lr is not None:
            self._append("lr", self.lr, steps, lr)
        if tokens_per_s is not None:
            self._append("tps", self.throughput, steps, tokens_per_s)
        self._schedule()

    def _append(self, name: str, shown: GrowingSeries, steps: np.ndarray,
                values: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keep the finite points against the step, and show them on the current x-axis."""
        x, y = finite_view(steps, np.asarray(values, dtype=np.float64))
        self._by_step[name].append(x, y)
        placed = self.axis.map(x, self.x_mode)
        shown.append(placed, y)
        return placed, y

    def append_rows(self, rows: np.ndarray) -> None:
        """Append the arrays of TrainingSession.sig_steps (see training.STEP_COLUMNS)."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim == 2 and len(rows):
            tokens = rows[:, 6] if rows.shape[1] > 6 else None
            self.append_steps(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 4], tokens,
                              rows[:, 5])

    def add_eval(self, step: float, val_loss: float | None,
                 val_bpb: float | None = None) -> None:
        if val_loss is not None and math.isfinite(val_loss):
            self._append("val", self.val, np.array([step], dtype=np.float64), [val_loss])
            if val_bpb is not None and math.isfinite(val_bpb):
                self._by_step["bpb"].append([step], [val_bpb])
            self._schedule()

    def set_checkpoints(self, steps: Sequence[int] | np.ndarray) -> None:
        """The steps whose weights the run keeps: marked on the loss curve."""
        self.checkpoint_steps = sorted(int(s) for s in steps)
        self._schedule()

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace the current curves with a run's history (see arrays_from_events); its kept
        checkpoints when `arrays` has "checkpoint_step"."""
        self.clear()
        self.append_steps(arrays["step"], arrays["loss"], arrays["lr"], arrays["tokens_per_s"],
                          arrays.get("tokens"), None)
        if "time" in arrays:  # already over resumes: as one stretch
            self.axis.values["time"] = np.asarray(arrays["time"], dtype=np.float64).copy()
        for step, val, bpb in zip(arrays["eval_step"], arrays["val_loss"],
                                  arrays.get("val_bpb", [None] * len(arrays["eval_step"])),
                                  strict=True):
            self.add_eval(step, val, bpb)
        self.set_checkpoints(arrays.get("checkpoint_step", []))
        self._offer_axes()
        if not self.axis.has(self.x_mode):
            self.set_x_axis("step")
        else:
            self._remap()

    def load_events(self, events: list[dict[str, Any]]) -> None:
        self.load_arrays(arrays_from_events(events))

    def clear(self) -> None:
        """No points, no read-out, and every axis following the data again (a zoom of the
        previous run's curves does not carry over to the next)."""
        for series in (self.loss, self.smoothed, self.lr, self.throughput, self.val,
                       *self._by_step.values()):
            series.clear()
        self.axis.clear()
        self.checkpoint_steps = []
        self._ema_state = (0.0, 0)
        self.outputs.hide_readout()
        for plot in (self.loss_plot, self.lr_plot, self.tps_plot):
            plot.enableAutoRange()
        self._flat.clear()
        self._schedule()

    def add_overlay(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Draw an earlier run's smoothed training loss and validation points for comparison."""
        self.remove_overlay(name)
        self._overlay_arrays[name] = arrays
        colour = _OVERLAY_COLOURS[len(self._overlays) % len(_OVERLAY_COLOURS)]
        items = []
        x = x_values(arrays, arrays["step"], self.x_mode)
        smoothed = PeakSeries()
        smoothed.append(*_placed(x, ema(arrays["loss"], self._smoothing)[0]))
        items.append(self._add_line(self.loss_plot, smoothed,
                                    pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), name))
        vx, vy = _placed(x_values(arrays, arrays["eval_step"], self.x_mode), arrays["val_loss"])
        if len(vx):
            items.append(self.loss_plot.plot(vx, vy, pen=None, symbol="t", symbolSize=7,
                                             symbolBrush=colour, symbolPen=None))
        lr = PeakSeries()
        lr.append(*_placed(x, arrays["lr"]))
        if lr.n:
            items.append(self._add_line(self.lr_plot, lr,
                                        pg.mkPen(colour, style=Qt.PenStyle.DashLine), None))
        self._overlays[name] = items
        self.clear_overlays_button.setVisible(True)
        self._schedule()

    def remove_overlay(self, name: str) -> None:
        self._overlay_arrays.pop(name, None)
        for item in self._overlays.pop(name, []):
            self._lines = [line for line in self._lines if line[0] is not item]
            for plot in (self.loss_plot, self.lr_plot):
                if item in plot.listDataItems():
                    plot.removeItem(item)
        self.clear_overlays_button.setVisible(bool(self._overlays))

    @Slot()
    def clear_overlays(self) -> None:
        for name in list(self._overlays):
            self.remove_overlay(name)

    def overlay_names(self) -> list[str]:
        return list(self._overlays)

    # -- the x-axis ----------------------------------------------------------------------------

    def set_x_axis(self, mode: str) -> None:
        """Draw against "step", "tokens" (seen) or "time" (training time, seconds)."""
        keys = [key for key, _ in X_AXES]
        if mode not in keys:
            raise ValueError(f"x-axis {mode!r}: one of {', '.join(keys)}")
        if self.x_combo.currentData() != mode:
            self.x_combo.blockSignals(True)
            self.x_combo.setCurrentIndex(keys.index(mode))
            self.x_combo.blockSignals(False)
        if mode == self.x_mode:
            return
        self.x_mode = mode
        self._remap()

    def _offer_axes(self) -> None:
        """An axis the run cannot place its steps on (a run from before tokens were recorded)
        is greyed out in the selector."""
        model = self.x_combo.model()
        assert isinstance(model, QStandardItemModel)  # a QComboBox's own model
        for i, (key, _) in enumerate(X_AXES):
            model.item(i).setEnabled(self.axis.has(key) or self.loss.n == 0)

    def _remap(self) -> None:
        """Place every point again on the current x-axis."""
        for name, shown in (("loss", self.loss), ("lr", self.lr), ("tps", self.throughput),
                            ("val", self.val)):
            raw = self._by_step[name]
            shown.clear()
            shown.append(self.axis.map(raw.x, self.x_mode), raw.y)
        smooth = self.smoothed.y.copy()
        self.smoothed.clear()
        self.smoothed.append(self.loss.x.copy(), smooth)
        for name, arrays in list(self._overlay_arrays.items()):
            self.add_overlay(name, arrays)
        self.tps_plot.setLabel("bottom", dict(X_AXES)[self.x_mode])
        self.outputs.hide_readout()
        for plot in (self.loss_plot, self.lr_plot, self.tps_plot):
            plot.enableAutoRange()
        self._schedule()

    def _show_marks(self) -> None:
        """Each kept checkpoint on the loss plot: at its validation loss (snapshots are taken
        at evaluations), else on the smoothed training curve."""
        steps = self.checkpoint_steps
        shown = bool(steps) and self.loss.n > 0
        if shown != any(sample.item is self.marks.item for sample, _ in self.legend.items):
            if shown:  # an entry only while there are marks: the legend stays one row
                self.legend.addItem(self.marks.item, "kept checkpoints")
            else:
                self.legend.removeItem(self.marks.item)
        if not shown:
            self.marks.show([], np.zeros(0), np.zeros(0))
            return
        at = np.asarray(steps, dtype=np.float64)
        val = self._by_step["val"]
        y = np.interp(at, self._by_step["loss"].x, self.smoothed.y)
        for i, step in enumerate(at):
            hit = np.flatnonzero(val.x == step)
            if len(hit):
                y[i] = val.y[hit[-1]]
        self.marks.show(list(steps), self.axis.map(at, self.x_mode), y)

    def _show_bpb_axis(self) -> None:
        """The right axis in validation bits per byte: bpb / val_loss is one factor per run."""
        bpb, val = self._by_step["bpb"], self._by_step["val"]
        scale = None
        if bpb.n and not self.log_box.isChecked():
            hit = np.flatnonzero(val.x == bpb.x[-1])
            if len(hit) and val.y[hit[-1]] > 0:
                scale = float(bpb.y[-1] / val.y[hit[-1]])
        if scale is None:
            self.loss_plot.hideAxis("right")
            return
        self.loss_plot.showAxis("right")
        self.bpb_axis.setScale(scale)

    # -- options -------------------------------------------------------------------------------

    def set_smoothing(self, alpha: float) -> None:
        """EMA weight in [0, 0.99]; the whole smoothed series is recomputed (vectorised)."""
        alpha = float(min(max(alpha, 0.0), 0.99))
        self._smoothing = alpha
        self.smoothing_label.setText(f"{alpha:.2f}")
        if self.smoothing_slider.value() != round(alpha * 100):
            self.smoothing_slider.blockSignals(True)
            self.smoothing_slider.setValue(round(alpha * 100))
            self.smoothing_slider.blockSignals(False)
        smooth, self._ema_state = ema(self.loss.y, alpha)
        x = self.loss.x.copy()
        self.smoothed.clear()
        self.smoothed.append(x, smooth)
        self._schedule()

    @property
    def smoothing(self) -> float:
        return self._smoothing

    @Slot(bool)
    def set_grid(self, on: bool) -> None:
        for plot in (self.loss_plot, self.lr_plot, self.tps_plot):
            plot.showGrid(x=bool(on), y=bool(on), alpha=0.2 if on else None)
        if self.grid_box.isChecked() != bool(on):
            self.grid_box.setChecked(bool(on))

    @Slot(bool)
    def set_log_scale(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=bool(on))
        self._show_bpb_axis()  # a rescaled axis reads true on a linear scale only
        if self.log_box.isChecked() != bool(on):
            self.log_box.setChecked(bool(on))

    # -- drawing -------------------------------------------------------------------------------

    def _schedule(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Redraw now if points are waiting (for tests and exports)."""
        if self._dirty:
            self._timer.stop()
            self.redraw()

    @Slot()
    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._drawing = True  # setData may move an auto-ranged view: that needs no new pass
        self._drawn_whole = self.loss_plot.getViewBox().autoRangeEnabled()[0]
        try:
            # The buffers hold finite points only (see append_steps).
            for curve, series in self._lines:
                curve.setData(*self._visible(series), skipFiniteCheck=True)
                # One point draws no line: show it as a dot until the second one comes.
                lone = series.n == 1
                if lone != (curve.opts["symbol"] is not None):
                    curve.setSymbol("o" if lone else None)
                    curve.setSymbolPen(curve.opts["pen"])
            self.val_curve.setData(self.val.x, self.val.y, skipFiniteCheck=True)
            for plot, series in ((self.lr_plot, self.lr), (self.tps_plot, self.throughput)):
                self._fit_flat(plot, series)
            if self._drawn_whole and not self.loss_plot.getViewBox().autoRangeEnabled()[0]:
                # A small plot's y fit moved its x range, which its link to the loss plot
                # passed on as if the user had zoomed: the x-axis follows the data again.
                self.loss_plot.enableAutoRange(axis="x")
            self._show_marks()
            self._show_bpb_axis()
        finally:
            self._drawing = False
        self.redraw_count += 1
        self.sig_redrawn.emit()

    def _fit_flat(self, plot: pg.PlotItem, series: PeakSeries) -> None:
        """A plot of a quantity never negative (learning rate, throughput) whose points are all
        equal (one point, a constant rate) spans 0 to twice the value, instead of pyqtgraph's
        +-0.5 around it (a negative learning rate, the point a hair above the axis); once the
        points differ, its axis follows them again."""
        y = series.y
        if series.n and float(y.min()) == float(y.max()):
            plot.setYRange(0, 2 * abs(float(y[0])) or 1.0, padding=0)  # stops auto-ranging y
            self._flat.add(plot)
        elif plot in self._flat:
            self._flat.discard(plot)
            plot.enableAutoRange(axis="y")

    def _visible(self, series: PeakSeries) -> tuple[np.ndarray, np.ndarray]:
        """The series reduced to the plot's width: over all of it while the step axis follows
        the data (auto-range), over the visible steps once the user has zoomed or panned. The
        plots share the loss plot's step axis, so its view decides for all."""
        vb = self.loss_plot.getViewBox()
        if vb.autoRangeEnabled()[0]:
            x0, x1 = -math.inf, math.inf
        else:
            x0, x1 = vb.viewRange()[0]
        # Before the first layout the width is 0: draw as for a wide plot.
        return series.envelope(x0, x1, int(vb.width()) or 1600)

    def _on_view_changed(self, *_: Any) -> None:
        following = self.loss_plot.getViewBox().autoRangeEnabled()[0]
        if self._drawing or (following and self._drawn_whole):
            return  # the curves already hold whole series, reduced
        self._dirty = True
        self.redraw()  # O(width): cheap enough to follow a drag or a wheel zoom

    def n_points(self) -> int:
        return self.loss.n


def _placed(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points with both a finite place on the x-axis and a finite value."""
    x, y = finite_view(x, np.asarray(y, dtype=np.float64))
    ok = np.isfinite(x)
    return (x, y) if ok.all() else (x[ok], y[ok])
