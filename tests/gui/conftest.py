"""Qt tests run offscreen, and no test may leave a QThread running.

The window's tests share real engine artefacts, built once per session with the real engine (no
mocks) and kept small: the prepared store of tests/conftest.py (~150 KB of Austen, 400 pieces),
a GPT and a BERT run (one layer, width 32, 30 steps), and a classify and an extractive-QA
fine-tune of them (20 steps on slices of the bundled labeled samples).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt, QThread  # noqa: E402

from lmstudio_app.gui.state import AppState  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def gui_thread_garbage_collection(qapp):
    """As the app does (gui/app.py): Python's cycle collector runs in the GUI thread only, never
    in a worker, where collecting an earlier test's plot (its Qt menus) deadlocked a run."""
    import gc

    from lmstudio_app.gui.app import gui_thread_garbage_collection as start

    collector = start()
    yield collector
    collector.timer.stop()
    gc.enable()


_started: list[QThread] = []
_original_start = QThread.start


def _tracking_start(self: QThread, *args: object) -> None:
    _started.append(self)
    _original_start(self, *args)


@pytest.fixture(autouse=True)
def no_thread_left_running(qtbot):
    """Fail any test that leaves a QThread running when it ends."""
    QThread.start = _tracking_start  # type: ignore[method-assign]
    _started.clear()
    yield
    QThread.start = _original_start  # type: ignore[method-assign]
    running = []
    for thread in list(_started):
        try:
            if thread.isRunning():
                running.append(thread)
        except RuntimeError:  # the C++ object is gone: it finished and was deleted
            continue
    for thread in running:
        thread.quit()
        thread.wait(5000)
    assert not running, f"{len(running)} QThread(s) still running at the end of the test"


# ---------------------------------------------------------------------------------------------
# Real runs

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "max_steps": 30, "eval_interval": 15, "eval_batches": 2, "log_interval": 5,
        "sample_tokens": 8, "device": "cpu"}
FT_TRAIN = {"max_steps": 20, "eval_interval": 10, "log_interval": 5, "batch_size": 8,
            "learning_rate": 2e-3, "device": "cpu"}


@dataclass
class EngineRuns:
    data_dir: Path
    runs_root: Path
    gpt: Path
    bert: Path


@dataclass
class FinetuneRuns:
    runs_root: Path
    classify: Path
    qa: Path


def _train(cfg, run_dir: Path) -> Path:
    from lmstudio_app.core import runs
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer

    outcome = Trainer(cfg, run_dir, MetricsSink()).run()
    assert outcome.reason == "completed", runs.read_file(run_dir, runs.STATUS)
    return run_dir


def _one_thread(build: Callable[[], object]) -> object:
    # One thread: for a model this small, more threads only wait on each other (on a busy
    # two-core machine, 2 threads made these 60 steps ~15x slower).
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build()
    finally:
        torch.set_num_threads(threads)


