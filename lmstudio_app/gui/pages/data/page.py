"""The Data page: pick corpus files, look at them, and prepare a token store.

Every file access (counting documents and characters, the preview, the preparation itself) runs
in a BackgroundJob; the page only listens to its signals. A failure ends as one readable line in
the page, and the user's list of sources is never touched by a failure.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.data.corpus import ENCODINGS, CorpusOptions, corpus_size, discover, read_documents
from ....core.data.tokenizer import KINDS, MIN_VOCAB
from ....core.errors import UserError
from ....core.util.units import format_duration, human_bytes, human_rate
from ...jobs import BackgroundJob, JobCancelled
from ...state import AppState
from .token_view import TokenView

PREVIEW_BYTES = 20 * 1024
_STAGES = {"scan": "Scanning", "tokenizer": "Training the tokenizer", "encode": "Encoding",
           "done": "Done"}
_COL_SOURCE, _COL_SIZE, _COL_DOCS, _COL_CHARS, _COL_STATUS = range(5)

# Settings keys (one place, so a migration knows what exists).
KEY_SOURCES = "data/sources"
KEY_KIND = "data/tokenizer"
KEY_VOCAB = "data/vocab_size"
KEY_FIELD = "data/text_field"
KEY_ENCODING = "data/encoding"
KEY_VAL = "data/val_fraction"
KEY_NAME = "data/out_name"


def gui_wording(message: str) -> str:
    """Engine messages name command-line options; point at this page's settings instead."""
    message = re.sub(r"use --encoding \S+ or --encoding \S+", "choose another Encoding below",
                     message)
    message = re.sub(r"--encoding \S+", "the Encoding setting", message)
    message = re.sub(r"--text-field NAME", "the Text field setting", message)
    message = re.sub(r"--vocab-size", "the Vocabulary setting", message)
    return message




# ---------------------------------------------------------------------------------------------
# Job functions: plain Python, run in worker threads.


@dataclass
class SourceCounts:
    path: str
    files: int = 0
    size: int = 0
    documents: int = 0
    chars: int = 0
    error: str | None = None


def count_source(path: str, options: CorpusOptions, cancel: threading.Event) -> SourceCounts:
    """Files, bytes, documents and characters of one source; a user mistake becomes `error`."""
    out = SourceCounts(path)
    try:
        files = discover([path], options)
        out.files, out.size = len(files), corpus_size(files)
        for f in files:
            for doc in read_documents(f, options):
                if cancel.is_set():
                    raise JobCancelled
                out.documents += 1
                out.chars += len(doc)
    except UserError as exc:
        out.error = gui_wording(str(exc))
    except OSError as exc:
        out.error = f"{path}: cannot read ({exc.strerror or exc}); check the file's permissions."
    return out


