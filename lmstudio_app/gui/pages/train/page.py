"""The Train page: choose a model and its training settings, train, and watch the curves.

The form validates as you type with the engine's own rules (build_run_config raises UserError
naming the fields at fault): their controls are outlined in red with the reason, and Start stays
disabled until the form is valid. Training runs in a TrainingSession (a worker thread); reading
a run's history from disk runs in a BackgroundJob. The page only listens to their signals.

In fine-tune mode the model rows give way to a FinetuneForm (task, base run, labeled file); the
run goes through the same TrainingSession, and its validation metrics get a plot of their own.
The form's settings persist in QSettings as they change and come back on the next start.

The page lays out its panels: the form on the left (run_form: mode, data, model_form or
finetune_form, the buttons), and on the right progress_panel, the curves, results_panel and
samples_panel, and talks to them through their methods. The main window knows it through the
TrainingPage protocol (pages/page.py) and AppState's signals: the run's state line, device and
resources, and what Start, Pause, Resume and Stop allow (TrainingControls).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QScrollArea, QSplitter, QVBoxLayout, QWidget

from ....core import runs
from ....core.config import RunConfig
from ....core.training.compare import InitResult
from ....core.training.sinks import EvalMetrics
from ...jobs import BackgroundJob
from ...process_session import ProcessSession
from ...state import AppState, TrainingControls
from ...training import relay, resources_text
from ...widgets.curves import CurvesWidget, arrays_from_events
from .compare_view import CompareView
from .progress_panel import ProgressPanel
from .results_panel import ResultsPanel
from .run_form import KEY_FINETUNE as KEY_FINETUNE
from .run_form import RunForm
from .samples_panel import SamplesPanel
from .snapshot_marks import SnapshotMarks

if TYPE_CHECKING:  # the comparison's module loads PyTorch: imported when one starts
    from .comparison import Comparison

TICK_MS = 250
# What a run's history is shown with: (history, curves' arrays, best step or None).
_HistoryShown = Callable[[runs.RunHistory, dict[str, np.ndarray], int | None], None]


class TrainPage(QWidget):
    """Objective, preset and settings on the left; progress, curves and samples on the right."""

    title = "Train"
    sig_history_loaded = Signal(object)  # Path of a run whose curves were loaded from disk
    sig_results_shown = Signal(object)  # a fine-tuned run's test report (results.json)
    sig_comparison_shown = Signal(object)  # [(pretrained, scratch) InitResults], one per seed
    sig_compare_progress = Signal(object)  # CompareProgress, a few times a second
    sig_compare_done = Signal()  # the comparison's job ended (completed, stopped or failed)
    # The run this page trains, as its session tells (relayed: see run_state() and the others).
    sig_started = Signal(object)  # the trainer's info dict (run_dir, parameters, device, ...)
    sig_steps = Signal(object, int)  # logged step rows (runs.metrics.STEP_COLUMNS), max_steps
    sig_paused = Signal(int)  # the step the run paused at
    sig_phase = Signal(str)  # what the loop does between steps: loading, evaluating, ...
    sig_done = Signal(object, str)  # run folder, reason (completed, stopped or failed)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.session = ProcessSession(self)  # in a worker thread, or N processes
        # Reads of run folders in progress: job -> (what to do with the result, with an error).
        self._reads: dict[BackgroundJob, tuple[Callable[[Any], None], Callable[[str], None]]] = {}
        self.results: dict[str, Any] = {}

        # The loop's step counter, read a few times a second while a run goes (no signal per step).
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._build()
        self.compare_view = CompareView(self)
        self._connect()
        self.form.load_settings()
        self.validate()
        self.update_buttons()

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(splitter)

        # Left: the form, its buttons pinned under it.
        self.form = f = RunForm(self.state)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(f)
        # The form scrolls vertically only: it is never cut on the right (fine-tune mode is
        # the wider of the two).
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form_scroll = scroll
        self._fit_form_width()
        left_box = QWidget()
        left = QVBoxLayout(left_box)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(scroll, 1)
        left.addWidget(f.button_bar)
        splitter.addWidget(left_box)

        # Right: progress, curves, metrics, samples.
        right_box = QWidget()
        right = QVBoxLayout(right_box)
        right.setContentsMargins(0, 0, 0, 0)
        self.progress_panel = ProgressPanel()
        right.addWidget(self.progress_panel)
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.curves = CurvesWidget()
        self.curves.setAccessibleName("Training curves")
        self.right_split.addWidget(self.curves)
        self.snapshot_marks = SnapshotMarks(self)
        self.metrics_box = ResultsPanel()
        self.metrics_box.hide()
        self.right_split.addWidget(self.metrics_box)
        self.samples_box = SamplesPanel()
        self.right_split.addWidget(self.samples_box)
        # Curves, the (fine-tuning) metrics, the samples: each mode sizes the panes it shows.
        for i, stretch in enumerate((3, 2, 1)):
            self.right_split.setStretchFactor(i, stretch)
            self.right_split.setCollapsible(i, False)
        self._size_right_panes(fine=False)
        right.addWidget(self.right_split, 1)
        splitter.addWidget(right_box)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 900])

    def _fit_form_width(self) -> None:
        """Keep the left pane at least as wide as the form it shows (each mode has its own)."""
        scroll = self.form_scroll  # it holds self.form
        scroll.setMinimumWidth(max(380, self.form.minimumSizeHint().width()
                                   + scroll.verticalScrollBar().sizeHint().width() + 4))

    def _connect(self) -> None:
        self.form.sig_validated.connect(self._on_validated)
        self.form.sig_mode.connect(self._on_mode)
        self.form.compare_button.clicked.connect(self.compare_init)
        self.form.start_button.clicked.connect(self.start)
        self.form.pause_button.clicked.connect(self.pause)
        self.form.resume_button.clicked.connect(self.resume)
        self.form.stop_button.clicked.connect(self.stop)

        s = self.session
        s.sig_state.connect(self._on_session_state)
        s.sig_started.connect(self._on_started)
        s.sig_steps.connect(self._on_steps)
        s.sig_evaluation.connect(self._on_evaluation)
        s.sig_checkpoint.connect(self._on_checkpoint)
        s.sig_paused.connect(self._on_paused)
        s.sig_failed.connect(self._on_failed)
        s.sig_message.connect(self._on_message)
        s.sig_phase.connect(self.progress_panel.phase)
        s.sig_done.connect(self._on_done)
        relay(s, self, ("sig_started", "sig_steps", "sig_paused", "sig_phase", "sig_done"))

        st = self.state
        st.sig_data_ready.connect(self.form.set_data_dir)
        st.sig_open_run.connect(self.open_run)
        st.sig_resume_run.connect(self.resume_run)
        st.sig_compare_run.connect(self.compare_run)
        st.sig_runs_changed.connect(self._refresh_base_runs)
        st.sig_labeled_ready.connect(self.use_labeled)

    # -- the form (its state is the form's; the page reads it) ---------------------------------

    @property
    def config(self) -> RunConfig | None:
        """The valid run the form describes, or None."""
        return self.form.config

    @property
    def data_dir(self) -> Path | None:
        return self.form.data_dir

    @property
    def parameter_count(self) -> int:
        return self.form.parameter_count

    @property
    def memory_estimate(self) -> int:
        return self.form.memory_estimate

    def mode(self) -> str:
        return self.form.mode()

    def set_mode(self, mode: str) -> None:
        self.form.set_mode(mode)

    def set_field(self, key: str, value: Any) -> None:
        """Type a value into a field (as the user would); the form re-validates."""
        self.form.model_form.edits[key].setText(str(value))

    @Slot()
    def validate(self) -> bool:
        """Check the form with the engine's rules; mark what is wrong; enable Start if valid."""
        return self.form.validate()

    def _on_validated(self, _valid: bool) -> None:
        self.update_buttons()

    def _size_right_panes(self, fine: bool) -> None:
        """Pretraining: curves over samples; fine-tuning: curves over the task's metrics (its
        runs write no samples). Proportions of whatever height the splitter has."""
        self.right_split.setSizes([420, 380, 0] if fine else [520, 0, 180])

    def _on_mode(self, fine: bool) -> None:
        self.metrics_box.setVisible(fine)
        self.samples_box.setVisible(not fine)
        self._size_right_panes(fine)
        self._fit_form_width()

    @Slot(object)
    def use_labeled(self, choice: Any) -> None:
        """Make a checked labeled file (Data page) the fine-tuning defaults."""
        if not self.session.is_running() and self._comparison is None:
            self.form.use_labeled(choice)

    def _refresh_base_runs(self) -> None:
        if not self.session.is_running():
            self.form.ft_form.refresh_runs()

    def can_start(self) -> bool:
        return self.form.ready() and not self.session.is_running() and self._comparison is None

    def controls(self) -> TrainingControls:
        """What the run allows now (the Training menu's commands; a comparison is not a run)."""
        state = self.session.state
        running = self.session.is_running()
        return TrainingControls(start=self.can_start(),
                                pause=running and state in ("starting", "running"),
                                resume=running and state in ("pausing", "paused"),
                                stop=running and state != "stopping")

    def update_buttons(self) -> None:
        """The buttons and the form follow the run (or the comparison); the window is told."""
        controls = self.controls()
        comparison = self._comparison
        stop_comparison = comparison is not None and not comparison.stop_requested
        self.form.show_controls(controls, stop=controls.stop or stop_comparison,
                                editable=not self.session.is_running() and comparison is None)
        self.state.sig_training_controls.emit(controls)

    def start_refusal(self) -> str:
        """Why Start is refused now: the first line of the form's complaint."""
        return self.form.first_error() or "Cannot start training now."

    def widget(self) -> QWidget:
        return self

    # -- commands ------------------------------------------------------------------------------

    @Slot()
    def start(self) -> bool:
        """Start a new run with the form's settings; False when the form is not valid."""
        if not self.validate() or not self.can_start():
            return False
        nodes_problem = self.form.nodes_box.problem()
        if nodes_problem is not None:
            self.form.show_error(nodes_problem)
            return False
        cfg = self.config
        assert cfg is not None
        self.form.save_settings()
        run_dir = runs.new_run_dir(self.state.runs_root, cfg.name)
        self.curves.clear()
        self.samples_box.clear()
        self.metrics_box.clear()
        self._begin(cfg, run_dir, resume=False)
        return True

    def _begin(self, cfg: RunConfig, run_dir: Path, resume: bool) -> None:
        # A derived budget (epochs) is known once the run starts: its "started" event says it.
        self.progress_panel.begin(run_dir, cfg.train.max_steps or 0)
        self.form.show_error("")
        self.session.nodes = self.form.nodes_box.spec()
        self.session.start(cfg, run_dir, resume=resume, nproc=self.form.processes_box.value())
        self.form.nodes_box.show_command(self.session.other_nodes_command())
        self._tick.start()
        self.state.training_run = run_dir
        self.state.sig_run_started.emit(run_dir)
        self.state.sig_runs_changed.emit()
        self.state.sig_status.emit(f"Training {run_dir.name}")
        self.update_buttons()

    @Slot()
    def pause(self) -> None:
        self.session.pause()

    @Slot()
    def resume(self) -> None:
        self.session.resume()

    @Slot()
    def stop(self) -> None:
        """Stop the run, or the comparison, at the next step boundary (a run saves)."""
        if self._comparison is not None:
            self._comparison.stop()
            self.progress_panel.say("Stopping the comparison at the next step…")
            self.state.sig_run_line.emit("Comparison: stopping at the next step")
            self.update_buttons()
            return
        self.session.stop()

    # -- the run, as the page shows it -----------------------------------------------------------

    def run_folder(self) -> Path | None:
        """The folder of the run training now, or of the last one."""
        return self.session.run_dir

    def run_step(self) -> int:
        """The step the run has reached."""
        return self.session.step

    def run_state(self) -> str:
        """idle | starting | running | pausing | paused | stopping."""
        return self.session.state

    def run_reason(self) -> str:
        """How the last run ended: completed, stopped or failed ("" before)."""
        return self.session.reason

    def is_training(self) -> bool:
        return self.session.is_running()

    def busy(self) -> str | None:
        if self.session.is_running():
            run = self.session.run_dir.name if self.session.run_dir else "a run"
            return f"training {run} (step {self.session.step}); it will stop and save"
        if self._comparison is not None:
            return "comparing pretrained and scratch fine-tuning; it will stop"
        return None  # reading a run's history, perhaps: nothing is lost by closing

    def shutdown(self) -> None:
        """Stop training at a step boundary (it saves), cancel history reads, wait for both."""
        self.session.stop()
        self.session.wait_finished()
        if self._comparison is not None:
            self._comparison.shutdown()
        for job in list(self._reads):
            job.cancel()
            job.wait_finished()
        if self.form.lr_dialog is not None:  # the learning-rate finder's sweep
            self.form.lr_dialog.job.cancel()
            self.form.lr_dialog.job.wait_finished()

    # -- session events ------------------------------------------------------------------------

    @Slot(str)
    def _on_session_state(self, state: str) -> None:
        self.update_buttons()
        step = self.session.step
        max_steps = self.progress_panel.max_steps
        text = {
            "starting": "Training: starting",
            "running": f"Training: step {step} / {max_steps}",
            "pausing": "Training: pausing at the next step",
            "paused": f"Paused at step {step}",
            "stopping": "Stopping at the next step and saving…",
            "idle": "Idle",
        }.get(state, state)
        if state in ("pausing", "stopping"):
            self.progress_panel.say(text)
        self.state.sig_run_line.emit(text)

    @Slot(object)
    def _on_started(self, info: dict[str, Any]) -> None:
        self.progress_panel.started(info)
        self.state.sig_runs_changed.emit()  # its config.json exists now: the run is listed
        device = str(info.get("device", ""))
        if device:
            self.state.sig_run_device.emit(device)

    def _saying_steps(self) -> bool:
        """The line of figures follows the steps, unless it says the run pauses or stops."""
        return self.session.state not in ("pausing", "paused", "stopping")

    @Slot(object, int)
    def _on_steps(self, rows: np.ndarray, max_steps: int) -> None:
        self.curves.append_rows(rows)
        self.progress_panel.logged(rows, max_steps, self._saying_steps())
        self.state.sig_run_resources.emit(resources_text(rows[-1]))
        self._announce_step()

    @Slot()
    def _on_tick(self) -> None:
        if self.progress_panel.live(self.session.live_step(), self._saying_steps()):
            self._announce_step()

    def _announce_step(self) -> None:
        """The status bar and the Runs page follow the run's step."""
        step, max_steps = self.progress_panel.step, self.progress_panel.max_steps
        if self._saying_steps():
            self.state.sig_run_line.emit(f"Training: step {step:,} / {max_steps:,}")
        if self.session.run_dir is not None:
            self.state.sig_run_progress.emit(self.session.run_dir, step, max_steps)

    @Slot(object)
    def _on_evaluation(self, m: EvalMetrics) -> None:
        self.progress_panel.evaluated(m)
        self.curves.add_eval(m.step, m.val_loss, m.val_bpb)
        if m.extra:
            self.metrics_box.add_metrics(m.step, m.extra)
        if m.sample:
            self.samples_box.add(m.step, m.val_loss, m.sample)

    @Slot(int, str, bool)
    def _on_checkpoint(self, step: int, path: str, best: bool) -> None:
        self.state.sig_status.emit(f"Saved step {step}" + (" (best so far)" if best else ""))

    @Slot(int)
    def _on_paused(self, step: int) -> None:
        self.progress_panel.say(f"Paused at step {step:,} (saved). Resume to continue.")

    @Slot(str)
    def _on_message(self, text: str) -> None:
        """What the loop says on the way (out of memory handled, a resume): the status bar.
        An unexpected error's traceback goes to the run's log only."""
        if not text.startswith("Traceback"):
            self.state.sig_status.emit(text[:1].upper() + text[1:])

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.form.show_error(f"Training failed: {message}")
        self.state.sig_status.emit(f"Training failed: {message}")

    @Slot(object, str)
    def _on_done(self, run_dir: Path, reason: str) -> None:
        self._tick.stop()
        self.curves.flush()
        self.state.sig_run_resources.emit("")
        step = self.session.step
        if reason != "failed":
            self.progress_panel.say(f"{reason.capitalize()} at step {step:,}.")
        self.state.training_run = None
        self.update_buttons()
        self.validate()
        self.state.sig_run_finished.emit(run_dir, reason)
        self.state.sig_runs_changed.emit()
        self.state.sig_status.emit(f"{run_dir.name}: {reason} at step {step}")
        self.state.sig_run_line.emit(f"Idle (last run {reason} at step {step:,})")
        cfg = self.session.config
        if cfg is not None and cfg.finetune is not None and reason == "completed":
            self._read_in_job(lambda: runs.read_file(run_dir, runs.RESULTS), self._show_results,
                              lambda msg: self.metrics_box.say(f"No test results: {msg}"))

    # -- does pretraining help? (compare_view.py) ----------------------------------------------

    @Slot()
    def compare_init(self) -> bool:
        """Fine-tune the form's run twice (pretrained and from scratch) in a background job."""
        return self.compare_view.start()

    @property
    def _comparison(self) -> Comparison | None:
        """The comparison that runs now, or None."""
        return self.compare_view.running

    @property
    def comparison(self) -> list[tuple[InitResult, InitResult]] | None:
        """The last comparison's two sides of each seed, once it has ended."""
        return self.compare_view.results

    # -- runs from disk ------------------------------------------------------------------------

    def _show_results(self, report: dict[str, Any]) -> None:
        self.results = report
        self.metrics_box.show_results(report)
        self.sig_results_shown.emit(report)

    def _read_in_job(self, read: Callable[[], Any], then: Callable[[Any], None],
                     on_error: Callable[[str], None]) -> None:
        """Read something of a run folder in a BackgroundJob; `then(result)` in this thread.

        The job's signals go to this page's methods, never to closures over the page: a closure
        released as the finished job is deleted could drop the last reference to a page nobody
        else holds (a test's), deleting the page, and with it the job, in the job's destructor.
        """
        job = BackgroundJob(lambda report, cancel: read(), self)
        self._reads[job] = (then, on_error)
        job.sig_result.connect(self._on_read)
        job.sig_error.connect(self._on_read_error)
        job.sig_finished.connect(self._on_read_finished)
        job.start()

    def _sender_job(self) -> BackgroundJob:
        job = self.sender()
        assert isinstance(job, BackgroundJob)  # these slots are connected to jobs alone
        return job

    def _on_read(self, result: Any) -> None:
        self._reads[self._sender_job()][0](result)

    def _on_read_error(self, message: str) -> None:
        self._reads[self._sender_job()][1](message)

    def _on_read_finished(self) -> None:
        job = self._sender_job()
        self._reads.pop(job, None)
        job.deleteLater()

    def _read_history(self, run_dir: Path, then: _HistoryShown) -> None:
        """The run's history, its curves' arrays and its best step (None: none yet), read in a
        job; then `then(history, arrays, best_step)`."""
        def read() -> tuple[runs.RunHistory, dict[str, np.ndarray], int | None]:
            history = runs.read_history(run_dir)
            arrays = arrays_from_events(history.events)
            arrays["checkpoint_step"] = np.array([s.step for s in runs.list_snapshots(run_dir)])
            best_step = runs.read_json(run_dir / runs.CHECKPOINT).get("best_step")
            return history, arrays, best_step

        self._read_in_job(read, lambda got: then(*got),
                          lambda msg: self.state.sig_status.emit(f"{run_dir.name}: {msg}"))

    @Slot(object)
    def open_run(self, run_dir: Path) -> None:
        """Show a run's curves and samples, read from its folder."""
        if self.session.is_running():
            self.state.sig_status.emit("A run is training: its curves stay on the Train page.")
            return
        self._read_history(Path(run_dir), self._show_history)

    def _show_history(self, history: runs.RunHistory, arrays: dict[str, np.ndarray],
                      best_step: int | None) -> None:
        if self.session.is_running():
            return
        run_dir, cfg = history.run_dir, history.config
        self.curves.load_arrays(arrays)
        self.curves.flush()
        self.snapshot_marks.show_run(run_dir, cfg, arrays["checkpoint_step"].tolist(), best_step)
        self.samples_box.clear()
        for step, val_loss, sample in history.samples:
            self.samples_box.add(step, val_loss, sample)
        steps = arrays["step"]
        last = int(steps[-1]) if len(steps) else 0
        max_steps = runs.summarize(run_dir).max_steps
        self.progress_panel.set_steps(last, max_steps)
        self.progress_panel.say(f"step {last:,} / {max_steps:,} (from disk)")
        self.progress_panel.set_run(f"Run: {run_dir.name}", str(run_dir))
        self.form.fill_from_config(cfg)
        self.metrics_box.clear()
        self.metrics_box.hide_comparison()
        for step, extra in history.eval_metrics:
            self.metrics_box.add_metrics(step, extra)
        if history.results:
            self._show_results(history.results)
        self.sig_history_loaded.emit(run_dir)

    @Slot(object)
    def resume_run(self, run_dir: Path) -> None:
        """Continue a stopped run from its last checkpoint, its curves first loaded from disk."""
        if self.session.is_running():
            self.state.sig_status.emit("A run is already training: stop it first.")
            return
        self._read_history(Path(run_dir), self._resume_after_history)

    def _resume_after_history(self, history: runs.RunHistory, arrays: dict[str, np.ndarray],
                              best_step: int | None) -> None:
        if self.session.is_running():
            return
        self._show_history(history, arrays, best_step)
        self._begin(history.config, history.run_dir, resume=True)

    @Slot(object)
    def compare_run(self, run_dir: Path) -> None:
        """Overlay a run's curves on the current ones."""
        self._read_history(Path(run_dir), lambda history, arrays, _best: self.curves.add_overlay(
            history.run_dir.name, arrays))
