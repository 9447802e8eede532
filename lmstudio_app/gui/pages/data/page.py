"""The Data page: pick corpus files, look at them, and prepare a token store.

Every file access (counting documents and characters, the preview, the preparation itself) runs
in a BackgroundJob; the page only listens to its signals. A failure ends as one readable line in
the page, after the labels of the settings it names, whose controls are outlined; the user's list
of sources is never touched by a failure.

The page lays out its panels: the sources (sources_panel) beside their preview (preview_panel),
the error line, then the settings, the figures and the Prepare row (prepare_panel). It keeps
references to their widgets under the names tests and tools use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QSplitter, QVBoxLayout, QWidget

from ....core.data.corpus import CorpusOptions
from ....core.data.inspect import SourceCounts
from ...state import AppState
from ...widgets.file_dialogs import open_dialog
from .background import PrepareSummary
from .prepare_panel import PreparePanel
from .preview_panel import PreviewPanel
from .sources_panel import SourcesPanel

# Settings keys (one place, so a migration knows what exists).
KEY_SOURCES = "data/sources"

FIRST_RUN_HINT = (
    "<b>New here?</b> The bundled sample corpus (two Jane Austen novels) is listed below. "
    "Press <b>Prepare</b> (seconds), then press <b>Start</b> on the "
    "<a href=\"Train\">Train page</a>, and talk to the model in the Playground once its first "
    "checkpoint is saved. F1 opens the help.")
FIRST_RUN_NEXT = (
    "<b>Data ready.</b> Next: press <b>Start</b> on the <a href=\"Train\">Train page</a>; the "
    "Playground can use the model from its first checkpoint on.")


class DataPage(QWidget):
    """Sources, tokenizer settings, Prepare with progress and Cancel, and the store's figures."""

    title = "Data"

    sig_source_counted = Signal(str)  # a source's counts (or its error) are shown
    sig_preview_shown = Signal(str)
    sig_prepare_finished = Signal(str)  # done | cancelled | failed

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.labeled_dialog: Any = None  # the open LabeledDataDialog, if any
        self.file_dialog: QFileDialog | None = None  # the open file dialog, if any
        self._build()
        self._load_settings()
        self.update_hint()

    # -- construction

    def _build(self) -> None:
        self.prepare_panel = pp = PreparePanel(self.state)
        self.sources_panel = sp = SourcesPanel(pp.corpus_options, self.state.home)
        self.preview_panel = PreviewPanel()

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(sp)
        split.addWidget(self.preview_panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("QLabel { color: #c0392b; }")
        self.error_label.hide()
        # The first-run hint: what to press, until a run exists.
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setFrameShape(QFrame.Shape.StyledPanel)
        self.hint.setMargin(6)
        self.hint.linkActivated.connect(self.state.sig_show_page.emit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(pp)
        self.state.sig_runs_changed.connect(self.update_hint)
        self.state.sig_data_ready.connect(lambda _path: self.update_hint())

        sp.sig_changed.connect(self._on_sources_changed)
        sp.sig_counted.connect(self._on_counted)
        sp.sig_refused.connect(self.show_error)
        sp.sig_labeled.connect(self._ask_labeled)
        self.sources_panel.list.itemSelectionChanged.connect(self._on_selection)
        self.preview_panel.sig_shown.connect(self.sig_preview_shown)
        pp.prepare_button.clicked.connect(self.start_prepare)
        pp.sig_failed.connect(self._on_prepare_error)
        pp.sig_finished.connect(self._on_prepare_finished)
        pp.sig_settings_changed.connect(self._on_settings_changed)
        pp.sig_reading_changed.connect(self._on_reading_changed)

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
        self.prepare_panel.restore_settings()
        self.add_sources(sources, save=False)
        self._update_prepare_button()
        self._on_settings_changed()

    def _save_settings(self) -> None:
        self.state.set_value(KEY_SOURCES, json.dumps(self.source_paths()))
        self.prepare_panel.save_settings()

    def corpus_options(self) -> CorpusOptions:
        return self.prepare_panel.corpus_options()

    def _on_settings_changed(self, *_: object) -> None:
        self.prepare_panel.update_out_name(self.source_paths())
        self._save_settings()

    def _on_reading_changed(self, *_: object) -> None:
        """Text field or encoding changed: the counts depend on them, so count again (a new
        mistake is shown again; the last one may be what this change fixes)."""
        self._save_settings()
        self.show_error("")
        self.sources_panel.count_all()
        self._on_selection()

    def out_dir(self) -> Path:
        return self.prepare_panel.out_dir()

    # -- the source list

    def source_paths(self) -> list[str]:
        return self.sources_panel.source_paths()

    def add_sources(self, paths: Iterable[str | Path], save: bool = True) -> None:
        """List files or folders (duplicates ignored) and count them in the background."""
        self.sources_panel.add_sources(paths, announce=save)

    def remove_selected(self) -> None:
        self.sources_panel.remove_selected()

    def counts(self, path: str) -> SourceCounts | None:
        return self.sources_panel.counts(path)

    def _on_sources_changed(self) -> None:
        self._update_prepare_button()
        self._on_settings_changed()

    def _on_counted(self, counts: SourceCounts) -> None:
        if counts.error:
            self.show_error(counts.error, counts.fields)
        self.sig_source_counted.emit(counts.path)

    def _update_prepare_button(self) -> None:
        self.prepare_panel.allow_prepare(bool(self.source_paths()) and not self.is_preparing())

    def _on_selection(self) -> None:
        selected = self.sources_panel.selected_paths()
        self.sources_panel.remove_button.setEnabled(bool(selected) and not self.is_preparing())
        if selected:
            self.preview_panel.show_source(selected[0], self.corpus_options())

    # -- errors

    def show_error(self, message: str, fields: Iterable[str] = (), what: str = "") -> None:
        """One line under the lists ("" for none): `what` failed, then the labels of the
        settings the message names (their controls are outlined), then the message."""
        described = self.prepare_panel.marks.show(message, fields)
        self.error_label.setText(f"{what}{described}" if message else "")
        self.error_label.setVisible(bool(message))

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    # -- prepare

    @property
    def last_summary(self) -> PrepareSummary | None:
        return self.prepare_panel.last_summary

    def start_prepare(self) -> None:
        if self.is_preparing():
            return
        sources = self.source_paths()
        if not sources:
            self.show_error("No sources listed: add text files or folders first.")
            return
        self.show_error("")
        self.prepare_panel.start(sources)
        self._set_preparing(True)

    def cancel_prepare(self) -> None:
        self.prepare_panel.cancel()

    def _set_preparing(self, busy: bool) -> None:
        self._update_prepare_button()
        self.sources_panel.remove_button.setEnabled(
            not busy and bool(self.sources_panel.selected_paths()))

    def _on_prepare_error(self, message: str, fields: tuple[str, ...]) -> None:
        self.show_error(message, fields, what="Preparing the data failed: ")

    def _on_prepare_finished(self, outcome: str) -> None:
        self._set_preparing(False)
        self.sig_prepare_finished.emit(outcome)

    # -- the first-run hint

    def update_hint(self) -> None:
        """What to press next, for someone who has not trained yet; hidden once a run exists.
        (A few stat calls on the app's own folders.)"""
        if any(self.state.runs_root.glob("*/config.json")):
            self.hint.hide()
            return
        prepared = self.state.data_dir is not None or any(
            self.state.data_root.glob("*/tokens.h5"))
        self.hint.setText(FIRST_RUN_NEXT if prepared else FIRST_RUN_HINT)
        self.hint.show()

    def is_preparing(self) -> bool:
        return self.prepare_panel.job is not None

    # -- page protocol

    def widget(self) -> QWidget:
        return self

    def busy(self) -> str | None:
        return self.prepare_panel.busy()

    # -- labeled data for fine-tuning

    def _ask_labeled(self) -> None:
        self.file_dialog = open_dialog(
            self, "Choose a labeled file", self.state.home, None,
            lambda paths: self.open_labeled(Path(paths[0])),
            "Labeled data (*.csv *.tsv *.jsonl *.json);;All files (*)",
            QFileDialog.FileMode.ExistingFile)

    def open_labeled(self, path: Path, family: str = "classify",
                     encoding: str | None = None) -> Any:
        """Open the mapping dialog on `path` for labeled data of `family` ("classify", "qa";
        window-modal, never blocking the event loop); the file is first read with `encoding`,
        by default this page's Encoding setting."""
        from .labeled_dialog import LabeledDataDialog

        if self.labeled_dialog is not None:
            self.labeled_dialog.close()
        dialog = LabeledDataDialog(Path(path), family,
                                   encoding or self.prepare_panel.encoding(), parent=self)
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
        jobs = [j for j in (self.prepare_panel.job,) if j]
        if self.prepare_panel.job is not None:
            self.prepare_panel.job.cancel()
        jobs += self.sources_panel.shutdown() + self.preview_panel.shutdown()
        for job in jobs:
            job.wait_finished(30000)
