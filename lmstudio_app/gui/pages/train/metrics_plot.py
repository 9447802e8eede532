"""The fine-tuning runs' validation scores (accuracy, macro F1, exact match, F1) against the step.

Drawn with pyqtgraph in the window's palette, like the loss curves; a few points per run (one per
evaluation), so the curves are set whole on each new point.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

METRIC_COLOURS = {"accuracy": "#2e86c1", "macro_f1": "#d0873d", "exact_match": "#3aa59b",
                  "f1": "#c9508a"}


class MetricsPlot(QWidget):
    """Validation metrics (accuracy, macro F1, exact match, F1) against the step, in [0, 1]."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("left", "validation score")
        self.plot.setLabel("bottom", "step")
        self.plot.setYRange(0, 1)
        # Bottom right (rising curves end top right), two to a row: a comparison's four
        # entries fit a short plot; on a backing of the plot's colour, over the curves.
        legend = self.plot.addLegend(offset=(-10, -10), colCount=2, verSpacing=-4)
        legend.setZValue(10)
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.plot)
        self._apply_palette()

    def _apply_palette(self) -> None:
        """Follow the window's palette, like the loss curves, not pyqtgraph's black."""
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        legend = self.plot.plotItem.legend
        legend.setLabelTextColor(text)
        backing = pal.color(QPalette.ColorRole.Base)
        backing.setAlpha(200)
        legend.setBrush(pg.mkBrush(backing))

    def changeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def add(self, step: int, extra: dict[str, float], side: str = "",
            dashed: bool = False) -> None:
        """One evaluation's scores; `side` names a run among several ("accuracy (scratch)"),
        drawn dashed when `dashed`."""
        for key, value in extra.items():
            if not isinstance(value, (int, float)):
                continue
            name = f"{key} ({side})" if side else key
            xs, ys = self.points.setdefault(name, ([], []))
            xs.append(float(step))
            ys.append(float(value))
            curve = self._curves.get(name)
            if curve is None:
                colour = METRIC_COLOURS.get(key, "#7d9c2f")
                style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
                curve = self.plot.plot([], [], pen=pg.mkPen(colour, width=2, style=style),
                                       symbol="t" if dashed else "o", symbolSize=6,
                                       symbolBrush=colour, name=name)
                self._curves[name] = curve
            curve.setData(xs, ys)

    def clear(self) -> None:
        for curve in self._curves.values():
            self.plot.removeItem(curve)
        self._curves.clear()
        self.points.clear()
        legend = self.plot.plotItem.legend
        if legend is not None:
            legend.clear()
