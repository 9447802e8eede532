"""Marks on the loss curve at the steps whose weights the run kept; a click on one asks to open
that checkpoint ("what did it say at step 500?")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

MARK_COLOUR = "#2f9e5a"


class CheckpointMarks(QObject):
    """Small diamonds on a plot, one per kept checkpoint; `sig_chosen(step)` on a click."""

    sig_chosen = Signal(int)

    def __init__(self, plot: pg.PlotItem, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.steps: list[int] = []
        self.item = pg.ScatterPlotItem(
            size=10, symbol="d", pen=pg.mkPen("#1d6b3b", width=1), brush=pg.mkBrush(MARK_COLOUR),
            hoverable=True, hoverSize=13, tip=self._tip)
        self.item.setZValue(11)  # over the curves and the legend (10): always clickable
        plot.addItem(self.item)
        self.item.sigClicked.connect(self._clicked)

    @staticmethod
    def _tip(x: float, y: float, data: Any) -> str:
        return f"Step {int(data):,}: click to open these weights in the Playground"

    def show(self, steps: list[int], x: np.ndarray, y: np.ndarray) -> None:
        """Marks at (x, y), one per step (points without a finite place are left out)."""
        ok = np.isfinite(x) & np.isfinite(y)
        self.steps = [s for s, keep in zip(steps, ok, strict=True) if keep]
        self.item.setData(x=np.asarray(x)[ok], y=np.asarray(y)[ok], data=self.steps)

    def positions(self) -> list[tuple[int, float, float]]:
        """(step, x, y) of each mark shown."""
        x, y = self.item.getData()
        return [(s, float(a), float(b)) for s, a, b in zip(self.steps, x, y, strict=True)]

    def choose(self, step: int) -> None:
        """As a click on the mark of `step` does."""
        self.sig_chosen.emit(int(step))

    def _clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.choose(int(points[0].data()))
