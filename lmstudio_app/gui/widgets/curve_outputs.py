"""What the curves give back: the cross-hair and its read-out, and CSV and PNG exports.

A part of CurvesWidget, composed into it (CurveOutputs): it reads the same series objects the
widget draws (Plotted), never copies of them, and owns the cross-hair lines and the mouse
tracking it draws them from.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QLabel, QWidget

from ...core.util.units import format_duration, human_count
from .curve_data import AxisMap, _csv_value, _fmt, _nearest
from .series import GrowingSeries, PeakSeries

CSV_COLUMNS = ("step", "loss", "loss_smoothed", "lr", "tokens_per_s", "val_loss", "val_bpb",
               "tokens", "time")


@dataclass(frozen=True)
class Plotted:
    """The series a CurvesWidget draws against the x-axis shown, and the same points against
    the step (`by_step`: loss, lr, tps, val, bpb), with the map from steps to tokens and time."""

    loss: PeakSeries
    smoothed: PeakSeries
    lr: PeakSeries
    throughput: PeakSeries
    val: GrowingSeries
    by_step: dict[str, GrowingSeries]
    axis: AxisMap


class CurveOutputs:
    """The read-out under the cross-hair (over `plots`), and the exports of the curves."""

    def __init__(self, plotted: Plotted, x_mode: Callable[[], str], readout: QLabel,
                 graphics: pg.GraphicsLayoutWidget, plots: Sequence[pg.PlotItem],
                 before_export: Callable[[], None]) -> None:
        self.plotted = plotted
        self._x_mode = x_mode  # the x-axis shown now: "step", "tokens" or "time"
        self.readout = readout
        self.graphics = graphics
        self._plots = list(plots)
        self._before_export = before_export  # the widget's flush: draw what is pending
        self.cursor_lines: list[pg.InfiniteLine] = []
        for plot in self._plots:
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen((128, 128, 128), width=1))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self.cursor_lines.append(line)
        self._mouse_proxy = pg.SignalProxy(graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)

    def _on_mouse_moved(self, args: tuple[object, ...]) -> None:
        pos = args[0]
        for plot in self._plots:
            if plot.sceneBoundingRect().contains(pos):
                self.show_readout(plot.vb.mapSceneToView(pos).x())
                return
        self.hide_readout()

    def hide_readout(self) -> None:
        """No cross-hair and no read-out (the mouse left the plots, or the curves changed)."""
        for line in self.cursor_lines:
            line.setVisible(False)
        self.readout.setText(" ")

    def show_readout(self, x: float) -> str:
        """Show the values at the logged step nearest to `x` (on the current x-axis); returns
        the text shown."""
        p = self.plotted
        if p.loss.n == 0:
            return ""
        i = _nearest(p.loss.x, x)
        at = float(p.loss.x[i])
        parts = [f"step {int(p.by_step['loss'].x[i])}", *self._position(at),
                 f"loss {_fmt(p.loss.y[i])}", f"smoothed {_fmt(p.smoothed.y[i])}"]
        if p.lr.n:
            parts.append(f"lr {p.lr.y[_nearest(p.lr.x, at)]:.3g}")
        if p.throughput.n:
            parts.append(f"{p.throughput.y[_nearest(p.throughput.x, at)]:,.0f} tokens/s")
        if p.val.n:
            parts.append(self._validation(at))
        text = "   ".join(parts)
        self.readout.setText(text)
        for line in self.cursor_lines:
            line.setPos(at)
            line.setVisible(True)
        return text

    def _position(self, at: float) -> list[str]:
        """Where `at` is on a tokens or time axis, in its unit ([] on the step axis)."""
        mode = self._x_mode()
        if mode == "tokens":
            return [f"{human_count(at)} tokens"]
        if mode == "time":
            return [format_duration(at)]
        return []

    def _validation(self, at: float) -> str:
        """The evaluation nearest to `at`: its loss, bits per byte where logged, and step."""
        p = self.plotted
        j = int(np.argmin(np.abs(p.val.x - at)))
        val_step = float(p.by_step["val"].x[j])
        bpb = p.by_step["bpb"]
        hit = np.flatnonzero(bpb.x == val_step) if bpb.n else np.zeros(0, dtype=np.intp)
        bits = f" ({bpb.y[hit[-1]]:.3f} bits/byte)" if len(hit) else ""
        return f"val {_fmt(p.val.y[j])}{bits} @ {int(val_step)}"

    def export_csv(self, path: Path) -> None:
        """One row per logged or evaluated step: step, loss, smoothed, lr, tokens/s, val loss,
        val bits per byte, tokens seen and training time (whatever the x-axis shown)."""
        p = self.plotted
        rows: dict[float, dict[str, float]] = {}
        steps = p.by_step["loss"].x
        for xs, ys, key in ((steps, p.loss.y, "loss"), (steps, p.smoothed.y, "loss_smoothed"),
                            *((p.by_step[k].x, p.by_step[k].y, column) for k, column in
                              (("lr", "lr"), ("tps", "tokens_per_s"), ("val", "val_loss"),
                               ("bpb", "val_bpb")))):
            for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
                rows.setdefault(x, {})[key] = y
        for mode in ("tokens", "time"):
            if p.axis.has(mode) and rows:
                at = sorted(rows)
                for x, y in zip(at, p.axis.map(at, mode).tolist(), strict=True):
                    rows[x][mode] = y
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for step in sorted(rows):
                values = rows[step]
                writer.writerow([int(step)] + [_csv_value(values.get(c))
                                               for c in CSV_COLUMNS[1:]])

    def export_png(self, path: Path) -> bool:
        """The three plots as they are drawn, saved as a PNG; False when it could not be."""
        self._before_export()
        return bool(self.graphics.grab().save(str(path), "PNG"))

    def ask_export_png(self, parent: QWidget) -> None:
        path, _ = QFileDialog.getSaveFileName(parent, "Export the curves as PNG", "curves.png",
                                              "PNG images (*.png)")
        if path:
            self.export_png(Path(path))

    def ask_export_csv(self, parent: QWidget) -> None:
        path, _ = QFileDialog.getSaveFileName(parent, "Export the curves as CSV", "curves.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))
