"""What the model attends to: for a sentence, a grid of small attention maps (one per layer and
head) to pick from, and the picked one large with the tokens along its sides.

Row i of a map is how token i spreads its attention over the tokens (columns); each row sums to
1. The weights are computed in a BackgroundJob over the view's own copy of the model
(core.inference.attention: explicit softmax(QK^T / sqrt(d)), training keeps SDPA).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .background import ModelSlot, attention_for
from .view_job import OneJobView

if TYPE_CHECKING:
    from ....core.inference.attention import AttentionMaps

DEFAULT_SENTENCE = "It is a truth universally acknowledged, that a single man"
# White (no attention) to deep blue (all of it): readable on light and dark windows alike.
ATTENTION_COLOURS = pg.ColorMap([0.0, 0.5, 1.0], ["#ffffff", "#5dade2", "#1b2631"])
PICKED_PEN = pg.mkPen("#e67e22", width=3)
TILE_PEN = pg.mkPen("#aab7b8")
GAP = 2  # tokens of space between two maps of the grid
_TOKEN_CHARS = 10  # a token's axis label is cut to this many characters


class AttentionPanel(OneJobView):
    """A sentence, Compute, the grid of maps and the picked map."""

    sig_computed = Signal(object)  # the AttentionMaps shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.checkpoint: str | int = "best"
        self.slot = ModelSlot()
        self.maps: AttentionMaps | None = None
        self.picked = (0, 0)
        self.tiles: dict[tuple[int, int], QGraphicsRectItem] = {}

        note = QLabel("What each token attends to, in every layer and head. Row i of a map "
                      "shows how token i spreads its attention over the tokens (darker: more); "
                      "a GPT token sees only the tokens before it. Click a small map to enlarge "
                      "it.")
        note.setWordWrap(True)
        self.text_edit = QLineEdit(DEFAULT_SENTENCE)
        self.text_edit.returnPressed.connect(self.compute)
        self.compute_button = QPushButton("Compute")
        self.compute_button.clicked.connect(self.compute)
        row = QHBoxLayout()
        row.addWidget(QLabel("Sentence"))
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.compute_button)
        self.status_label = QLabel("Write a sentence and press Compute.")
        self.status_label.setWordWrap(True)
        self.button, self.status = self.compute_button, self.status_label

        # All maps in one image, a tile per layer (rows) and head (columns): one plot to build
        # and paint, however many heads the model has.
        self.grid = pg.PlotWidget()
        self.grid.setMinimumWidth(220)
        self.grid.setAspectLocked(True)
        self.grid.invertY(True)
        self.grid.setMouseEnabled(False, False)
        self.grid.hideButtons()
        self.grid.showAxis("top")
        self.grid.hideAxis("bottom")
        self.grid_image = pg.ImageItem(axisOrder="row-major")
        self.grid_image.setColorMap(ATTENTION_COLOURS)
        self.grid.addItem(self.grid_image)
        self.grid.scene().sigMouseClicked.connect(self._on_grid_click)
        self.big = pg.PlotWidget()
        self.big.setAspectLocked(True)
        self.big.invertY(True)
        self.big.setMouseEnabled(False, False)
        self.big.hideButtons()
        self.big_image = pg.ImageItem(axisOrder="row-major")
        self.big_image.setColorMap(ATTENTION_COLOURS)
        self.big.addItem(self.big_image)
        self.big.setLabel("bottom", "attended token (key)")
        self.big.showAxis("top")
        self.big.setLabel("left", "token (query)")
        self.big_title = QLabel()
        self.value_label = QLabel()
        self.big_image.hoverEvent = self._hover
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.big_title)
        rv.addWidget(self.big, 1)
        rv.addWidget(self.value_label)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)

        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addLayout(row)
        v.addWidget(self.status_label)
        v.addWidget(split, 1)
        self._apply_palette()
        self.set_run(None)

    def _apply_palette(self) -> None:
        pal = self.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        for plot, sides in ((self.grid, ("left", "top")), (self.big, ("left", "bottom", "top"))):
            plot.setBackground(base)
            for side in sides:
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))

    def set_run(self, run: Path | None, checkpoint: str | int = "best") -> None:
        self.run, self.checkpoint = run, checkpoint
        self.compute_button.setEnabled(run is not None and self.job is None)

    # -- computing

    def ready(self) -> bool:
        return self.run is not None

    def compute(self) -> None:
        if self.run is None or self.job is not None:
            return
        run, checkpoint, text, slot = self.run, self.checkpoint, self.text_edit.text(), self.slot
        self.start_job(lambda: attention_for(slot, run, checkpoint, text), self.show_maps,
                       f"Computing the attention of {run.name} ({checkpoint})…")

    # -- showing

    def tile_rect(self, layer: int, head: int) -> QRectF:
        """Where layer `layer`, head `head` (0-based) lies in the grid (view coordinates)."""
        assert self.maps is not None  # tiles are laid out for maps shown
        T = self.maps.weights.shape[-1]
        return QRectF(head * (T + GAP), layer * (T + GAP), T, T)

    def show_maps(self, maps: AttentionMaps) -> None:
        self.maps = maps
        n_layer, n_head, T, _ = maps.weights.shape
        step = T + GAP
        tiled = np.zeros((n_layer * step - GAP, n_head * step - GAP), dtype=np.float32)
        for layer in range(n_layer):
            for head in range(n_head):
                tiled[layer * step:layer * step + T, head * step:head * step + T] = \
                    maps.weights[layer, head].numpy()
        self.grid_image.setImage(tiled, levels=(0.0, 1.0))
        for item in self.tiles.values():
            self.grid.removeItem(item)
        self.tiles = {}
        for layer in range(n_layer):
            for head in range(n_head):
                item = QGraphicsRectItem(self.tile_rect(layer, head))
                item.setPen(TILE_PEN)
                self.grid.addItem(item)
                self.tiles[(layer, head)] = item
        self.grid.getAxis("top").setTicks([[(h * step + T / 2, f"head {h + 1}")
                                            for h in range(n_head)]])
        self.grid.getAxis("left").setTicks([[(i * step + T / 2, f"layer {i + 1}")
                                             for i in range(n_layer)]])
        self.grid.setRange(xRange=(0, tiled.shape[1]), yRange=(0, tiled.shape[0]), padding=0.02)
        self.status_label.setText(f"{T} tokens, {n_layer} layers × {n_head} heads.")
        layer, head = self.picked
        self.pick(min(layer, n_layer - 1), min(head, n_head - 1))
        self.sig_computed.emit(maps)

    def pick(self, layer: int, head: int) -> None:
        """Show layer `layer`, head `head` (0-based) large, and mark it in the grid."""
        if self.maps is None:
            return
        self.picked = (layer, head)
        for where, item in self.tiles.items():
            item.setPen(PICKED_PEN if where == (layer, head) else TILE_PEN)
            item.setZValue(1 if where == (layer, head) else 0)
        tokens = self.maps.tokens
        self.big_image.setImage(self.shown_map(), levels=(0.0, 1.0))
        labels = [(i + 0.5, t.strip()[:_TOKEN_CHARS] or "␣") for i, t in enumerate(tokens)]
        # The keys' labels alternate between the bottom and the top so neighbours never overlap.
        self.big.getAxis("bottom").setTicks([labels[0::2]])
        self.big.getAxis("top").setTicks([labels[1::2]])
        self.big.getAxis("left").setTicks([labels])
        self.big.setRange(xRange=(0, len(tokens)), yRange=(0, len(tokens)), padding=0)
        self.big_title.setText(f"Layer {layer + 1}, head {head + 1}: each row sums to 1")

    def _on_grid_click(self, ev: Any) -> None:
        if self.maps is None:
            return
        at = self.grid.getPlotItem().vb.mapSceneToView(ev.scenePos())
        n_layer, n_head, T, _ = self.maps.weights.shape
        col, row = divmod(at.x(), T + GAP), divmod(at.y(), T + GAP)
        if col[1] < T and row[1] < T and 0 <= row[0] < n_layer and 0 <= col[0] < n_head:
            self.pick(int(row[0]), int(col[0]))

    def shown_map(self) -> np.ndarray:
        """The (T, T) weights of the picked layer and head (rows: queries, columns: keys)."""
        assert self.maps is not None  # a head is picked only in maps shown
        layer, head = self.picked
        weights: np.ndarray = self.maps.weights[layer, head].numpy()
        return weights

    def _hover(self, ev: Any) -> None:
        if self.maps is None or ev.isExit():
            self.value_label.setText("")
            return
        T = len(self.maps.tokens)
        col, row = int(ev.pos().x()), int(ev.pos().y())
        if 0 <= row < T and 0 <= col < T:
            q, k = self.maps.tokens[row], self.maps.tokens[col]
            self.value_label.setText(f"{q!r} → {k!r}: {self.shown_map()[row, col]:.1%}")