def read_preview(path: str, options: CorpusOptions) -> tuple[str, str]:
    """(the first PREVIEW_BYTES of the source as text, a one-line note about what is shown)."""
    p = Path(path)
    if p.is_dir():
        files = discover([p], options)
        p = files[0]
        note = f"{p.name}, the first of {len(files)} file(s) in this folder"
    else:
        note = p.name
    try:
        opener = gzip.open if p.name.lower().endswith(".gz") else open
        with opener(p, "rb") as fh:
            raw = fh.read(PREVIEW_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{p}: cannot read the file ({exc.strerror or exc}).") from None
    cut = len(raw) > PREVIEW_BYTES
    raw = raw[:PREVIEW_BYTES]
    from ....core.data.text import preview  # the engine's decoding: byte-order marks too

    text = preview(raw, options.encoding)
    if cut:
        note += f" (first {human_bytes(PREVIEW_BYTES)})"
    return text, note


def sample_sentence(sources: list[str], options: CorpusOptions, max_chars: int = 200) -> str:
    """A line of real text from the corpus, cut at a sentence end: what the piece view shows."""
    for f in discover(sources, options):
        for doc in read_documents(f, options):
            for line in doc.split("\n\n"):
                line = " ".join(line.split())
                if len(line) >= 40 and any(c.isalpha() for c in line):
                    m = re.search(r"[.!?](\s|$)", line[40:max_chars])
                    return line[: 40 + m.end()].strip() if m else line[:max_chars]
            break
    return "It is a truth universally acknowledged."


@dataclass
class PrepareSummary:
    out_dir: Path
    reused: bool
    vocab_size: int
    train_tokens: int
    val_tokens: int
    train_documents: int
    val_documents: int
    sample: str = ""
    pieces: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def run_prepare(cfg: Any, sources: list[str], report: Callable[[Any], None],
                cancel: threading.Event) -> PrepareSummary:
    """core.prepare.prepare (it reports ~10 times a second), then the store's figures.

    A cancelled or failed prepare leaves no partial files (the engine cleans up after itself).
    """
    from ....core.data.prepare import PrepareCancelled, prepare
    from ....core.data.tokenizer import Tokenizer

    try:
        result = prepare(cfg, progress=report, cancel=cancel)
    except PrepareCancelled:
        raise JobCancelled from None
    summary = PrepareSummary(
        out_dir=Path(result.out_dir), reused=bool(result.reused), vocab_size=result.vocab_size,
        train_tokens=result.train_tokens, val_tokens=result.val_tokens,
        train_documents=result.train_documents, val_documents=result.val_documents,
    )
    tokenizer = Tokenizer.load(result.tokenizer_path)
    summary.sample = sample_sentence(sources, cfg.corpus)
    summary.ids = tokenizer.encode(summary.sample)
    summary.pieces = tokenizer.pieces(summary.sample)
    return summary


def default_out_name(sources: list[str], kind: str, vocab: int) -> str:
    """A folder name from the first source and the tokenizer, e.g. `austen-unigram-8000`."""
    if not sources:
        return f"corpus-{kind}-{vocab}"
    stem = Path(sources[0]).name.split(".")[0] or "corpus"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "corpus"
    more = f"-and-{len(sources) - 1}" if len(sources) > 1 else ""
    return f"{stem}{more}-{kind}-{vocab}"


# ---------------------------------------------------------------------------------------------
# Widgets


class SourceList(QTreeWidget):
    """The list of sources; files and folders dropped on it are announced by `sig_dropped`."""

    sig_dropped = Signal(list)  # list[str] of local paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setRootIsDecorated(False)
        self.setHeaderLabels(["Source", "Size", "Documents", "Characters", "Status"])
        header = self.header()
        header.setSectionResizeMode(_COL_SOURCE, QHeaderView.ResizeMode.Stretch)
        for col in (_COL_SIZE, _COL_DOCS, _COL_CHARS, _COL_STATUS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)

    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = self._local_paths(event)
        if paths:
            event.acceptProposedAction()
            self.sig_dropped.emit(paths)
        else:
            event.ignore()


class DataPage(QWidget):
    """Sources, tokenizer settings, Prepare with progress and Cancel, and the store's figures."""

    sig_source_counted = Signal(str)  # a source's counts (or its error) are shown
    sig_preview_shown = Signal(str)
    sig_prepare_finished = Signal(str)  # done | cancelled | failed

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._counts: dict[str, SourceCounts] = {}
        self._count_queue: list[str] = []
        self._count_job: BackgroundJob | None = None
        self._count_path: str | None = None
        self._preview_job: BackgroundJob | None = None
        self._preview_wanted: str | None = None
        self._prepare_job: BackgroundJob | None = None
        self._prepare_stage = ""
        self._prepare_outcome = "failed"  # set by the result / cancelled handlers
        self._prepare_out: Path | None = None
        self._name_edited = False
        self.last_summary: PrepareSummary | None = None
        self.labeled_dialog: Any = None  # the open LabeledDataDialog, if any
        self._build()
        self._load_settings()

    # -- construction

    def _build(self) -> None:
        self.sources = SourceList()
        self.sources.sig_dropped.connect(self.add_sources)
        self.sources.itemSelectionChanged.connect(self._on_selection)

        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setEnabled(False)
        self.add_files_button.clicked.connect(self._ask_files)
        self.add_folder_button.clicked.connect(self._ask_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.labeled_button = QPushButton("Labeled data…")
        self.labeled_button.setToolTip("Map and check a labeled file (CSV, TSV, JSONL) for "
                                       "fine-tuning: classification or question answering")
        self.labeled_button.clicked.connect(self._ask_labeled)
        buttons = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button, self.remove_button,
                  self.labeled_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.totals_label = QLabel()
        buttons.addWidget(self.totals_label)

        hint = QLabel("Drop text files or folders on the list (.txt .md .jsonl .csv .tsv, "
                      "optionally .gz).")
        hint.setWordWrap(True)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(hint)
        lv.addWidget(self.sources, 1)
        lv.addLayout(buttons)

        self.preview_label = QLabel("Preview: select a source")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        # Files keep their own line breaks (novels are hard-wrapped): wrapping them again at the
        # pane's width left ragged lines with lone words; long lines scroll instead.
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.preview_label)
        rv.addWidget(self.preview, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        # Tokenizer settings and the output folder.
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
        self.out_label = QLabel()
        self.out_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Tokenizer", self.kind_combo)
        form.addRow("Vocabulary", self.vocab_spin)
        form.addRow("Text field", self.field_edit)
        form.addRow("Encoding", self.encoding_combo)
        form.addRow("Validation share", self.val_spin)
        form.addRow("Output name", self.name_edit)
        form.addRow("Folder", self.out_label)
        settings_box = QGroupBox("Tokenizer and store")
        settings_box.setLayout(form)

        self.prepare_button = QPushButton("Prepare")
        self.prepare_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.prepare_button.clicked.connect(self.start_prepare)
        self.cancel_button.clicked.connect(self.cancel_prepare)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("")
        run_row = QHBoxLayout()
        run_row.addWidget(self.prepare_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("QLabel { color: #c0392b; }")
        self.error_label.hide()

        # Results: the store's figures and a sample cut into pieces.
        self.figures: dict[str, QLabel] = {}
        grid = QGridLayout()
        names = [("tokens", "Tokens"), ("documents", "Documents"), ("split", "Train / validation"),
                 ("vocab", "Vocabulary"), ("folder", "Folder")]
        for row, (key, title) in enumerate(names):
            grid.addWidget(QLabel(title + ":"), row, 0)
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.figures[key] = value
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        self.sample_label = QLabel("A sample cut into its pieces (hover a piece for its id):")
        self.token_view = TokenView()
        result_box = QGroupBox("Prepared store")
        rv2 = QVBoxLayout(result_box)
        rv2.addLayout(grid)
        rv2.addWidget(self.sample_label)
        rv2.addWidget(self.token_view)
        result_box.setEnabled(False)
        self.result_box = result_box

        bottom = QHBoxLayout()
        bottom.addWidget(settings_box, 1)
        bottom.addWidget(result_box, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(bottom)
        layout.addLayout(run_row)
        layout.addWidget(self.progress_label)

        for signal in (self.kind_combo.currentTextChanged, self.vocab_spin.valueChanged,
                       self.val_spin.valueChanged):
            signal.connect(self._on_settings_changed)
        self.field_edit.editingFinished.connect(self._on_reading_changed)
        self.encoding_combo.currentTextChanged.connect(self._on_reading_changed)

    # -- settings

    def _load_settings(self) -> None:
        raw = self.state.value(KEY_SOURCES)
        sources: list[str]
        if raw is None:  # first start: the bundled sample corpus, ready to prepare
            from ....core.data.samples import sample_corpus

            sources = [str(sample_corpus())]
        else:
            try:
                sources = [str(s) for s in json.loads(raw)]
            except (TypeError, ValueError):
                sources = []
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
        self._name_edited = bool(name)
        if name:
            self.name_edit.setText(name)
        self.add_sources(sources, save=False)
        self._update_out_name()
        self._save_settings()

    def _save_settings(self) -> None:
        self.state.set_value(KEY_SOURCES, json.dumps(self.source_paths()))
        self.state.set_value(KEY_KIND, self.kind_combo.currentText())
        self.state.set_value(KEY_VOCAB, self.vocab_spin.value())
        self.state.set_value(KEY_FIELD, self.field_edit.text().strip() or "text")
        self.state.set_value(KEY_ENCODING, self.encoding_combo.currentText())
        self.state.set_value(KEY_VAL, self.val_spin.value())
        self.state.set_value(KEY_NAME, self.name_edit.text().strip() if self._name_edited else "")

    def corpus_options(self) -> CorpusOptions:
        return CorpusOptions(text_field=self.field_edit.text().strip() or "text",
                             encoding=self.encoding_combo.currentText())

    def _on_settings_changed(self, *_: object) -> None:
        self._update_out_name()
        self._save_settings()

    def _on_reading_changed(self, *_: object) -> None:
        """Text field or encoding changed: the counts depend on them, so count again."""
        self._save_settings()
        for path in self.source_paths():
            self._queue_count(path)
        self._on_selection()

    def _on_name_edited(self, text: str) -> None:
        self._name_edited = bool(text.strip())
        self._update_out_name()
        self._save_settings()

    def _update_out_name(self) -> None:
        if not self._name_edited:
            self.name_edit.setText(default_out_name(
                self.source_paths(), self.kind_combo.currentText(), self.vocab_spin.value()))
        self.out_label.setText(str(self.out_dir()))

    def out_dir(self) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name_edit.text().strip()).strip("-.")
        return self.state.data_root / (name or "corpus")

    # -- the source list

    def source_paths(self) -> list[str]:
        root = self.sources.invisibleRootItem()
        return [root.child(i).data(_COL_SOURCE, Qt.ItemDataRole.UserRole)
                for i in range(root.childCount())]

    def _item(self, path: str) -> QTreeWidgetItem | None:
        root = self.sources.invisibleRootItem()
        for i in range(root.childCount()):
            if root.child(i).data(_COL_SOURCE, Qt.ItemDataRole.UserRole) == path:
                return root.child(i)
        return None

    def add_sources(self, paths: Iterable[str | Path], save: bool = True) -> None:
        """List files or folders (duplicates ignored) and count them in the background."""
        known = set(self.source_paths())
        for raw in paths:
            path = str(Path(raw).expanduser())
            if path in known:
                continue
            known.add(path)
            item = QTreeWidgetItem([Path(path).name or path, "", "", "", "counting…"])
            item.setData(_COL_SOURCE, Qt.ItemDataRole.UserRole, path)
            item.setToolTip(_COL_SOURCE, path)
            for col in (_COL_SIZE, _COL_DOCS, _COL_CHARS):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            self.sources.addTopLevelItem(item)
            self._queue_count(path)
        if not self.sources.selectedItems() and self.sources.topLevelItemCount():
            # Something to look at from the start: the first source's preview (read in a job).
            self.sources.setCurrentItem(self.sources.topLevelItem(0))
        self._update_totals()
        if save:
            self._update_out_name()
            self._save_settings()

    def remove_selected(self) -> None:
        for item in self.sources.selectedItems():
            path = item.data(_COL_SOURCE, Qt.ItemDataRole.UserRole)
            self._counts.pop(path, None)
            if path in self._count_queue:
                self._count_queue.remove(path)
            self.sources.invisibleRootItem().removeChild(item)
        self._update_totals()
        self._update_out_name()
        self._save_settings()

    def counts(self, path: str) -> SourceCounts | None:
        return self._counts.get(str(path))

    def _ask_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add corpus files", str(Path.home()),
            "Text corpora (*.txt *.md *.jsonl *.csv *.tsv *.gz);;All files (*)")
        if files:
            self.add_sources(files)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a corpus folder", str(Path.home()))
        if folder:
            self.add_sources([folder])

    # -- counting, one source at a time

    def _queue_count(self, path: str) -> None:
        item = self._item(path)
        if item is not None:
            for col in (_COL_SIZE, _COL_DOCS, _COL_CHARS):
                item.setText(col, "")
            item.setText(_COL_STATUS, "counting…")
        self._counts.pop(path, None)
        if path not in self._count_queue:
            self._count_queue.append(path)
        if self._count_path == path and self._count_job is not None:
            self._count_job.cancel()  # its options are stale; the queued count replaces it
        self._next_count()

    def _next_count(self) -> None:
        if self._count_job is not None or not self._count_queue:
            return
        path = self._count_queue.pop(0)
        options = self.corpus_options()
        job = BackgroundJob(lambda report, cancel: count_source(path, options, cancel), self)
        job.sig_result.connect(self._on_counted)
        job.sig_error.connect(lambda msg, p=path: self._on_counted(SourceCounts(p, error=msg)))
        job.sig_finished.connect(self._on_count_finished)
        self._count_job, self._count_path = job, path
        job.start()

    def _on_counted(self, counts: SourceCounts) -> None:
        item = self._item(counts.path)
        if item is None or counts.path in self._count_queue:
            return  # removed, or queued again with other options
        self._counts[counts.path] = counts
        if counts.error:
            item.setText(_COL_STATUS, "error")
            item.setToolTip(_COL_STATUS, counts.error)
            item.setForeground(_COL_STATUS, Qt.GlobalColor.red)
            self.show_error(counts.error)
        else:
            item.setText(_COL_SIZE, human_bytes(counts.size))
            item.setText(_COL_DOCS, f"{counts.documents:,}")
            item.setText(_COL_CHARS, f"{counts.chars:,}")
            files = f"{counts.files} files" if counts.files != 1 else "1 file"
            item.setText(_COL_STATUS, "ok" if Path(counts.path).is_file() else files)
            item.setToolTip(_COL_STATUS, "")
            item.setData(_COL_STATUS, Qt.ItemDataRole.ForegroundRole, None)
        self._update_totals()
        self.sig_source_counted.emit(counts.path)

    def _on_count_finished(self) -> None:
        self._count_job, self._count_path = None, None
        self._next_count()

    def _update_totals(self) -> None:
        paths = self.source_paths()
        known = [self._counts[p] for p in paths if p in self._counts and not self._counts[p].error]
        size = sum(c.size for c in known)
        chars = sum(c.chars for c in known)
        self.totals_label.setText(
            f"{len(paths)} source(s), {human_bytes(size)}, {chars:,} characters" if paths
            else "no sources: add files or folders")
        self.prepare_button.setEnabled(bool(paths) and self._prepare_job is None)

    # -- preview

    def _on_selection(self) -> None:
        selected = self.sources.selectedItems()
        self.remove_button.setEnabled(bool(selected) and self._prepare_job is None)
        if not selected:
            return
        self._preview_wanted = selected[0].data(_COL_SOURCE, Qt.ItemDataRole.UserRole)
        self._next_preview()

    def _next_preview(self) -> None:
        if self._preview_job is not None or self._preview_wanted is None:
            return  # the running one is followed by the latest wanted
        path, self._preview_wanted = self._preview_wanted, None
        options = self.corpus_options()
        job = BackgroundJob(lambda report, cancel: (path, *read_preview(path, options)), self)
        job.sig_result.connect(self._on_preview)
        job.sig_error.connect(lambda msg, p=path: self._on_preview(
            (p, "", f"cannot preview: {gui_wording(msg)}")))
        job.sig_finished.connect(self._on_preview_finished)
        self._preview_job = job
        self.preview_label.setText(f"Preview: reading {Path(path).name}…")
        job.start()

    def _on_preview(self, value: tuple[str, str, str]) -> None:
        path, text, note = value
        if self._preview_wanted is not None:
            return  # another source was selected meanwhile
        self.preview.setPlainText(text)
        self.preview_label.setText(f"Preview: {note}")
        self.sig_preview_shown.emit(path)

    def _on_preview_finished(self) -> None:
        self._preview_job = None
        self._next_preview()

    # -- prepare

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    def start_prepare(self) -> None:
        if self._prepare_job is not None:
            return
        from ....core.data.prepare import PrepareConfig
        from ....core.data.tokenizer import TokenizerSpec

        sources = self.source_paths()
        if not sources:
            self.show_error("No sources listed: add text files or folders first.")
            return
        self.show_error("")
        out = self.out_dir()
        cfg = PrepareConfig(
            sources=list(sources),
            out_dir=out,
            tokenizer=TokenizerSpec(kind=self.kind_combo.currentText(),
                                    vocab_size=self.vocab_spin.value()),
            corpus=self.corpus_options(),
            val_fraction=self.val_spin.value(),
        )
        self._prepare_out = out
        job = BackgroundJob(lambda report, cancel: run_prepare(cfg, sources, report, cancel), self)
        job.sig_progress.connect(self._on_prepare_progress)
        job.sig_result.connect(self._on_prepared)
        job.sig_error.connect(self._on_prepare_error)
        job.sig_cancelled.connect(self._on_prepare_cancelled)
        job.sig_finished.connect(self._on_prepare_finished)
        self._prepare_job = job
        self._set_preparing(True)
        self.progress.setValue(0)
        self.progress_label.setText("Starting…")
        self.state.sig_status.emit(f"Preparing {out.name}…")
        job.start()

    def cancel_prepare(self) -> None:
        if self._prepare_job is not None:
            self._prepare_job.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")

    def _set_preparing(self, busy: bool) -> None:
        self.prepare_button.setEnabled(not busy and bool(self.source_paths()))
        self.cancel_button.setEnabled(busy)
        self.remove_button.setEnabled(not busy and bool(self.sources.selectedItems()))
        for w in (self.kind_combo, self.vocab_spin, self.field_edit, self.encoding_combo,
                  self.val_spin, self.name_edit):
            w.setEnabled(not busy)

    def _on_prepare_progress(self, p: Any) -> None:
        self._prepare_stage = p.stage
        total = p.bytes_total or 0
        if total:
            self.progress.setValue(int(1000 * min(1.0, p.bytes_done / total)))
        self.progress_label.setText(
            f"{_STAGES.get(p.stage, p.stage)} · files {p.files_done}/{p.files_total} · "
            f"{human_bytes(p.bytes_done)} / {human_bytes(total)} · {human_rate(p.bytes_per_s)} · "
            f"ETA {format_duration(p.eta_s)}")

    def _on_prepared(self, s: PrepareSummary) -> None:
        self.last_summary = s
        self._prepare_outcome = "done"
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
        self.state.sig_data_ready.emit(s.out_dir)

    def _on_prepare_error(self, message: str) -> None:
        self.show_error(f"Preparing the data failed: {gui_wording(message)}")
        self.progress_label.setText("Failed; the sources are unchanged.")
        self.state.sig_status.emit("Preparing the data failed")

    def _on_prepare_cancelled(self) -> None:
        self._prepare_outcome = "cancelled"
        self.progress.setValue(0)
        self.progress_label.setText("Cancelled; nothing was written.")
        self.state.sig_status.emit("Preparing the data cancelled")

    def _on_prepare_finished(self) -> None:
        outcome, self._prepare_outcome = self._prepare_outcome, "failed"
        self._prepare_job = None
        self._set_preparing(False)
        self.sig_prepare_finished.emit(outcome)

    def is_preparing(self) -> bool:
        return self._prepare_job is not None

    # -- page protocol

    def busy(self) -> str | None:
        if self._prepare_job is not None:
            stage = _STAGES.get(self._prepare_stage, "preparing").lower()
            return f"the data is being prepared ({stage})"
        return None

    # -- labeled data for fine-tuning

    def _ask_labeled(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a labeled file", str(self.state.home),
            "Labeled data (*.csv *.tsv *.jsonl *.json);;All files (*)")
        if path:
            self.open_labeled(Path(path))

    def open_labeled(self, path: Path, task: str = "classification",
                     encoding: str | None = None) -> Any:
        """Open the mapping dialog on `path` (window-modal, never blocking the event loop);
        the file is first read with `encoding`, by default this page's Encoding setting."""
        from .labeled_dialog import LabeledDataDialog

        if self.labeled_dialog is not None:
            self.labeled_dialog.close()
        dialog = LabeledDataDialog(Path(path), task,
                                   encoding or self.encoding_combo.currentText(), parent=self)
        dialog.sig_accepted_choice.connect(self._labeled_chosen)
        self.labeled_dialog = dialog
        dialog.open()
        return dialog

    def _labeled_chosen(self, choice: Any) -> None:
        self.state.sig_labeled_ready.emit(choice)
        self.state.sig_status.emit(f"{choice.path.name}: ready for fine-tuning on the Train page")

    def shutdown(self) -> None:
        if self.labeled_dialog is not None:
            self.labeled_dialog.shutdown()
        self._count_queue.clear()
        self._preview_wanted = None
        jobs = [j for j in (self._prepare_job, self._count_job, self._preview_job) if j]
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.wait_finished(30000)
