"""The Data page's list of sources: files and folders, each counted in the background.

Sources are added with the buttons or by dropping them on the list; each is counted (files,
bytes, documents, characters) in a BackgroundJob, one at a time, with the page's current reading
options. A source that cannot be read shows "error" and the reason; the list itself is never
changed by a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core.data.columnar import COLUMNAR_SUFFIXES
from ....core.data.corpus import COMPRESSED_SUFFIXES, ROW_SUFFIXES, TEXT_SUFFIXES, CorpusOptions
from ....core.data.corpus import KINDS as CORPUS_KINDS
from ....core.data.inspect import SourceCounts
from ....core.errors import UserError
from ....core.util.units import human_bytes
from ...jobs import BackgroundJob
from ...widgets.file_dialogs import open_dialog
from .background import count_in_job

# The corpus reader's formats: text (also .gz / .zst) and Parquet / Arrow shards.
CORPUS_FILTER = ("Corpora (" + " ".join(
    f"*{s}{c}" for s in TEXT_SUFFIXES + ROW_SUFFIXES for c in ("", *COMPRESSED_SUFFIXES))
    + " " + " ".join(f"*{s}" for s in COLUMNAR_SUFFIXES) + ");;Parquet shards (*.parquet)"
    ";;All files (*)")
_COL_SOURCE, _COL_SIZE, _COL_DOCS, _COL_CHARS, _COL_STATUS = range(5)


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


class SourcesPanel(QWidget):
    """The hint, the list, its buttons and the totals; counting one source at a time."""

    sig_counted = Signal(object)  # SourceCounts: a source's counts (or its error) are shown
    sig_refused = Signal(str)  # a source was taken off the list: why (it is not text)
    sig_changed = Signal()  # the user added or removed sources
    sig_labeled = Signal()  # the user asked to open a labeled file

    def __init__(self, options: Callable[[], CorpusOptions], home: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options = options
        self._home = Path(home)  # the app's data folder: its dialogs' "Bundled samples"
        self.file_dialog: QFileDialog | None = None  # the dialog open now, if any
        self._counts: dict[str, SourceCounts] = {}
        self._count_queue: list[str] = []
        self._count_job: BackgroundJob | None = None
        self._count_path: str | None = None
        self.list = SourceList()
        self.list.setAccessibleName("Sources")
        self.list.sig_dropped.connect(self.add_sources)
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
        self.labeled_button.clicked.connect(self.sig_labeled)
        buttons = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button, self.remove_button,
                  self.labeled_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.totals_label = QLabel()
        buttons.addWidget(self.totals_label)

        hint = QLabel(f"Drop {CORPUS_KINDS}, or folders of them, on the list.")
        hint.setWordWrap(True)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(hint)
        lv.addWidget(self.list, 1)
        lv.addLayout(buttons)

    # -- the list

    def _rows(self) -> list[QTreeWidgetItem]:
        """The list's items, top to bottom."""
        root = self.list.invisibleRootItem()
        return [item for i in range(root.childCount()) if (item := root.child(i)) is not None]

    def source_paths(self) -> list[str]:
        return [item.data(_COL_SOURCE, Qt.ItemDataRole.UserRole) for item in self._rows()]

    def selected_paths(self) -> list[str]:
        return [item.data(_COL_SOURCE, Qt.ItemDataRole.UserRole)
                for item in self.list.selectedItems()]

    def _item(self, path: str) -> QTreeWidgetItem | None:
        for item in self._rows():
            if item.data(_COL_SOURCE, Qt.ItemDataRole.UserRole) == path:
                return item
        return None

    def add_sources(self, paths: Iterable[str | Path], announce: bool = True) -> None:
        """List files or folders (duplicates ignored) and count them in the background."""
        known = set(self.source_paths())
        for raw in paths:
            path = str(Path(raw).expanduser())
            if path in known:
                continue
            known.add(path)
            item = QTreeWidgetItem([self._display_name(path), "", "", "", "counting…"])
            item.setData(_COL_SOURCE, Qt.ItemDataRole.UserRole, path)
            item.setToolTip(_COL_SOURCE, path)
            for col in (_COL_SIZE, _COL_DOCS, _COL_CHARS):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            self.list.addTopLevelItem(item)
            self.queue_count(path)
        first = self.list.topLevelItem(0)
        if not self.list.selectedItems() and first is not None:
            # Something to look at from the start: the first source's preview (read in a job).
            self.list.setCurrentItem(first)
        self._update_totals()
        if announce:
            self.sig_changed.emit()

    @staticmethod
    def _display_name(path: str) -> str:
        """A source's name in the list: the bundled sample says what it is."""
        from ....core.data.samples import sample_corpus

        try:
            if Path(path) == sample_corpus():
                return "Bundled sample corpus (two Jane Austen novels)"
        except UserError:  # no sample installed: nothing to name
            pass
        return Path(path).name or path

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            path = item.data(_COL_SOURCE, Qt.ItemDataRole.UserRole)
            self._counts.pop(path, None)
            if path in self._count_queue:
                self._count_queue.remove(path)
            self.list.invisibleRootItem().removeChild(item)
        self._update_totals()
        self.sig_changed.emit()

    def counts(self, path: str) -> SourceCounts | None:
        return self._counts.get(str(path))

    def _ask_files(self) -> None:
        self.file_dialog = open_dialog(self, "Add corpus files", self._home, None,
                                       self.add_sources, CORPUS_FILTER)

    def _ask_folder(self) -> None:
        self.file_dialog = open_dialog(self, "Add a corpus folder", self._home, None,
                                       self.add_sources, mode=QFileDialog.FileMode.Directory)

    # -- counting, one source at a time

    def count_all(self) -> None:
        """Count every source again (the reading options changed)."""
        for path in self.source_paths():
            self.queue_count(path)

    def queue_count(self, path: str) -> None:
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
        options = self._options()
        job = BackgroundJob(lambda report, cancel: count_in_job(path, options, cancel), self)
        job.sig_result.connect(self._on_counted)
        job.sig_error_fields.connect(
            lambda msg, fields, p=path: self._on_counted(SourceCounts(p, error=msg,
                                                                      fields=fields)))
        job.sig_finished.connect(self._on_count_finished)
        self._count_job, self._count_path = job, path
        job.start()

    def _on_counted(self, counts: SourceCounts) -> None:
        item = self._item(counts.path)
        if item is None or counts.path in self._count_queue:
            return  # removed, or queued again with other options
        if counts.refused:  # not a corpus source: off the list at once, with the reason
            self.list.invisibleRootItem().removeChild(item)
            self._update_totals()
            self.sig_changed.emit()
            self.sig_refused.emit(f"Not added: {counts.error}")
            return
        self._counts[counts.path] = counts
        if counts.error:
            item.setText(_COL_STATUS, "error")
            item.setToolTip(_COL_STATUS, counts.error)
            item.setForeground(_COL_STATUS, Qt.GlobalColor.red)
        else:
            item.setText(_COL_SIZE, human_bytes(counts.size))
            item.setText(_COL_DOCS, f"{counts.documents:,}")
            item.setText(_COL_CHARS, f"{counts.chars:,}")
            files = f"{counts.files} files" if counts.files != 1 else "1 file"
            item.setText(_COL_STATUS, "ok" if Path(counts.path).is_file() else files)
            item.setToolTip(_COL_STATUS, "")
            item.setData(_COL_STATUS, Qt.ItemDataRole.ForegroundRole, None)
        self._update_totals()
        self.sig_counted.emit(counts)

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

    def shutdown(self) -> list[BackgroundJob]:
        """Stop counting; the job still running, if any (the page waits for it)."""
        self._count_queue.clear()
        if self._count_job is not None:
            self._count_job.cancel()
        return [self._count_job] if self._count_job is not None else []