def slice_labeled(src: Path, dest: Path, n: int, header: bool) -> Path:
    """The first `n` rows of a labeled file; with a header (the sentiment CSV, grouped by label),
    rows from both ends."""
    lines = src.read_text(encoding="utf-8").splitlines()
    if header:
        body = lines[1:]
        rows = [lines[0], *body[: n // 2], *body[-(n // 2):]]
    else:
        rows = lines[:n]
    dest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return dest


@pytest.fixture(scope="session")
def engine_runs(tmp_path_factory, prepared_data) -> EngineRuns:
    """The prepared store and two finished runs (GPT clm and BERT mlm) under one runs root."""
    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer

    root = tmp_path_factory.mktemp("gui-engine")
    vocab = Tokenizer.load(prepared_data / "tokenizer.model").vocab_size

    def build() -> dict[str, Path]:
        made = {}
        for objective, name in (("clm", "tiny-gpt"), ("mlm", "tiny-bert")):
            cfg = build_run_config(objective, "tiny", vocab, dict(TINY),
                                   data_dir=str(prepared_data), name=name)
            made[objective] = _train(cfg, runs.new_run_dir(root / "runs", name))
        return made

    made = _one_thread(build)
    return EngineRuns(Path(prepared_data), root / "runs", made["clm"], made["mlm"])


@pytest.fixture(scope="session")
def finetune_runs(tmp_path_factory, engine_runs) -> FinetuneRuns:
    """A finished classify run (from the GPT run) and a finished qa-extractive run (from the
    BERT run) under their own runs root, so tests that count pretrained runs are undisturbed."""
    from lmstudio_app.core import runs
    from lmstudio_app.core.config import FinetuneConfig
    from lmstudio_app.core.data import labeled
    from lmstudio_app.core.objectives.finetune_setup import make_finetune_config

    root = tmp_path_factory.mktemp("gui-finetune")
    sent = slice_labeled(labeled.sample_sentiment_path(), root / "sent.csv", 80, header=True)
    qa = slice_labeled(labeled.sample_qa_path(), root / "qa.jsonl", 40, header=False)

    def build() -> dict[str, Path]:
        made = {}
        for key, ft in (
            ("classify", FinetuneConfig(task="classify", train_file=str(sent),
                                        base_run=str(engine_runs.gpt))),
            ("qa", FinetuneConfig(task="qa-extractive", train_file=str(qa), val_file=str(qa),
                                  test_file=str(qa), base_run=str(engine_runs.bert), stride=8)),
        ):
            cfg = make_finetune_config(ft, overrides=dict(FT_TRAIN), name=f"tiny-{key}")
            made[key] = _train(cfg, runs.new_run_dir(root / "runs", f"tiny-{key}"))
        return made

    made = _one_thread(build)
    return FinetuneRuns(root / "runs", made["classify"], made["qa"])


@pytest.fixture
def copied_runs(engine_runs, tmp_path) -> Path:
    """A private copy of the runs root, for tests that delete or change runs."""
    dest = tmp_path / "runs"
    shutil.copytree(engine_runs.runs_root, dest)
    return dest


@pytest.fixture
def app_state(tmp_path) -> AppState:
    """An AppState with its own settings file and home folder (nothing from the real user)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    state = AppState(settings=settings, home=tmp_path / "home")
    yield state
    settings.sync()


@pytest.fixture
def labeled_slice() -> Callable[[Path, Path, int, bool], Path]:
    """slice_labeled(src, dest, n, header): a small labeled file cut from a bigger one."""
    return slice_labeled


@pytest.fixture
def click_a_mistake(qtbot) -> Callable[[object], tuple[int, int, tuple]]:
    """click(view): click the first off-diagonal cell with a count on a ConfusionView, as a user
    would; its row, its column and the (true, predicted, texts) that sig_cell_chosen carried."""
    def click(view) -> tuple[int, int, tuple]:
        n = len(view.labels)
        i, j = next(((i, j) for i in range(n) for j in range(n)
                     if i != j and view.matrix[i][j]), (0, 1))
        with qtbot.waitSignal(view.sig_cell_chosen) as chosen:
            rect = view.table.visualRect(view.table.model().index(i, j))
            qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        return i, j, tuple(chosen.args)

    return click


def _state(tmp_path: Path, home: Path) -> AppState:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    return AppState(settings=settings, home=home)


@pytest.fixture
def main_window_on(qtbot, tmp_path, prepared_data) -> Callable[[int, int], object]:
    """make(width, height): a main window of that size, shown, over a fresh home that has just
    been told of the prepared data."""
    def make(width: int, height: int) -> object:
        from lmstudio_app.gui.main_window import MainWindow

        state = _state(tmp_path, tmp_path / "home")
        window = MainWindow(state)
        qtbot.addWidget(window)
        window.resize(width, height)
        window.show()
        qtbot.waitExposed(window)
        state.sig_data_ready.emit(prepared_data)
        return window

    return make


@pytest.fixture
def train_page_on(qtbot, tmp_path) -> Callable[[Path], tuple[object, AppState]]:
    """make(runs_root): a Train page and its AppState, whose home holds `runs_root`."""
    def make(runs_root: Path) -> tuple[object, AppState]:
        from lmstudio_app.gui.pages.train.page import TrainPage

        state = _state(tmp_path, runs_root.parent)
        page = TrainPage(state)
        qtbot.addWidget(page)
        return page, state

    return make


@pytest.fixture
def playground_on(qtbot, tmp_path) -> Callable[[Path, Path], object]:
    """make(runs_root, run): a Playground whose home holds `runs_root`, with `run` loaded."""
    def make(runs_root: Path, run: Path) -> object:
        from lmstudio_app.gui.pages.playground.page import PlaygroundPage

        state = _state(tmp_path, runs_root.parent)
        page = PlaygroundPage(state)
        qtbot.addWidget(page)
        with qtbot.waitSignal(page.sig_model_loaded, timeout=20000,
                              check_params_cb=lambda path: path == run):
            state.sig_use_run.emit(run)
        return page

    return make
