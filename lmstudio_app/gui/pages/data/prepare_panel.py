"""The Data page's preparation: tokenizer and store settings, Prepare with progress and Cancel,
and the prepared store's figures with a sample cut into its pieces.

Preparing runs core.data.prepare in a BackgroundJob; a cancelled or failed preparation leaves
no partial files (the engine cleans up after itself). `marks` is the one table from the engine's
field names (PrepareConfig, TokenizerSpec, CorpusOptions) to these controls: the page outlines
the settings a mistake names.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ....core.data.corpus import ENCODINGS, CorpusOptions
from ....core.data.layout import STORE
from ....core.data.tokenizer import KINDS, MIN_VOCAB
from ....core.util.units import format_duration, human_bytes, human_rate
from ...jobs import BackgroundJob
from ...state import AppState
from ...widgets.elided_label import ElidedLabel
from ...widgets.field_marks import Control, FieldMarks
from .background import PrepareSummary, default_out_name, run_prepare
from .token_view import TokenView

log = logging.getLogger(__name__)

STAGES = {"scan": "Scanning", "tokenizer": "Training the tokenizer", "encode": "Encoding",
          "done": "Done"}


KEY_KIND = "data/tokenizer"
KEY_VOCAB = "data/vocab_size"
KEY_FIELD = "data/text_field"
KEY_ENCODING = "data/encoding"
KEY_VAL = "data/val_fraction"
KEY_NAME = "data/out_name"


class PreparePanel(QWidget):
    """Settings and figures side by side, then the Prepare row and its progress line."""

    sig_finished = Signal(str)  # done | cancelled | failed
    sig_failed = Signal(str, object)  # the engine's line, the fields it names
    sig_settings_changed = Signal()  # the tokenizer, vocabulary, share or name changed
    sig_reading_changed = Signal()  # the text field or the encoding changed: count again

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.job: BackgroundJob | None = None
        self.stage = ""
        self._outcome = "failed"  # set by the result / cancelled handlers
        self.name_edited = False
        self.last_summary: PrepareSummary | None = None
        self._build()
        self._connect_settings()

    def _build(self) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(list(KINDS))
        self.kind_combo.setToolTip("unigram and bpe learn sub-word pieces; char uses one piece "
                                   "per character")
        self.vocab_spin = QSpinBox()
        self.vocab_spin.setRange(MIN_VOCAB, 1 << 20)
        self.vocab_spin.setSingleStep(500)
        self.vocab_spin.setValue(8000)
        self.field_edit = QLineEdit("text")
        self.field_edit.setToolTip("The JSONL field or CSV/TSV column that holds the text")
        self.encoding_combo = QComboBox()
        self.encoding_combo.addItems(list(ENCODINGS))
        self.encoding_combo.setToolTip("utf-8 refuses bad bytes; replace turns them into "
                                       "\ufffd; latin-1 reads any byte")
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.01, 0.5)
        self.val_spin.setSingleStep(0.01)
        self.val_spin.setDecimals(2)
        self.val_spin.setValue(0.05)
        self.name_edit = QLineEdit()
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.out_label = ElidedLabel()  # a long home folder must not widen the window
        self.out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        controls = {"kind": Control("Tokenizer", self.kind_combo),
                    "vocab_size": Control("Vocabulary", self.vocab_spin),
                    "text_field": Control("Text field", self.field_edit),
                    "encoding": Control("Encoding", self.encoding_combo),
                    "val_fraction": Control("Validation share", self.val_spin),
                    "out_dir": Control("Output name", self.name_edit)}
        for label, widget in controls.values():
            form.addRow(label, widget)
        form.addRow("Folder", self.out_label)
        self.marks = FieldMarks(controls)
        settings_box = QGroupBox("Tokenizer and store")
        settings_box.setLayout(form)

        self.prepare_button = QPushButton("Prepare")
        self.prepare_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Preparing")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress_label = ElidedLabel("")
        self.progress_label.setAccessibleName("Progress")
        run_row = QHBoxLayout()
        run_row.addWidget(self.prepare_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)

        # Results: the store's figures and a sample cut into pieces.
        self.figures: dict[str, QLabel] = {}
        grid = QGridLayout()
        names = [("tokens", "Tokens"), ("documents", "Documents"), ("split", "Train / validation"),
                 ("vocab", "Vocabulary"), ("folder", "Folder")]
        for row, (key, title) in enumerate(names):
            grid.addWidget(QLabel(title + ":"), row, 0)
            value = ElidedLabel("–")
            value.setAccessibleName(title)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.figures[key] = value
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        self.sample_label = QLabel("A sample cut into its pieces (hover a piece for its id):")
        self.token_view = TokenView()
        self.result_box = QGroupBox("Prepared store")
        rv = QVBoxLayout(self.result_box)
        rv.addLayout(grid)
        rv.addWidget(self.sample_label)
        rv.addWidget(self.token_view)
        self.result_box.setEnabled(False)

        bottom = QHBoxLayout()
        bottom.addWidget(settings_box, 1)
        bottom.addWidget(self.result_box, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bottom)
        layout.addLayout(run_row)
        layout.addWidget(self.progress_label)

    # -- settings

    def _connect_settings(self) -> None:
        self.name_edit.textEdited.connect(lambda _t: self.sig_settings_changed.emit())
        for signal in (self.kind_combo.currentTextChanged, self.vocab_spin.valueChanged,
                       self.val_spin.valueChanged):
            signal.connect(lambda *_: self.sig_settings_changed.emit())
        self.field_edit.editingFinished.connect(self.sig_reading_changed)
        self.encoding_combo.currentTextChanged.connect(lambda _t: self.sig_reading_changed.emit())

    def restore_settings(self) -> None:
        """The settings of the last session (QSettings), without announcing them."""
        widgets = (self.kind_combo, self.vocab_spin, self.field_edit, self.encoding_combo,
                   self.val_spin)
        for w in widgets:
            w.blockSignals(True)
        kind = self.state.value(KEY_KIND, "unigram", str)
        if kind in KINDS:
            self.kind_combo.setCurrentText(kind)
        self.vocab_spin.setValue(self.state.value(KEY_VOCAB, 8000, int))
        self.field_edit.setText(self.state.value(KEY_FIELD, "text", str) or "text")
        encoding = self.state.value(KEY_ENCODING, "utf-8", str)
        if encoding in ENCODINGS:
            self.encoding_combo.setCurrentText(encoding)
        self.val_spin.setValue(self.state.value(KEY_VAL, 0.05, float))
        for w in widgets:
            w.blockSignals(False)
        name = self.state.value(KEY_NAME, "", str) or ""
        self.name_edited = bool(name)
        if name:
            self.name_edit.setText(name)

    def save_settings(self) -> None:
        self.state.set_value(KEY_KIND, self.kind_combo.currentText())
        self.state.set_value(KEY_VOCAB, self.vocab_spin.value())
        self.state.set_value(KEY_FIELD, self.field_edit.text().strip() or "text")
        self.state.set_value(KEY_ENCODING, self.encoding_combo.currentText())
        self.state.set_value(KEY_VAL, self.val_spin.value())
        self.state.set_value(KEY_NAME, self.name_edit.text().strip() if self.name_edited else "")

    def encoding(self) -> str:
        """The Encoding setting: how the sources' bytes are read."""
        return self.encoding_combo.currentText()

    def allow_prepare(self, on: bool) -> None:
        self.prepare_button.setEnabled(on)

    def corpus_options(self) -> CorpusOptions:
        return CorpusOptions(text_field=self.field_edit.text().strip() or "text",
                             encoding=self.encoding_combo.currentText())

    def _on_name_edited(self, text: str) -> None:
        self.name_edited = bool(text.strip())

    def update_out_name(self, sources: list[str]) -> None:
        """Name the output after the sources and the tokenizer, unless the user named it."""
        if not self.name_edited:
            self.name_edit.setText(default_out_name(
                sources, self.kind_combo.currentText(), self.vocab_spin.value()))
        self.out_label.setText(str(self.out_dir()))
        if self.job is None and self.last_summary is None:
            # A store from an earlier session (one stat): say so, rather than an empty line.
            earlier = (self.out_dir() / STORE).is_file()
            self.progress_label.setText(
                f"Prepared before: {self.out_dir()}. Prepare reuses it while the sources and "
                "settings stay the same." if earlier else "")

    def out_dir(self) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name_edit.text().strip()).strip("-.")
        return self.state.data_root / (name or "corpus")

    # -- prepare

    def start(self, sources: list[str]) -> None:
        """Prepare `sources` into out_dir() in a job (the caller checked there are some)."""
        from ....core.data.prepare import PrepareConfig
        from ....core.data.tokenizer import TokenizerSpec

        out = self.out_dir()
        cfg = PrepareConfig(
            sources=list(sources),
            out_dir=str(out),
            tokenizer=TokenizerSpec(kind=self.kind_combo.currentText(),
                                    vocab_size=self.vocab_spin.value()),
            corpus=self.corpus_options(),
            val_fraction=self.val_spin.value(),
        )
        job = BackgroundJob(lambda report, cancel: run_prepare(cfg, sources, report, cancel), self)
        job.sig_progress.connect(self._on_progress)
        job.sig_result.connect(self._on_prepared)
        job.sig_error_fields.connect(self._on_error)
        job.sig_cancelled.connect(self._on_cancelled)
        job.sig_finished.connect(self._on_finished)
        self.job = job
        self.set_busy(True)
        self.progress.setValue(0)
        self.progress_label.setText("Starting…")
        self.state.sig_status.emit(f"Preparing {out.name}…")
        log.info("preparing %s from %s (%s tokenizer, %d pieces)", out, ", ".join(sources),
                 cfg.tokenizer.kind, cfg.tokenizer.vocab_size)
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for w in (self.kind_combo, self.vocab_spin, self.field_edit, self.encoding_combo,
                  self.val_spin, self.name_edit):
            w.setEnabled(not busy)

    def _on_progress(self, p: Any) -> None:
        self.stage = p.stage
        total = p.bytes_total or 0
        if total:
            self.progress.setValue(int(1000 * min(1.0, p.bytes_done / total)))
        self.progress_label.setText(
            f"{STAGES.get(p.stage, p.stage)} · files {p.files_done}/{p.files_total} · "
            f"{human_bytes(p.bytes_done)} / {human_bytes(total)} · {human_rate(p.bytes_per_s)} · "
            f"ETA {format_duration(p.eta_s)}")

    def _on_prepared(self, s: PrepareSummary) -> None:
        self.last_summary = s
        self._outcome = "done"
        total_tokens = s.train_tokens + s.val_tokens
        total_docs = s.train_documents + s.val_documents
        share = 100.0 * s.val_tokens / total_tokens if total_tokens else 0.0
        self.figures["tokens"].setText(
            f"{total_tokens:,} (train {s.train_tokens:,}, validation {s.val_tokens:,})")
        self.figures["documents"].setText(
            f"{total_docs:,} (train {s.train_documents:,}, validation {s.val_documents:,})")
        self.figures["split"].setText(f"{100 - share:.1f}% / {share:.1f}% of the tokens")
        self.figures["vocab"].setText(f"{s.vocab_size:,} pieces")
        verb = "reused (sources and settings unchanged)" if s.reused else "written"
        self.figures["folder"].setText(f"{s.out_dir} — {verb}")
        self.token_view.set_tokens(s.pieces, s.ids)
        self.sample_label.setText(
            f"A sample cut into its {len(s.pieces)} pieces (hover a piece for its id):")
        self.result_box.setEnabled(True)
        self.progress.setValue(1000)
        self.progress_label.setText(f"Ready: {s.out_dir}")
        self.state.sig_status.emit(f"Data ready: {s.out_dir.name}")
        log.info("prepared %s: %d tokens%s", s.out_dir, total_tokens,
                 " (reused: sources and settings unchanged)" if s.reused else "")
        self.state.sig_data_ready.emit(s.out_dir)

    def _on_error(self, message: str, fields: tuple[str, ...]) -> None:
        log.warning("preparing the data failed: %s", message)
        self.progress_label.setText("Failed; the sources are unchanged.")
        self.state.sig_status.emit("Preparing the data failed")
        self.sig_failed.emit(message, fields)

    def _on_cancelled(self) -> None:
        log.info("preparing the data cancelled")
        self._outcome = "cancelled"
        self.progress.setValue(0)
        self.progress_label.setText("Cancelled; nothing was written.")
        self.state.sig_status.emit("Preparing the data cancelled")

    def _on_finished(self) -> None:
        outcome, self._outcome = self._outcome, "failed"
        self.job = None
        self.set_busy(False)
        self.sig_finished.emit(outcome)

    def busy(self) -> str | None:
        if self.job is not None:
            return f"the data is being prepared ({STAGES.get(self.stage, 'preparing').lower()})"
        return None
