"""Which tokens are hard: a validation passage with each token shaded by its loss, and the
hardest token types of the validation split, at a checkpoint picked on a slider.

A token's shade is exp(-loss), the probability the model gave the right token, on the same
scale as the chat's pieces. For a BERT run only the masked positions carry a loss (the others
stay unshaded). The scoring is a BackgroundJob over the view's own copy of the model.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...widgets.tables import read_only_table
from .background import ModelSlot, TokenScores, score_tokens
from .checkpoints import checkpoint_name
from .shaded_text import ProbabilityLegend, ShadedText, loss_details, piece_label
from .view_job import CheckpointView, note_label

HARDEST_SHOWN = 40


class _NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number, not its text."""

    def __init__(self, value: float, text: str) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", 0.0)


class HardTokensPanel(CheckpointView):
    """Passage shaded by loss on the left, hardest token types on the right; Score runs it."""

    sig_scored = Signal(object)  # the TokenScores shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slot = ModelSlot()
        self.scores: TokenScores | None = None

        note = note_label("How hard each token of a validation passage is for the model: the "
                          "loss of the right token (nats). Leave the passage empty to take the "
                          "start of the validation split. For a BERT run, the masked positions "
                          "are scored.")
        self.passage_edit = QPlainTextEdit()
        self.passage_edit.setPlaceholderText("Empty: the start of the validation split")
        self.passage_edit.setMaximumHeight(70)
        self.score_button = QPushButton("Score")
        self.score_button.clicked.connect(self.score)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Checkpoint"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.checkpoint_label)
        controls.addWidget(self.score_button)

        self.text_view = ShadedText()
        self.text_view.setPlaceholderText("Press Score: each token is shaded by its loss.")
        self.text_view.sig_token_chosen.connect(self._show_chosen)
        self.mean_label = QLabel()
        self.mean_label.setWordWrap(True)
        self.button, self.status = self.score_button, self.mean_label
        self.chosen_label = QLabel()
        self.chosen_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend = ProbabilityLegend("exp(-loss)")
        self.legend.caption.setToolTip("A token's shade is exp(-loss): the probability the "
                                       "model gave the right token (red: hard, green: easy)")
        self.legend.hint.setText("  hover or click a token for its loss")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.text_view, 1)
        lv.addWidget(self.legend)
        lv.addWidget(self.mean_label)
        lv.addWidget(self.chosen_label)

        self.table = read_only_table(["Token", "Mean loss", "Count"], row_numbers=False)
        loss_header = self.table.horizontalHeaderItem(1)
        assert loss_header is not None  # made by setHorizontalHeaderLabels
        loss_header.setToolTip("Mean loss of the type's occurrences in the scored windows (nats)")
        # Stretch the token column; the numbers' columns are fitted once per table, since
        # fitting them at every cell set cost the GUI thread ~50 ms for 40 rows.
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setSortingEnabled(True)
        self.table_title = QLabel("Hardest token types of the validation split")
        self.table_title.setWordWrap(True)
        self.table_title.setMinimumWidth(360)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.table_title)
        rv.addWidget(self.table, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 400])

        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addWidget(self.passage_edit)
        v.addLayout(controls)
        v.addWidget(split, 1)
        self.set_run(None)

    def shown(self) -> bool:
        return self.scores is not None

    def redo(self) -> None:
        self.score()  # the same passage under the checkpoint now picked

    # -- scoring

    def score(self) -> None:
        checkpoint = self.checkpoint()  # None: no choices
        if self.run is None or self.job is not None or checkpoint is None:
            return
        run, text = self.run, self.passage_edit.toPlainText()
        slot = self.slot
        self.start_job(lambda: score_tokens(slot, run, checkpoint, text), self.show_scores,
                       f"Scoring with the {checkpoint_name(checkpoint)} weights…")

    def show_scores(self, scores: TokenScores) -> None:
        self.scores = scores
        passage = scores.passage
        if not self.passage_edit.toPlainText().strip():
            self.passage_edit.setPlainText("".join(t.text for t in passage.tokens))
        self.text_view.clear()
        self.text_view.add_tokens([
            (t.text, math.exp(-t.loss) if t.loss is not None else None,
             loss_details(t.text, t.loss), t) for t in passage.tokens])
        scored = sum(t.loss is not None for t in passage.tokens)
        what = "masked positions" if scores.arch == "bert" else "tokens"
        self.mean_label.setText(
            f"Mean loss {passage.mean_loss:.4f} nats over {scored} scored {what} "
            f"(perplexity {math.exp(passage.mean_loss):.1f}), "
            f"{checkpoint_name(scores.checkpoint)} weights")
        self.table_title.setText(f"Hardest token types of the validation split ({what}, "
                                 f"{checkpoint_name(scores.checkpoint)} weights)")
        self.table.setSortingEnabled(False)
        shown = scores.hardest[:HARDEST_SHOWN]
        self.table.setRowCount(len(shown))
        for row, h in enumerate(shown):
            self.table.setItem(row, 0, QTableWidgetItem(piece_label(h.piece)))
            self.table.setItem(row, 1, _NumberItem(h.mean_loss, f"{h.mean_loss:.3f}"))
            self.table.setItem(row, 2, _NumberItem(h.count, str(h.count)))
        self.table.setSortingEnabled(True)
        self.table.sortItems(1, Qt.SortOrder.DescendingOrder)
        for column in (1, 2):
            self.table.resizeColumnToContents(column)
        self.sig_scored.emit(scores)

    def _show_chosen(self, index: int) -> None:
        self.chosen_label.setText(self.text_view.tokens[index].details)

