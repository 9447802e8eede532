"""The Playground: talk to a GPT run, fill the mask with a BERT run, or try a fine-tuned run
(label a text, answer a question).

Loading a model, generating and predicting are BackgroundJobs; the model object is handed to
one job at a time (loading, then either a generation or a prediction), so it is never used by
two threads at once. Which panel a run gets is the window's objective table
(gui/objectives.py): chat_panel, mask_panel, and the fine-tuned runs' task_panels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ....core import runs
from ....core.util.units import human_count
from ...jobs import BackgroundJob
from ...objectives import PANELS, face, objectives_with, panel, title
from ...state import AppState
from .background import (
    ModelInfo,
    load_model,
    predict_answer,
    predict_label,
    predict_mask,
    stream_reply,
)
from .chat_panel import ChatPanel
from .instrument_tabs import InstrumentTabs
from .mask_panel import MaskPanel
from .task_panels import ClassifyPanel, FewShotPanel, QAPanel

log = logging.getLogger(__name__)

_NONE = "none"
_STACK = (_NONE, *PANELS)  # the stack's pages, in order: none, chat, fill-mask, classify, qa


def titles_of(panel_name: str) -> str:
    """"Causal LM (GPT)": the titles of the objectives a panel tries, for messages."""
    return " or ".join(title(o) for o in objectives_with(panel_name))


class PlaygroundPage(QWidget):
    """Pick a run and a checkpoint; chat with a GPT run or fill the mask with a BERT run."""

    title = "Playground"

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
        self._load_wanted: tuple[Path, str | int] | None = None
        self._gen_job: BackgroundJob | None = None
        self._mask_job: BackgroundJob | None = None
        self._task_job: BackgroundJob | None = None
        self._reply_outcome = "failed"
        self.predictions: list[tuple[str, float]] = []
        self.seed: int | None = None  # None: a fresh draw each time
        self.stop_at_eos = True
        self._load_pending = False
        self._snapshots_of: Path | None = None  # the run whose snapshots the combo lists
        self._build()
        self._set_model_ready(False)
        state.sig_runs_changed.connect(self.refresh_runs)
        state.sig_run_finished.connect(lambda _path, _reason: self.refresh_runs())
        state.sig_use_run.connect(self.use_run)
        state.sig_use_checkpoint.connect(self.use_run)
        self.refresh_runs()

    # -- construction

    def _build(self) -> None:
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(30)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItem("best (validation)", "best")
        self.checkpoint_combo.setToolTip(
            "best: the weights with the lowest validation loss, or for a fine-tuned run the "
            "highest validation accuracy or F1; latest: the last weights saved; step N: the "
            "weights the run kept at that step")
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
        empty = QLabel(f"Train a run on the Train page, then pick it here.\n\n"
                       f"{titles_of('chat')} runs continue text; {titles_of('fill-mask')} runs "
                       "fill in a [MASK]; fine-tuned runs label a text or answer a question.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setWordWrap(True)
        self.chat_panel = ChatPanel(self.state)
        self.chat_panel.sig_send.connect(self.send)
        self.chat_panel.stop_button.clicked.connect(self.stop)
        self.chat_panel.clear_button.clicked.connect(self.clear_chat)
        self.gpt_tabs = QTabWidget()
        self.gpt_tabs.addTab(self.chat_panel, "Chat")
        self.few_shot_panel = FewShotPanel()
        self.few_shot_panel.sig_requested.connect(self.few_shot)
        self.gpt_tabs.addTab(self.few_shot_panel, "Few-shot")
        self.mask_panel = MaskPanel()
        self.mask_panel.sig_requested.connect(self.predict)
        self.classify_panel = ClassifyPanel()
        self.classify_panel.sig_requested.connect(self.classify_text)
        self.qa_panel = QAPanel()
        self.qa_panel.sig_requested.connect(self.ask)
        pages = {_NONE: empty, "chat": self.gpt_tabs, "fill-mask": self.mask_panel,
                 "classify": self.classify_panel, "qa": self.qa_panel}
        for name in _STACK:
            self.stack.addWidget(pages[name])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addWidget(self.error_label)
        # Try it (the stack above) | Compare | Hard tokens | Attention
        self.instruments = InstrumentTabs(self.stack, self.sampling_settings)
        layout.addWidget(self.instruments, 1)

    # -- choosing a run

    def refresh_runs(self) -> None:
        """Fill the run list again from disk, keeping the current choice."""
        keep = self.selected_run()
        found = runs.list_runs(self.state.runs_root)
        self.instruments.set_runs(found)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for s in found:
            self.run_combo.addItem(f"{s.name} · {title(s.objective)} · {s.state}",
                                   (str(s.path), s.objective))
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

    def use_run(self, path: Path, step: int | None = None) -> None:
        """Select `path` (state.sig_use_run), reading the list again if it is new; with `step`
        (state.sig_use_checkpoint), its kept snapshot of that step."""
        for attempt in range(2):
            for i in range(self.run_combo.count()):
                if Path(self.run_combo.itemData(i)[0]) == Path(path):
                    self.run_combo.blockSignals(True)
                    self.run_combo.setCurrentIndex(i)
                    self.run_combo.blockSignals(False)
                    self._fill_checkpoints(Path(path), step)
                    self._on_run_chosen(force=True)
                    return
            if attempt == 0:
                self.refresh_runs()
        self._show_error(f"{path}: not a run folder under {self.state.runs_root}.")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._load_pending:
            self._on_run_chosen(force=True)

    def _show_panel(self, objective: str | None) -> None:
        f = face(objective)
        if f is not None and f.panel == "qa":
            self.qa_panel.set_extractive(f.extractive)
        self.stack.setCurrentIndex(_STACK.index(f.panel if f else _NONE))

    def current_panel(self) -> str:
        return _STACK[self.stack.currentIndex()]

    def _fill_checkpoints(self, path: Path | None, step: int | None = None) -> None:
        """The weights to choose from: best, latest and the run's kept snapshots (by step);
        `step` (or else the choice so far, where the run has it) is chosen."""
        combo = self.checkpoint_combo
        want = step if step is not None else combo.currentData()
        combo.blockSignals(True)
        while combo.count() > 2:
            combo.removeItem(2)
        for snap in runs.list_snapshots(path) if path is not None else []:
            combo.addItem(f"step {snap.step:,}", snap.step)
        index = combo.findData(want)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)
        self._snapshots_of = path

    def _on_run_chosen(self, force: bool = False) -> None:
        path = self.selected_run()
        self._show_panel(self.selected_objective())
        if path != self._snapshots_of:
            self._fill_checkpoints(path)
        self.instruments.set_run(path, self.selected_objective(),
                                 self.checkpoint_combo.currentData())
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
        self._show_panel(cfg.objective)
        self.model_label.setText(
            f"{info.loaded.run_dir.name}: {title(cfg.objective)}, "
            f"{human_count(info.n_params)} parameters, {cfg.model.n_layer} layers × "
            f"{cfg.model.n_embd}, context {cfg.model.block_size} tokens, "
            f"vocabulary {info.loaded.tokenizer.vocab_size}; weights {info.loaded.weights.name}")
        if self.chat_panel.conversation:
            self.clear_chat()
        self.chat_panel.mode_box.set_mode(info.chat)
        self._set_model_ready(True)
        self.sig_model_loaded.emit(info.loaded.run_dir)

    def _on_load_error(self, message: str) -> None:
        if self._load_wanted is not None:
            return
        log.warning("loading a run for the Playground failed: %s", message)
        self.model_label.setText("Could not load this run.")
        self._show_error(message)
        self.sig_load_failed.emit(message)

    def _on_load_finished(self) -> None:
        self._load_job = None
        self._next_load()

    def _set_model_ready(self, ready: bool) -> None:
        self.chat_panel.send_button.setEnabled(ready and self._gen_job is None)
        self.mask_panel.mask_button.setEnabled(ready and self._mask_job is None)
        for p in (self.classify_panel, self.qa_panel, self.few_shot_panel):
            p.button.setEnabled(ready and self._task_job is None)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    def _runs_on(self, panel_name: str) -> Any:
        """The loaded run if the panel `panel_name` tries it; else None, and a message."""
        loaded = self.model.loaded if self.model is not None else None
        if loaded is None:
            return None
        objective = loaded.config.objective
        if panel(objective) != panel_name:
            self._show_error(f"This run is a {title(objective)} model; the {panel_name} panel "
                             f"needs a {titles_of(panel_name)} run.")
            return None
        return loaded

    # -- chat (GPT runs)

    def sampling_settings(self) -> dict[str, Any]:
        return self.chat_panel.sampling_settings(self.seed, self.stop_at_eos)

    def prompt_for(self, message: str) -> str:
        """The conversation so far, the new message on its own line, cut to its last part."""
        return self.chat_panel.prompt_for(message)

    def send(self) -> None:
        if self.model is None or self._gen_job is not None:
            return
        loaded = self._runs_on("chat")
        if loaded is None:
            return
        self._show_error("")
        prompt = self.chat_panel.begin_reply()
        self._reply_outcome = "failed"
        settings = self.sampling_settings()
        job = BackgroundJob(
            lambda report, cancel: stream_reply(loaded, prompt, settings, report, cancel), self)
        job.sig_progress.connect(self.chat_panel.add_piece)
        job.sig_result.connect(self._on_reply_done)
        job.sig_cancelled.connect(self._on_reply_stopped)
        job.sig_error.connect(self._on_reply_error)
        job.sig_finished.connect(self._on_generation_finished)
        self._gen_job = job
        # Disabling the focused Send button would move the focus on (to Temperature, with its
        # value selected): the next message goes to the message box.
        self.chat_panel.message_edit.setFocus()
        self.chat_panel.send_button.setEnabled(False)
        job.start()

    def stop(self) -> None:
        if self._gen_job is not None:
            self._gen_job.cancel()
            self.chat_panel.stop_button.setEnabled(False)

    def _on_reply_done(self, _text: str) -> None:
        self._reply_outcome = "done"

    def _on_reply_stopped(self) -> None:
        self._reply_outcome = "stopped"

    def _on_reply_error(self, message: str) -> None:
        log.warning("generation failed: %s", message)
        self._reply_outcome = "failed"
        self._show_error(f"Generation failed: {message}")

    def _on_generation_finished(self) -> None:
        self._gen_job = None
        self.chat_panel.end_reply(stopped=self._reply_outcome == "stopped")
        self._set_model_ready(self.model is not None)
        self.sig_reply_finished.emit(self._reply_outcome)
        self._next_load()

    def clear_chat(self) -> None:
        if self._gen_job is None:
            self.chat_panel.clear()

    def conversation(self) -> str:
        return self.chat_panel.conversation

    def last_reply(self) -> str:
        return "".join(self.chat_panel.reply_parts)

    # -- fill the mask (BERT runs)

    def predict(self) -> None:
        if self.model is None or self._mask_job is not None:
            return
        loaded = self._runs_on("fill-mask")
        if loaded is None:
            return
        text, top_k = self.mask_panel.mask_edit.text(), self.mask_panel.top_n_spin.value()
        self._show_error("")
        job = BackgroundJob(lambda report, cancel: predict_mask(loaded, text, top_k), self)
        job.sig_result.connect(self._show_predictions)
        job.sig_error.connect(self._show_error)
        job.sig_finished.connect(self._on_mask_finished)
        self._mask_job = job
        self.mask_panel.mask_button.setEnabled(False)
        job.start()

    def _show_predictions(self, predictions: list[tuple[str, float]]) -> None:
        self.predictions = predictions
        self.mask_panel.show_predictions(predictions)
        self.sig_predictions_shown.emit(predictions)

    def _on_mask_finished(self) -> None:
        self._mask_job = None
        self._set_model_ready(self.model is not None)
        self._next_load()

    # -- fine-tuned runs: classify a text, answer a question

    def _task_ready(self, panel_name: str) -> Any:
        if self.model is None or self._task_job is not None:
            return None
        ft = self.model.loaded.config.finetune
        if ft is None or panel(ft.task) != panel_name:
            tasks = " or ".join(objectives_with(panel_name))
            self._show_error(f"This run is not a {tasks} run: pick one fine-tuned for that on "
                             "the Train page.")
            return None
        return self.model.loaded

    def classify_text(self, text: str) -> None:
        loaded = self._task_ready("classify")
        if loaded is not None:
            self._start_task(lambda report, cancel: predict_label(loaded, text),
                             self.classify_panel.show_result)

    def ask(self, question: str, context: str) -> None:
        loaded = self._task_ready("qa")
        if loaded is not None:
            self._start_task(lambda report, cancel: predict_answer(loaded, question, context),
                             lambda result: self.qa_panel.show_result(result, context))

    def few_shot(self, prompt: str, max_new_tokens: int) -> None:
        """Greedy continuation of a few-shot prompt by a GPT run."""
        if self.model is None or self._task_job is not None:
            return
        loaded = self.model.loaded
        if panel(loaded.config.objective) != "chat":
            self._show_error(f"Few-shot prompting needs a {titles_of('chat')} run.")
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

    def widget(self) -> QWidget:
        return self

    def busy(self) -> str | None:
        return None  # a reply or a prediction can be asked for again; nothing is lost

    def shutdown(self) -> None:
        self._load_wanted = None
        self.instruments.shutdown()
        jobs = [j for j in (self._gen_job, self._mask_job, self._task_job, self._load_job)
                if j is not None]
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.wait_finished(30000)

    # kept for tests and the main window's status bar
    def is_generating(self) -> bool:
        return self._gen_job is not None
