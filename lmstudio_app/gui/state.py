"""AppState: what the pages share, and the signals they use to talk to each other.

Pages never reach into one another, and the main window never reaches into a page: the Data
page announces a prepared store, the Runs page asks to open, resume or compare a run, the Train
page announces a run that started or ended, its state line, device and resources, and what its
Start, Pause, Resume and Stop allow now; whoever cares listens. Settings persist through QSettings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from ..core.util.home import DATA_FOLDER, HOME_ENV, RUNS_FOLDER, default_home
from .engine import EngineInfo, read_engine_info

LOG_FILE = "lmstudio_app.log"  # in the home folder, beside data/ and runs/


def _chosen_home(settings: QSettings) -> Path:
    """Where the app keeps its prepared data and runs: $LMSTUDIO_APP_HOME wins (the command
    line reads it too), then a home kept in the settings, then the engine's default."""
    if os.environ.get(HOME_ENV, "").strip():
        return default_home()
    return Path(str(settings.value("paths/home", str(default_home()))))


@dataclass
class LabeledChoice:
    """A checked labeled file for fine-tuning (what sig_labeled_ready carries)."""

    path: Path
    family: str  # the kind of labeled data: "classify" | "qa" (core ObjectiveSpec.family)
    columns: dict[str, str] = field(default_factory=dict)  # role -> column; "" for none
    encoding: str = "utf-8"


@dataclass(frozen=True)
class TrainingControls:
    """What the training run allows now (what sig_training_controls carries): the Train page's
    buttons and the window's Training menu both follow it."""

    start: bool = False  # the form describes a valid run and nothing trains or compares
    pause: bool = False  # a run is starting or running
    resume: bool = False  # a run is pausing or paused
    stop: bool = False  # a run trains and is not stopping already


class AppState(QObject):
    sig_data_ready = Signal(object)  # Path of a prepared data folder (tokens.h5, tokenizer.model)
    sig_run_started = Signal(object)  # Path of the run folder now training
    sig_run_finished = Signal(object, str)  # Path, reason: completed | stopped | failed
    sig_run_progress = Signal(object, int, int)  # Path of the run training, its step, max_steps
    sig_runs_changed = Signal()  # a run folder appeared, changed state or was deleted
    sig_open_run = Signal(object)  # Path: show this run's curves on the Train page
    sig_resume_run = Signal(object)  # Path: continue this run on the Train page
    sig_compare_run = Signal(object)  # Path: overlay this run's curves
    sig_use_run = Signal(object)  # Path: pick this run in the Playground
    sig_use_checkpoint = Signal(object, int)  # Path, step: its kept snapshot in the Playground
    sig_status = Signal(str)  # a short message for the status bar
    sig_show_page = Signal(str)  # a page's name: show it (a link in a hint)
    sig_labeled_ready = Signal(object)  # LabeledChoice: the Train page's fine-tune defaults
    sig_engine_ready = Signal(object)  # EngineInfo: PyTorch has loaded (see engine())
    sig_run_line = Signal(str)  # the run's state in a short line: "Training: step 12 / 200"
    sig_run_device = Signal(str)  # the device the current run trains on, described
    sig_run_resources = Signal(str)  # what the run takes: "RAM 1.2 GiB · GPU 3.4 GiB, 87%"; ""
    sig_training_controls = Signal(object)  # TrainingControls: what a run allows now

    def __init__(self, settings: QSettings | None = None, home: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings()
        self.home = Path(home) if home else _chosen_home(self.settings)
        self.data_dir: Path | None = None
        self.training_run: Path | None = None  # the run folder training now
        self.training_controls = TrainingControls()  # the last sig_training_controls said
        self._engine: EngineInfo | None = None
        self._engine_job: Any = None  # the BackgroundJob loading the engine, while it runs
        self._engine_deferred = False  # the app loads it after the first frame
        self.sig_data_ready.connect(self._remember_data)
        self.sig_training_controls.connect(self._remember_controls)

    @property
    def runs_root(self) -> Path:
        return self.home / RUNS_FOLDER

    @property
    def data_root(self) -> Path:
        return self.home / DATA_FOLDER

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE

    # -- the engine (PyTorch), loaded after the first frame ------------------------------------

    def engine(self) -> EngineInfo | None:
        """The engine's facts; None until a deferred load has finished (sig_engine_ready says
        when). Without defer_engine() (tests, scripts) the first call reads them at once."""
        if self._engine is None and not self._engine_deferred:
            self._engine = read_engine_info()
        return self._engine

    def defer_engine(self) -> None:
        """Leave PyTorch unloaded until load_engine_in_background() (the first frame first)."""
        self._engine_deferred = True

    def load_engine_in_background(self) -> None:
        """Import PyTorch in a worker thread; sig_engine_ready(EngineInfo) when it is done."""
        self._engine_deferred = True
        if self._engine is not None or self._engine_job is not None:
            return
        from .jobs import BackgroundJob

        job = BackgroundJob(lambda report, cancel: read_engine_info(), self)
        job.sig_result.connect(self._on_engine_loaded)
        job.sig_finished.connect(self._on_engine_job_finished)
        self._engine_job = job
        job.start()

    def _on_engine_loaded(self, info: EngineInfo) -> None:
        self._engine = info
        self.sig_engine_ready.emit(info)

    def _on_engine_job_finished(self) -> None:
        job, self._engine_job = self._engine_job, None
        if job is not None:
            job.deleteLater()

    def shutdown(self) -> None:
        """Wait for the engine's background load, if it still runs (an import cannot stop)."""
        if self._engine_job is not None:
            self._engine_job.wait_finished(60000)

    def _remember_data(self, path: Path) -> None:
        self.data_dir = Path(path)

    def _remember_controls(self, controls: TrainingControls) -> None:
        self.training_controls = controls

    def value(self, key: str, default: Any = None, kind: type | None = None) -> Any:
        """A persisted setting, converted to `kind` when given (QSettings returns strings)."""
        raw = self.settings.value(key, default)
        if kind is None or raw is None:
            return raw
        if kind is bool and isinstance(raw, str):
            return raw.lower() in ("1", "true", "yes")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            return default

    def set_value(self, key: str, value: Any) -> None:
        self.settings.setValue(key, value)
