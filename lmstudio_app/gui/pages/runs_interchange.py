"""Export… and Import model… for the Runs page: dialogs whose work runs in a background job.

Export writes the selected run as a Hugging Face folder or a GGUF file; Import model… makes a
run folder from a local GPT-2 or BERT folder. The engine writes under a temporary name and
renames at the end, so a failure (shown as one line in the dialog) leaves nothing behind. A
finished import announces itself (state.sig_runs_changed), so the run list and the Playground
show the new run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..jobs import BackgroundJob
from ..state import AppState

log = logging.getLogger(__name__)

FORMATS = {"Hugging Face folder (transformers)": "hf",
           "GGUF file (llama.cpp, Ollama, LM Studio)": "gguf"}


class _JobDialog(QDialog):
    """A form, a progress bar, a message line and one action button that starts a job."""

    sig_done = Signal(object)  # the engine's result, after a success

    def __init__(self, title: str, action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        self.job: BackgroundJob | None = None
        self.form = QFormLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.action_button = self.buttons.addButton(action,
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.action_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def path_row(self, label: str, edit: QLineEdit, browse: Callable[[], None]) -> None:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        row.addWidget(button)
        self.form.addRow(label, row)

    def work(self) -> Any:  # the engine call, in the job's thread
        raise NotImplementedError

    def describe(self, result: Any) -> str:
        raise NotImplementedError

    def start(self) -> None:
        if self.job is not None:
            return
        problem = self.check()
        if problem:
            self.message.setText(problem)
            return
        call = self.work()

        def fn(report: Any, cancel: threading.Event) -> Any:
            return call(lambda stage, done: report((stage, done)))

        self.job = BackgroundJob(fn, self)
        self.job.sig_progress.connect(self._progress)
        self.job.sig_result.connect(self._succeeded)
        self.job.sig_error.connect(self._failed)
        self.job.sig_finished.connect(self._finished)
        self.action_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.message.setText("Working…")
        self.job.start()

    def check(self) -> str | None:
        return None

    def _progress(self, value: tuple[str, float]) -> None:
        stage, done = value
        self.progress.setValue(int(100 * done))
        self.message.setText(f"{stage[:1].upper()}{stage[1:]}…")

    def _succeeded(self, result: Any) -> None:
        self.progress.setValue(100)
        self.message.setText(self.describe(result))
        log.info("%s: %s", self.windowTitle(), self.message.text())
        self.sig_done.emit(result)

    def _failed(self, line: str) -> None:
        self.message.setText(f"Failed: {line}")
        log.warning("%s failed: %s", self.windowTitle(), line)

    def _finished(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        self.action_button.setEnabled(True)

    def reject(self) -> None:
        if self.job is not None:  # the engine cannot stop midway; it finishes whole or not
            self.message.setText("Still working: the dialog closes when it is done.")
            return
        super().reject()


class ExportDialog(_JobDialog):
    """Format, checkpoint, precision (GGUF) and destination for one run."""

    def __init__(self, run_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(f"Export {run_dir.name}", "Export", parent)
        self.run_dir = Path(run_dir)
        self.format_box = QComboBox()
        self.format_box.addItems(list(FORMATS))
        self.checkpoint_box = QComboBox()
        self.checkpoint_box.addItems(["best", "latest"])
        self.dtype_box = QComboBox()
        self.dtype_box.addItems(["f16", "bf16", "f32", "q8_0", "q4_0"])
        self.out_edit = QLineEdit()
        self.form.addRow("Format", self.format_box)
        self.form.addRow("Checkpoint", self.checkpoint_box)
        self.form.addRow("Precision", self.dtype_box)
        self.path_row("Save as", self.out_edit, self._browse)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

    @property
    def format(self) -> str:
        return FORMATS[self.format_box.currentText()]

    def _default_out(self) -> Path:
        suffix = ".gguf" if self.format == "gguf" else "-hf"
        return self.run_dir.parent.parent / "exports" / f"{self.run_dir.name}{suffix}"

    def _format_changed(self) -> None:
        self.dtype_box.setEnabled(self.format == "gguf")
        self.out_edit.setText(str(self._default_out()))

    def _browse(self) -> None:
        start = self.out_edit.text() or str(self._default_out())
        if self.format == "gguf":
            path, _ = QFileDialog.getSaveFileName(self, "Save the GGUF file as", start,
                                                  "GGUF (*.gguf)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Folder to hold the export",
                                                    str(Path(start).parent))
            path = str(Path(path) / Path(start).name) if path else ""
        if path:
            self.out_edit.setText(path)

    def check(self) -> str | None:
        return None if self.out_edit.text().strip() else "Choose where to save the export."

    def work(self) -> Any:
        run, out = self.run_dir, Path(self.out_edit.text().strip())
        checkpoint, fmt, dtype = self.checkpoint_box.currentText(), self.format, \
            self.dtype_box.currentText()

        def call(progress: Any) -> Any:
            if fmt == "gguf":
                from ...core.interchange.gguf_export import export_gguf

                return export_gguf(run, out, checkpoint, dtype, progress)
            from ...core.interchange.hf_export import export_hf

            return export_hf(run, out, checkpoint, progress)
        return call

    def describe(self, result: Any) -> str:
        from ...core.util.units import format_duration, human_bytes

        what = getattr(result, "architecture", None) or f"GGUF ({result.dtype})"
        notes = " ".join(getattr(result, "notes", []))
        return (f"Exported {self.run_dir.name} as {what}: {result.out} "
                f"({human_bytes(result.bytes)}, {format_duration(result.seconds)})."
                + (f" Note: {notes}" if notes else ""))


class ImportDialog(_JobDialog):
    """A local GPT-2 or BERT folder, and the name of the run it becomes."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__("Import a Hugging Face model", "Import", parent)
        self.state = state
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("a folder with config.json, weights and tokenizer")
        self.name_edit = QLineEdit()
        self.path_row("Model folder", self.source_edit, self._browse)
        self.form.addRow("Run name", self.name_edit)
        self.source_edit.textChanged.connect(
            lambda text: self.name_edit.setText(f"imported-{Path(text).name}" if text else ""))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A GPT-2 or BERT model folder")
        if path:
            self.source_edit.setText(path)

    def destination(self) -> Path:
        return Path(self.state.runs_root) / self.name_edit.text().strip()

    def check(self) -> str | None:
        if not self.source_edit.text().strip():
            return "Choose the model folder to import."
        if not self.name_edit.text().strip() or "/" in self.name_edit.text():
            return "Give the new run a name (no slashes)."
        return None

    def work(self) -> Any:
        src, out = Path(self.source_edit.text().strip()), self.destination()

        def call(progress: Any) -> Any:
            from ...core.interchange.hf_import import import_hf

            return import_hf(src, out, progress)
        return call

    def describe(self, result: Any) -> str:
        notes = "".join(f"\nNote: {n}." for n in result.notes)
        return (f"Imported {result.architecture} as the {result.objective} run "
                f"{result.out.name}; it is in the run list and the Playground.{notes}")

    def _succeeded(self, result: Any) -> None:
        super()._succeeded(result)
        self.state.sig_runs_changed.emit()
        self.state.sig_status.emit(f"Imported {result.out.name}")
