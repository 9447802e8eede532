"""What the curves give back: the hover read-out under the cross-hair, and CSV and PNG exports
(a part of CurvesWidget, kept apart to keep each file to one job)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ...core.util.units import format_duration, human_count
from .curve_data import _csv_value, _fmt, _nearest


class CurveOutputs:
    """The read-out and exports of a CurvesWidget (which provides the series and plots)."""

    loss: Any
    smoothed: Any
    lr: Any
    throughput: Any
    val: Any
    _by_step: dict[str, Any]
    _cursor_lines: list[Any]
    readout: Any
    graphics: Any
    x_mode: str
    axis: Any

    def _on_mouse_moved(self, args: tuple) -> None:
        pos = args[0]
        for plot in (self.loss_plot, self.lr_plot, self.tps_plot):  # type: ignore[attr-defined]
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.show_readout(x)
                return
        self.hide_readout()

    def hide_readout(self) -> None:
        """No cross-hair and no read-out (the mouse left the plots, or the curves changed)."""
        for line in self._cursor_lines:
            line.setVisible(False)
        self.readout.setText(" ")

    def show_readout(self, x: float) -> str:
        """Show the values at the logged step nearest to `x` (on the current x-axis); returns
        the text shown."""
        if self.loss.n == 0:
            return ""
        i = _nearest(self.loss.x, x)
        at = float(self.loss.x[i])
        step = float(self._by_step["loss"].x[i])
        parts = [f"step {int(step)}"]
        if self.x_mode == "tokens":
            parts.append(f"{human_count(at)} tokens")
        elif self.x_mode == "time":
            parts.append(format_duration(at))
        parts += [f"loss {_fmt(self.loss.y[i])}", f"smoothed {_fmt(self.smoothed.y[i])}"]
        if self.lr.n:
            parts.append(f"lr {self.lr.y[_nearest(self.lr.x, at)]:.3g}")
        if self.throughput.n:
            parts.append(f"{self.throughput.y[_nearest(self.throughput.x, at)]:,.0f} tokens/s")
        if self.val.n:
            j = int(np.argmin(np.abs(self.val.x - at)))
            val_step = float(self._by_step["val"].x[j])
            bpb = self._by_step["bpb"]
            hit = np.flatnonzero(bpb.x == val_step) if bpb.n else []
            bits = f" ({bpb.y[hit[-1]]:.3f} bits/byte)" if len(hit) else ""
            parts.append(f"val {_fmt(self.val.y[j])}{bits} @ {int(val_step)}")
        text = "   ".join(parts)
        self.readout.setText(text)
        for line in self._cursor_lines:
            line.setPos(at)
            line.setVisible(True)
        return text

    def export_csv(self, path: Path) -> None:
        """One row per logged or evaluated step: step, loss, smoothed, lr, tokens/s, val loss,
        val bits per byte, tokens seen and training time (whatever the x-axis shown)."""
        rows: dict[float, dict[str, float]] = {}
        steps = self._by_step["loss"].x
        for xs, ys, key in ((steps, self.loss.y, "loss"), (steps, self.smoothed.y,
                                                            "loss_smoothed"),
                            *((self._by_step[k].x, self._by_step[k].y, column) for k, column in
                              (("lr", "lr"), ("tps", "tokens_per_s"), ("val", "val_loss"),
                               ("bpb", "val_bpb")))):
            for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
                rows.setdefault(x, {})[key] = y
        for mode in ("tokens", "time"):
            if self.axis.has(mode) and rows:
                at = sorted(rows)
                for x, y in zip(at, self.axis.map(at, mode).tolist(), strict=True):
                    rows[x][mode] = y
        columns = ["step", "loss", "loss_smoothed", "lr", "tokens_per_s", "val_loss", "val_bpb",
                   "tokens", "time"]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for step in sorted(rows):
                values = rows[step]
                writer.writerow([int(step)] + [_csv_value(values.get(c)) for c in columns[1:]])

    def export_png(self, path: Path) -> bool:
        self.flush()  # type: ignore[attr-defined]
        return self.graphics.grab().save(str(path), "PNG")

    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the curves as PNG",  # type: ignore
                                              "curves.png", "PNG images (*.png)")
        if path:
            self.export_png(Path(path))

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the curves as CSV",  # type: ignore
                                              "curves.csv", "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))
