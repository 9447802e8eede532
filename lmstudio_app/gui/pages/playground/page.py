"""The Playground: talk to a GPT run, fill the mask with a BERT run, or try a fine-tuned run
(label a text, answer a question).

Loading a model, generating and predicting are BackgroundJobs; the model object is handed to
one job at a time (loading, then either a generation or a prediction), so it is never used by
two threads at once. A pretrained language model does not chat: it continues text. So "chat"
here is honest about it: the prompt is the conversation so far as plain text plus the new
message, the model's continuation is the reply, and the exact text sent is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ....core import runs
from ....core.util.units import human_count
from ...jobs import BackgroundJob
from ...state import AppState
from .task_panels import ClassifyPanel, FewShotPanel, QAPanel

MAX_PROMPT_CHARS = 4000  # the conversation sent is cut to its end; the model sees its window
_OBJECTIVE = {"clm": "GPT (clm)", "mlm": "BERT (mlm)", "classify": "classifier",
              "qa-extractive": "extractive QA", "qa-generative": "generative QA"}
_PANEL_NONE, _PANEL_CHAT, _PANEL_MASK, _PANEL_CLASSIFY, _PANEL_QA = range(5)
_PANEL_FOR = {"clm": _PANEL_CHAT, "mlm": _PANEL_MASK, "classify": _PANEL_CLASSIFY,
              "qa-extractive": _PANEL_QA, "qa-generative": _PANEL_QA}
_PANEL_NAME = {_PANEL_NONE: "none", _PANEL_CHAT: "chat", _PANEL_MASK: "fill-mask",
               _PANEL_CLASSIFY: "classify", _PANEL_QA: "qa"}
DEFAULT_MASK_TEXT = "It is a truth universally [MASK]."


@dataclass
class ModelInfo:
    loaded: Any  # core.loading.LoadedRun
    n_params: int


def load_model(path: Path, checkpoint: str) -> ModelInfo:
    from ....core.inference.loading import load_run

    loaded = load_run(path, checkpoint, device="auto")
    return ModelInfo(loaded, sum(p.numel() for p in loaded.model.parameters()))


def stream_reply(loaded: Any, prompt: str, settings: dict[str, Any],
                 report: Callable[[Any], None], cancel: threading.Event) -> str:
    """Generate in the worker thread, reporting each piece as it comes."""
    import torch

    from ....core.models.generate import generate

    parts = []
    with torch.inference_mode():
        for piece in generate(loaded.model, loaded.tokenizer, prompt, cancel=cancel,
                              **settings):
            parts.append(piece)
            report(piece)
    return "".join(parts)


def predict_mask(loaded: Any, text: str, top_k: int) -> list[tuple[str, float]]:
    import torch

    from ....core.inference.predict import fill_mask

    with torch.inference_mode():
        return list(fill_mask(loaded.model, loaded.tokenizer, text, top_k=top_k))


def predict_label(loaded: Any, text: str) -> dict[str, Any]:
    import torch

    from ....core.errors import UserError
    from ....core.inference.predict import classify

    if not text.strip():
        raise UserError("the text is empty; write something to classify.")
    with torch.inference_mode():
        return classify(loaded, [text])[0]


def predict_answer(loaded: Any, question: str, context: str) -> dict[str, Any]:
    import torch

    from ....core.inference.predict import answer

    with torch.inference_mode():
        return dict(answer(loaded, question, context or None))


class PlaygroundPage(QWidget):
    """Pick a run and a checkpoint; chat with a GPT run or fill the mask with a BERT run."""

    sig_model_loaded = Signal(object)  # Path of the run now loaded
    sig_load_failed = Signal(str)
    sig_reply_finished = Signal(str)  # done | stopped | failed
    sig_predictions_shown = Signal(list)
    sig_task_result = Signal(object)  # the dict a classify or answer prediction returned

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model: ModelInfo | None = None
        self._load_job: BackgroundJob | None = None
        self._load_wanted: tuple[Path, str] | None = None
        self._gen_job: BackgroundJob | None = None
        self._mask_job: BackgroundJob | None = None
        self._task_job: BackgroundJob | None = None
        self._conversation = ""  # the plain text so far: every message and every reply
        self._reply_parts: list[str] = []
        self._reply_outcome = "failed"
        self.predictions: list[tuple[str, float]] = []
        self.seed: int | None = None  # None: a fresh draw each time
        self.stop_at_eos = True
        self._load_pending = False
        self._build()
        self._set_model_ready(False)
        state.sig_runs_changed.connect(self.refresh_runs)
        state.sig_run_finished.connect(lambda _path, _reason: self.refresh_runs())
        state.sig_use_run.connect(self.use_run)
        self.refresh_runs()

    # -- construction

    def _build(self) -> None:
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(30)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItem("best (validation)", "best")
        self.checkpoint_combo.setToolTip(
            "best: the weights with the lowest validation loss, or for a fine-tuned run the "
            "highest validation accuracy or F1; latest: the last weights saved")
        self.checkpoint_combo.addItem("latest", "latest")
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Load the weights again (for example after more training)")
        self.run_combo.currentIndexChanged.connect(lambda _i: self._on_run_chosen())
        self.checkpoint_combo.currentIndexChanged.connect(lambda _i: self._on_run_chosen())
        self.reload_button.clicked.connect(lambda: self._on_run_chosen(force=True))
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_combo, 1)
        top.addWidget(QLabel("Weights"))
        top.addWidget(self.checkpoint_combo)
        top.addWidget(self.reload_button)
        self.model_label = QLabel("No run selected.")
        self.model_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #c0392b; }")
        self.error_label.hide()

        self.stack = QStackedWidget()
        empty = QLabel("Train a run on the Train page, then pick it here.\n\nGPT (clm) runs "
                       "continue text; BERT (mlm) runs fill in a [MASK]; fine-tuned runs label "
                       "a text or answer a question.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setWordWrap(True)
        self.stack.addWidget(empty)
        self.gpt_tabs = QTabWidget()
        self.gpt_tabs.addTab(self._build_chat(), "Chat")
        self.few_shot_panel = FewShotPanel()
        self.few_shot_panel.sig_requested.connect(self.few_shot)
        self.gpt_tabs.addTab(self.few_shot_panel, "Few-shot")
        self.stack.addWidget(self.gpt_tabs)
        self.stack.addWidget(self._build_mask())
        self.classify_panel = ClassifyPanel()
        self.classify_panel.sig_requested.connect(self.classify_text)
        self.qa_panel = QAPanel()
        self.qa_panel.sig_requested.connect(self.ask)
        self.stack.addWidget(self.classify_panel)
        self.stack.addWidget(self.qa_panel)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.stack, 1)

    def _build_chat(self) -> QWidget:
        self.transcript = QTextEdit()
        self.transcript.setReadOnly(True)
        self.transcript.setPlaceholderText("The conversation appears here.")
        self.message_edit = QPlainTextEdit()
        self.message_edit.setPlaceholderText("Write the beginning of a text, e.g. "
                                             "\"It is a truth universally\"")
        self.message_edit.setMaximumHeight(80)
        self.send_button = QPushButton("Send")
        self.send_button.setToolTip("Send (Ctrl+Return)")
        QShortcut(QKeySequence("Ctrl+Return"), self.message_edit, self.send)
        self.stop_button = QPushButton("Stop")
        self.clear_button = QPushButton("Clear")
        self.stop_button.setEnabled(False)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.clear_button.clicked.connect(self.clear_chat)
        buttons = QVBoxLayout()
        for b in (self.send_button, self.stop_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        entry = QHBoxLayout()
        entry.addWidget(self.message_edit, 1)
        entry.addLayout(buttons)

        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(self.state.value("playground/temperature", 0.8, float))
        self.temperature_spin.setToolTip("0 always picks the likeliest piece; higher is bolder")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(0, 100000)
        self.top_k_spin.setValue(self.state.value("playground/top_k", 50, int))
        self.top_k_spin.setSpecialValueText("off")
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(0.05, 1.0)
        self.top_p_spin.setSingleStep(0.05)
        self.top_p_spin.setValue(self.state.value("playground/top_p", 0.95, float))
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 4096)
        self.max_tokens_spin.setValue(self.state.value("playground/max_tokens", 120, int))
        for spin in (self.temperature_spin, self.top_k_spin, self.top_p_spin,
                     self.max_tokens_spin):
            spin.valueChanged.connect(self._save_sampling)
        form = QFormLayout()
        form.addRow("Temperature", self.temperature_spin)
        form.addRow("Top-k", self.top_k_spin)
        form.addRow("Top-p", self.top_p_spin)
        form.addRow("Max tokens", self.max_tokens_spin)
        sampling = QGroupBox("Sampling")
        sampling.setLayout(form)

        self.sent_view = QPlainTextEdit()
        self.sent_view.setReadOnly(True)
        self.sent_view.setPlaceholderText("The exact text sent to the model appears here.")
        sent_box = QGroupBox("Last prompt sent (the model continues this text)")
        sv = QVBoxLayout(sent_box)
        sv.addWidget(self.sent_view)

        side = QVBoxLayout()
        side.addWidget(sampling)
        side.addWidget(sent_box, 1)
        note = QLabel("A pretrained model continues text. Each message is added to the "
                      "conversation so far, and the model's continuation is its reply.")
        note.setWordWrap(True)
        main = QVBoxLayout()
        main.addWidget(note)
        main.addWidget(self.transcript, 1)
        main.addLayout(entry)
        panel = QWidget()
        row = QHBoxLayout(panel)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(main, 3)
        row.addLayout(side, 1)
        return panel

    def _build_mask(self) -> QWidget:
        self.mask_edit = QLineEdit(DEFAULT_MASK_TEXT)
        self.mask_button = QPushButton("Fill the mask")
        self.mask_button.clicked.connect(self.predict)
        self.mask_edit.returnPressed.connect(self.predict)
        self.top_n_spin = QSpinBox()
        self.top_n_spin.setRange(1, 50)
        self.top_n_spin.setValue(5)
        row = QHBoxLayout()
        row.addWidget(self.mask_edit, 1)
        row.addWidget(QLabel("Top"))
        row.addWidget(self.top_n_spin)
        row.addWidget(self.mask_button)
        self.results_grid = QGridLayout()
        self.results_grid.setColumnStretch(1, 1)
        results = QGroupBox("Predictions for [MASK]")
        results.setLayout(self.results_grid)
        note = QLabel("Write a sentence with one [MASK]; the model ranks the pieces that fit.")
        note.setWordWrap(True)
        panel = QWidget()
        v = QVBoxLayout(panel)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(note)
        v.addLayout(row)
        v.addWidget(results)
        v.addStretch(1)
        return panel

    def _save_sampling(self) -> None:
        self.state.set_value("playground/temperature", self.temperature_spin.value())
        self.state.set_value("playground/top_k", self.top_k_spin.value())
        self.state.set_value("playground/top_p", self.top_p_spin.value())
        self.state.set_value("playground/max_tokens", self.max_tokens_spin.value())

    # -- choosing a run

    def refresh_runs(self) -> None:
        """Fill the run list again from disk, keeping the current choice."""
        keep = self.selected_run()
        found = runs.list_runs(self.state.runs_root)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for s in found:
            label = f"{s.name} · {_OBJECTIVE.get(s.objective, s.objective)} · {s.state}"
            self.run_combo.addItem(label, (str(s.path), s.objective))
        index = -1
        if keep is not None:
            index = next((i for i in range(self.run_combo.count())
                          if Path(self.run_combo.itemData(i)[0]) == keep), -1)
        if index < 0 and self.run_combo.count():
            index = 0
        self.run_combo.setCurrentIndex(index)
        self.run_combo.blockSignals(False)
        chosen = self.selected_run()
        if chosen != keep or (chosen is not None and self.model is None
                              and self._load_job is None):
            self._on_run_chosen()
        elif chosen is None:
            self._show_panel(None)

    def selected_run(self) -> Path | None:
        data = self.run_combo.currentData()
        return Path(data[0]) if data else None

    def selected_objective(self) -> str | None:
        data = self.run_combo.currentData()
        return data[1] if data else None

    def use_run(self, path: Path) -> None:
        """Select `path` (state.sig_use_run), reading the list again if it is new."""
        for attempt in range(2):
            for i in range(self.run_combo.count()):
                if Path(self.run_combo.itemData(i)[0]) == Path(path):
                    self.run_combo.blockSignals(True)
                    self.run_combo.setCurrentIndex(i)
                    self.run_combo.blockSignals(False)
                    self._on_run_chosen(force=True)
                    return
            if attempt == 0:
                self.refresh_runs()
        self._show_error(f"{path}: not a run folder under {self.state.runs_root}.")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._load_pending:
            self._on_run_chosen(force=True)

    def _show_panel(self, objective: str | None) -> None:
        panel = _PANEL_FOR.get(objective or "", _PANEL_NONE)
        if panel == _PANEL_QA:
            self.qa_panel.set_extractive(objective == "qa-extractive")
        self.stack.setCurrentIndex(panel)

    def current_panel(self) -> str:
        return _PANEL_NAME[self.stack.currentIndex()]

    def _on_run_chosen(self, force: bool = False) -> None:
        path = self.selected_run()
        self._show_panel(self.selected_objective())
        if path is None:
            self.model_label.setText("No run selected.")
            return
        if not (force or self.isVisible()):
            # Loading costs memory and CPU (perhaps beside a training): wait until shown.
            self._load_pending = True
            self.model_label.setText(f"{path.name}: loads when this page is shown.")
            return
        self._load_pending = False
        self._load_wanted = (path, self.checkpoint_combo.currentData())
        self._next_load()

    def _next_load(self) -> None:
        if self._load_wanted is None:
            return
        if any(j is not None for j in (self._load_job, self._gen_job, self._mask_job,
                                       self._task_job)):
            # One job holds the model at a time: stop a generation, let the others finish.
            if self._gen_job is not None:
                self._gen_job.cancel()
            return
        path, checkpoint = self._load_wanted
        self._load_wanted = None
        self.model = None
        self._set_model_ready(False)
        self._show_error("")
        self.model_label.setText(f"Loading {path.name} ({checkpoint})…")
        job = BackgroundJob(lambda report, cancel: load_model(path, checkpoint), self)
        job.sig_result.connect(self._on_loaded)
        job.sig_error.connect(self._on_load_error)
        job.sig_finished.connect(self._on_load_finished)
        self._load_job = job
        job.start()

    def _on_loaded(self, info: ModelInfo) -> None:
        if self._load_wanted is not None:
            return  # another run was picked meanwhile; it loads next
        self.model = info
        cfg = info.loaded.config
        objective = cfg.objective
        self._show_panel(objective)
        self.model_label.setText(
            f"{info.loaded.run_dir.name}: {_OBJECTIVE.get(objective, objective)}, "
            f"{human_count(info.n_params)} parameters, {cfg.model.n_layer} layers × "
            f"{cfg.model.n_embd}, context {cfg.model.block_size} tokens, "
            f"vocabulary {info.loaded.tokenizer.vocab_size}; weights {info.loaded.weights.name}")
        if self._conversation:
            self.clear_chat()
        self._set_model_ready(True)
        self.sig_model_loaded.emit(info.loaded.run_dir)

    def _on_load_error(self, message: str) -> None:
        if self._load_wanted is not None:
            return
        self.model_label.setText("Could not load this run.")
        self._show_error(message)
        self.sig_load_failed.emit(message)

    def _on_load_finished(self) -> None:
        self._load_job = None
        self._next_load()

    def _set_model_ready(self, ready: bool) -> None:
        generating = self._gen_job is not None
        self.send_button.setEnabled(ready and not generating)
        self.mask_button.setEnabled(ready and self._mask_job is None)
        self.classify_panel.button.setEnabled(ready and self._task_job is None)
        self.qa_panel.button.setEnabled(ready and self._task_job is None)
        self.few_shot_panel.button.setEnabled(ready and self._task_job is None)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    # -- chat (GPT runs)

    def sampling_settings(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_tokens_spin.value(),
            "temperature": self.temperature_spin.value(),
            "top_k": self.top_k_spin.value() or None,
            "top_p": self.top_p_spin.value(),
            "seed": self.seed,
            "stop_at_eos": self.stop_at_eos,
        }

    def prompt_for(self, message: str) -> str:
        """The conversation so far, the new message on its own line, cut to its last part."""
        prompt = self._conversation
        if prompt and message and not prompt.endswith("\n"):
            prompt += "\n"
        prompt += message
        return prompt[-MAX_PROMPT_CHARS:]

    def send(self) -> None:
        if self.model is None or self._gen_job is not None:
            return
        if self.model.loaded.config.objective != "clm":
            self._show_error("This run is a BERT (mlm) model: it fills in masks, it does not "
                             "continue text. Pick a GPT (clm) run to chat.")
            return
        message = self.message_edit.toPlainText()
        prompt = self.prompt_for(message)
        self._show_error("")
        self.sent_view.setPlainText(prompt)
        self.message_edit.clear()
        if self._conversation and message and not self._conversation.endswith("\n"):
            self._append("\n", user=False)
        self._append(message, user=True)
        self._conversation = prompt
        self._reply_parts = []
        self._reply_outcome = "failed"
        loaded, settings = self.model.loaded, self.sampling_settings()
        job = BackgroundJob(
            lambda report, cancel: stream_reply(loaded, prompt, settings, report, cancel), self)
        job.sig_progress.connect(self._on_piece)
        job.sig_result.connect(self._on_reply_done)
        job.sig_cancelled.connect(self._on_reply_stopped)
        job.sig_error.connect(self._on_reply_error)
        job.sig_finished.connect(self._on_generation_finished)
        self._gen_job = job
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.clear_button.setEnabled(False)
        job.start()

    def stop(self) -> None:
        if self._gen_job is not None:
            self._gen_job.cancel()
            self.stop_button.setEnabled(False)

    def _append(self, text: str, user: bool) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold if user else QFont.Weight.Normal)
        cursor.insertText(text, fmt)
        self.transcript.setTextCursor(cursor)
        self.transcript.ensureCursorVisible()

    def _on_piece(self, piece: str) -> None:
        self._reply_parts.append(piece)
        self._append(piece, user=False)

    def _on_reply_done(self, _text: str) -> None:
        self._reply_outcome = "done"

    def _on_reply_stopped(self) -> None:
        self._reply_outcome = "stopped"

    def _on_reply_error(self, message: str) -> None:
        self._reply_outcome = "failed"
        self._show_error(f"Generation failed: {message}")

    def _on_generation_finished(self) -> None:
        self._gen_job = None
        # What was shown is what the conversation holds, stopped or not.
        self._conversation += "".join(self._reply_parts)
        if self._reply_outcome == "stopped":
            self._append(" [stopped]", user=False)
        self._append("\n", user=False)
        if self._conversation and not self._conversation.endswith("\n"):
            self._conversation += "\n"
        self.stop_button.setEnabled(False)
        self.clear_button.setEnabled(True)
        self._set_model_ready(self.model is not None)
        self.sig_reply_finished.emit(self._reply_outcome)
        self._next_load()

    def clear_chat(self) -> None:
        if self._gen_job is not None:
            return
        self._conversation = ""
        self._reply_parts = []
        self.transcript.clear()
        self.sent_view.clear()

    def conversation(self) -> str:
        return self._conversation

    def last_reply(self) -> str:
        return "".join(self._reply_parts)

    # -- fill the mask (BERT runs)

    def predict(self) -> None:
        if self.model is None or self._mask_job is not None:
            return
        if self.model.loaded.config.objective != "mlm":
            self._show_error("This run is a GPT (clm) model; fill-the-mask needs a BERT (mlm) "
                             "run.")
            return
        text, top_k, loaded = self.mask_edit.text(), self.top_n_spin.value(), self.model.loaded
        self._show_error("")
        job = BackgroundJob(lambda report, cancel: predict_mask(loaded, text, top_k), self)
        job.sig_result.connect(self._show_predictions)
        job.sig_error.connect(self._show_error)
        job.sig_finished.connect(self._on_mask_finished)
        self._mask_job = job
        self.mask_button.setEnabled(False)
        job.start()

    def _show_predictions(self, predictions: list[tuple[str, float]]) -> None:
        self.predictions = predictions
        while self.results_grid.count():
            item = self.results_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for row, (piece, prob) in enumerate(predictions):
            shown = piece.replace(" ", "\u00b7") or "\u2205"
            label = QLabel(shown)
            label.setToolTip(repr(piece))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(1000 * prob))
            bar.setTextVisible(False)
            bar.setMaximumHeight(14)
            self.results_grid.addWidget(label, row, 0)
            self.results_grid.addWidget(bar, row, 1)
            self.results_grid.addWidget(QLabel(f"{prob:.1%}"), row, 2)
        self.sig_predictions_shown.emit(predictions)

    def _on_mask_finished(self) -> None:
        self._mask_job = None
        self._set_model_ready(self.model is not None)
        self._next_load()

    # -- fine-tuned runs: classify a text, answer a question

    def _task_ready(self, *tasks: str) -> Any:
        if self.model is None or self._task_job is not None:
            return None
        ft = self.model.loaded.config.finetune
        if ft is None or ft.task not in tasks:
            self._show_error(f"This run is not a {' or '.join(tasks)} run: pick one fine-tuned "
                             "for that on the Train page.")
            return None
        return self.model.loaded

    def classify_text(self, text: str) -> None:
        loaded = self._task_ready("classify")
        if loaded is not None:
            self._start_task(lambda report, cancel: predict_label(loaded, text),
                             self.classify_panel.show_result)

    def ask(self, question: str, context: str) -> None:
        loaded = self._task_ready("qa-extractive", "qa-generative")
        if loaded is not None:
            self._start_task(lambda report, cancel: predict_answer(loaded, question, context),
                             lambda result: self.qa_panel.show_result(result, context))

    def few_shot(self, prompt: str, max_new_tokens: int) -> None:
        """Greedy continuation of a few-shot prompt by a GPT run."""
        if self.model is None or self._task_job is not None:
            return
        loaded = self.model.loaded
        if loaded.config.objective != "clm":
            self._show_error("Few-shot prompting needs a GPT (clm) run.")
            return
        settings = {"max_new_tokens": max_new_tokens, "temperature": 0.0, "top_k": None,
                    "top_p": 1.0, "seed": 0, "stop_at_eos": True}
        self._start_task(
            lambda report, cancel: stream_reply(loaded, prompt, settings, lambda _p: None,
                                                cancel),
            self.few_shot_panel.show_completion)

    def _start_task(self, fn: Callable[..., Any], show: Callable[[Any], None]) -> None:
        self._show_error("")
        job = BackgroundJob(fn, self)

        def shown(result: Any) -> None:
            show(result)
            self.sig_task_result.emit(result)

        job.sig_result.connect(shown)
        job.sig_error.connect(self._show_error)
        job.sig_finished.connect(self._on_task_finished)
        self._task_job = job
        self._set_model_ready(True)
        job.start()

    def _on_task_finished(self) -> None:
        self._task_job = None
        self._set_model_ready(self.model is not None)
        self._next_load()

    # -- page protocol

    def busy(self) -> str | None:
        return None  # a reply or a prediction can be asked for again; nothing is lost

    def shutdown(self) -> None:
        self._load_wanted = None
        jobs = [j for j in (self._gen_job, self._mask_job, self._task_job, self._load_job)
                if j is not None]
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.wait_finished(30000)

    # kept for tests and the main window's status bar
    def is_generating(self) -> bool:
        return self._gen_job is not None

