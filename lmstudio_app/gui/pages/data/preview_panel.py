"""The start of the selected source as text, read in a BackgroundJob.

One read at a time: a selection made while a read runs is read next (only the latest one), so
quick clicks through the list never pile up jobs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ....core.data.corpus import CorpusOptions
from ....core.data.inspect import read_preview
from ...jobs import BackgroundJob


class PreviewPanel(QWidget):
    """A line saying what is shown, and the text, in the file's own line breaks."""

    sig_shown = Signal(str)  # the source whose preview is shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._job: BackgroundJob | None = None
        self._wanted: tuple[str, CorpusOptions] | None = None
        self.label = QLabel("Preview: select a source")
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Preview")
        self.text.setReadOnly(True)
        # Files keep their own line breaks (novels are hard-wrapped): wrapping them again at the
        # pane's width left ragged lines with lone words; long lines scroll instead.
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        rv = QVBoxLayout(self)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.label)
        rv.addWidget(self.text, 1)

    def show_source(self, path: str, options: CorpusOptions) -> None:
        """Read `path` with `options` next (after the read that runs, if any)."""
        self._wanted = (path, options)
        self._next()

    def _next(self) -> None:
        if self._job is not None or self._wanted is None:
            return  # the running one is followed by the latest wanted
        (path, options), self._wanted = self._wanted, None
        job = BackgroundJob(lambda report, cancel: (path, *read_preview(path, options)), self)
        job.sig_result.connect(self._on_preview)
        job.sig_error.connect(lambda msg, p=path: self._on_preview(
            (p, "", f"cannot preview: {msg}")))
        job.sig_finished.connect(self._on_finished)
        self._job = job
        self.label.setText(f"Preview: reading {Path(path).name}…")
        job.start()

    def _on_preview(self, value: tuple[str, str, str]) -> None:
        path, text, note = value
        if self._wanted is not None:
            return  # another source was selected meanwhile
        self.text.setPlainText(text)
        self.label.setText(f"Preview: {note}")
        self.sig_shown.emit(path)

    def _on_finished(self) -> None:
        self._job = None
        self._next()

    def shutdown(self) -> list[BackgroundJob]:
        """Read nothing more; the job still running, if any (the page waits for it)."""
        self._wanted = None
        if self._job is not None:
            self._job.cancel()
        return [self._job] if self._job is not None else []
