"""Real engine artefacts for the GUI tests: a small corpus and tiny trained GPT and BERT runs.

Built once per test session with the real engine (no mocks) and kept small: ~100 KB of Austen,
a 500-piece tokenizer, one-layer models of width 32, 30 steps. Test modules import the fixtures
by name; the artefacts are cached here so importing them into several modules builds them once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from lmstudio_app.gui.state import AppState
from tests.conftest import austen_text

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "max_steps": 30, "eval_interval": 15, "eval_batches": 2, "log_interval": 5,
        "sample_tokens": 8, "device": "cpu"}

_cache: dict[str, object] = {}


@dataclass
class EngineRuns:
    data_dir: Path
    runs_root: Path
    gpt: Path
    bert: Path


def _corpus(factory: pytest.TempPathFactory) -> Path:
    if "corpus" not in _cache:
        folder = factory.mktemp("gui-corpus")
        text = austen_text(100_000)
        (folder / "austen.txt").write_text(text[: text.rfind("\n\n") + 1], encoding="utf-8")
        _cache["corpus"] = folder
    return _cache["corpus"]  # type: ignore[return-value]


def _runs(factory: pytest.TempPathFactory) -> EngineRuns:
    if "runs" in _cache:
        return _cache["runs"]  # type: ignore[return-value]
    import torch

    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer

    root = factory.mktemp("gui-engine")
    result = prepare(PrepareConfig(sources=[str(_corpus(factory) / "austen.txt")],
                                   out_dir=str(root / "data"),
                                   tokenizer=TokenizerSpec(kind="unigram", vocab_size=500),
                                   val_fraction=0.1))
    made = {}
    # One thread: for a model this small, more threads only wait on each other (on a busy
    # two-core machine, 2 threads made these 60 steps ~15x slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for objective, name in (("clm", "tiny-gpt"), ("mlm", "tiny-bert")):
            cfg = build_run_config(objective, "tiny", result.vocab_size, dict(TINY),
                                   data_dir=str(result.out_dir), name=name)
            run_dir = runs.new_run_dir(root / "runs", name)
            outcome = Trainer(cfg, run_dir, MetricsSink()).run()
            assert outcome.reason == "completed", runs.read_json(run_dir / runs.STATUS)
            made[objective] = run_dir
    finally:
        torch.set_num_threads(threads)
    _cache["runs"] = EngineRuns(Path(result.out_dir), root / "runs", made["clm"], made["mlm"])
    return _cache["runs"]  # type: ignore[return-value]


@pytest.fixture
def tiny_corpus(tmp_path_factory) -> Path:
    """A folder holding austen.txt (~100 KB of real prose)."""
    return _corpus(tmp_path_factory)


@pytest.fixture
def engine_runs(tmp_path_factory) -> EngineRuns:
    """A prepared store and two finished runs (GPT clm and BERT mlm) under one runs root."""
    return _runs(tmp_path_factory)


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
