"""The embedding projector: a run's token embeddings in 2-D (PCA, or UMAP when umap-learn is
installed) at a checkpoint picked on a slider, coloured by the piece's frequency in the training
split or by its type; hovering a point names its token, clicking it (or typing a piece) lists its
nearest neighbours by cosine similarity. The projection is a BackgroundJob
(core/inference/embeddings.py); the neighbours of one token are a single product, done at once.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QWidget,
)

from .checkpoints import checkpoint_name
from .shaded_text import piece_label
from .view_job import CheckpointView, column, note_label, side_by_side

NEIGHBOURS_SHOWN = 15
TYPE_COLOURS = {"special": "#d62728", "byte": "#7f7f7f", "word start": "#1f77b4",
                "word piece": "#ff7f0e", "punctuation": "#2ca02c", "digits": "#9467bd",
                "space": "#8c564b"}


def projection(run: Path, checkpoint: str | int, method: str,
               what: str = "tokens") -> tuple[Any, np.ndarray]:
    """(TokenEmbeddings, points (N, 2)) of `run` at `checkpoint`: the view's job. `what`:
    "tokens", or "texts" (a classifier's pooled validation texts)."""
    from ....core.inference.embeddings import pooled_embeddings, project, token_embeddings

    e = (pooled_embeddings if what == "texts" else token_embeddings)(run, checkpoint)
    return e, project(e.vectors, 2, method)


def label_colours(labels: list[str]) -> dict[str, str]:
    """A colour per distinct label, in order of first appearance."""
    palette = list(TYPE_COLOURS.values())
    return {name: palette[i % len(palette)] for i, name in enumerate(dict.fromkeys(labels))}


def frequency_brushes(freq: np.ndarray) -> list[Any]:
    """A brush per token by log(1 + count) on viridis (rare: dark, frequent: yellow)."""
    scaled = np.log1p(freq.astype(np.float64))
    scaled = scaled / (scaled.max() or 1.0)
    colours = pg.colormap.get("viridis").map(scaled, mode="qcolor")
    return [pg.mkBrush(c) for c in colours]


class EmbeddingsPanel(CheckpointView):
    """Scatter of the token embeddings, its controls, and the chosen token's neighbours."""

    sig_shown = Signal(object)  # the TokenEmbeddings drawn

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.embeddings: Any = None
        self.points: np.ndarray | None = None
        self.hovered: int | None = None

        note = note_label("Where training put each token: its embedding vector projected to "
                          "two dimensions. Hover a point for its token; click one, or type a "
                          "piece, for its nearest neighbours by cosine similarity.")
        self.method_box = QComboBox()
        self.method_box.addItem("PCA", "pca")
        if importlib.util.find_spec("umap") is not None:
            self.method_box.addItem("UMAP", "umap")
        self.method_box.setToolTip("PCA; UMAP when umap-learn is installed "
                                   "(pip install \"lmstudio-app[umap]\")")
        self.what_box = QComboBox()
        self.what_box.addItem("Tokens", "tokens")
        self.what_box.addItem("Validation texts", "texts")
        self.what_box.setToolTip("Token embeddings, or (a fine-tuned classifier) the pooled "
                                 "embeddings of its validation texts, coloured by label")
        self.colour_box = QComboBox()
        self.colour_box.addItem("Frequency", "frequency")
        self.colour_box.addItem("Piece type", "type")
        self.colour_box.currentIndexChanged.connect(lambda _i: self._colour())
        self.project_button = QPushButton("Project")
        self.project_button.clicked.connect(self.compute)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Checkpoint"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.checkpoint_label)
        for label, box in (("Show", self.what_box), ("Method", self.method_box),
                           ("Colour", self.colour_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(box)
        controls.addWidget(self.project_button)

        self.plot = pg.PlotWidget()
        self.plot.setAccessibleName("Token embeddings")
        self.plot.setLabel("bottom", "component 1")
        self.plot.setLabel("left", "component 2")
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, hoverable=True, hoverSize=9,
                                          tip=self._tip)
        self.scatter.sigHovered.connect(self._on_hover)
        self.scatter.sigClicked.connect(self._on_click)
        self.plot.addItem(self.scatter)
        self.chosen_mark = pg.ScatterPlotItem(size=12, symbol="o", brush=None,
                                              pen=pg.mkPen("#d62728", width=2))
        self.plot.addItem(self.chosen_mark)
        self.status = QLabel("Press Project.")
        self.status.setWordWrap(True)
        self.button = self.project_button
        self.token_edit = QLineEdit()
        self.token_edit.setPlaceholderText("a piece, e.g. ▁the")
        self.token_edit.setAccessibleName("Token")
        self.token_edit.returnPressed.connect(self._on_token_typed)
        self.neighbours = QListWidget()
        self.neighbours.setAccessibleName("Nearest neighbours")
        right = column(None, [(QLabel("Token"), 0), (self.token_edit, 0),
                              (QLabel("Nearest by cosine similarity"), 0),
                              (self.neighbours, 1)])
        self.legend = QLabel()
        self.legend.setAccessibleName("Colour legend")
        column(self, [(note, 0), (controls, 0),
                      (side_by_side(self.plot, right, (4, 1)), 1), (self.legend, 0),
                      (self.status, 0)])
        self.set_run(None)

    def set_run(self, run: Path | None, checkpoint: str | int | None = None,
                texts: bool = False) -> None:
        """As CheckpointView's; `texts`: the run is a classifier (its texts can be shown)."""
        super().set_run(run, checkpoint)
        if not texts:
            self.what_box.setCurrentIndex(0)
        self.what_box.setEnabled(texts)

    def shown(self) -> bool:
        return self.points is not None

    def redo(self) -> None:
        self.compute()  # the same view at the checkpoint now picked

    # -- projecting

    def compute(self) -> None:
        checkpoint = self.checkpoint()
        if self.run is None or self.job is not None or checkpoint is None:
            return
        run, method = self.run, str(self.method_box.currentData())
        what = str(self.what_box.currentData())
        self.start_job(lambda: projection(run, checkpoint, method, what), self.show_points,
                       f"Projecting the {checkpoint_name(checkpoint)} embeddings…")

    def show_points(self, found: tuple[Any, np.ndarray]) -> None:
        e, points = found
        self.embeddings, self.points = e, points
        self.scatter.setData(x=points[:, 0], y=points[:, 1], data=np.arange(len(points)))
        self._colour()
        self.status.setText(f"{len(points):,} {e.kind}, {checkpoint_name(e.checkpoint)} weights, "
                            f"{self.method_box.currentText()}")
        if self.token_edit.text():
            self._on_token_typed()
        self.sig_shown.emit(e)

    def _colour(self) -> None:
        e = self.embeddings
        if e is None:
            return
        if e.kind == "texts":
            colours = label_colours(e.types)
            brushes = [pg.mkBrush(colours[t]) for t in e.types]
            self.legend.setText("Colour: true label  " + "  ".join(
                f'<span style="color:{c}">\u25cf</span> {name}' for name, c in colours.items()))
        elif self.colour_box.currentData() == "frequency" and e.frequency is not None:
            brushes = frequency_brushes(e.frequency)
            self.legend.setText("Colour: how often the token occurs in the training split "
                                "(log scale; dark: rare, yellow: frequent)")
        else:
            brushes = [pg.mkBrush(TYPE_COLOURS.get(t, "#7f7f7f")) for t in e.types]
            self.legend.setText("Colour: " + "  ".join(
                f'<span style="color:{c}">\u25cf</span> {name}'
                for name, c in TYPE_COLOURS.items() if name in set(e.types)))
        self.scatter.setBrush(brushes)

    # -- hover and neighbours

    def _tip(self, x: float, y: float, data: Any) -> str:
        e = self.embeddings
        if e is None:
            return ""
        i = int(data)
        if e.kind == "texts":
            return f"{e.pieces[i]!r} (label {e.types[i]})"
        freq = "" if e.frequency is None else f", {int(e.frequency[i]):,} times in training"
        return f"{piece_label(e.pieces[i])} (id {i}, {e.types[i]}{freq})"

    def _on_hover(self, _item: Any, points: Any, *_: Any) -> None:
        self.hovered = int(points[0].data()) if len(points) else None

    def _on_click(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.choose(int(points[0].data()))

    def _on_token_typed(self) -> None:
        e = self.embeddings
        piece = self.token_edit.text()
        if e is None:
            return
        if piece not in e.pieces:
            self.status.setText(f"{piece!r} is not a piece of this run's tokenizer.")
            return
        self.choose(e.pieces.index(piece))

    def choose(self, i: int) -> None:
        """List token `i`'s nearest neighbours and ring it on the plot."""
        from ....core.inference.embeddings import neighbours

        e, points = self.embeddings, self.points
        if e is None or points is None:
            return
        self.neighbours.clear()
        for j, sim in neighbours(e.vectors, i, NEIGHBOURS_SHOWN):
            self.neighbours.addItem(f"{sim:+.3f}  {piece_label(e.pieces[j])}")
        self.chosen_mark.setData(x=[points[i, 0]], y=[points[i, 1]])
        self.token_edit.blockSignals(True)
        self.token_edit.setText(e.pieces[i])
        self.token_edit.blockSignals(False)
