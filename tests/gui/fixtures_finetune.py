"""Tiny fine-tuned runs for the GUI tests: a classify run (from the tiny GPT) and an extractive
QA run (from the tiny BERT), trained for a few steps on slices of the bundled samples.

Built once per session with the real engine, under their own runs root so the page tests that
count the pretrained runs are not disturbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui import fixtures_engine as fx

FT_TRAIN = {"max_steps": 20, "eval_interval": 10, "log_interval": 5, "batch_size": 8,
            "learning_rate": 2e-3, "device": "cpu"}

_cache: dict[str, object] = {}


@dataclass
class FinetuneRuns:
    runs_root: Path
    classify: Path
    qa: Path


def _slice(src: Path, dest: Path, n: int, header: bool) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()
    if header:
        # The sentiment sample is grouped by label: take rows from both ends.
        body = lines[1:]
        rows = [lines[0], *body[: n // 2], *body[-(n // 2):]]
    else:
        rows = lines[:n]
    dest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return dest


def _build(factory: pytest.TempPathFactory) -> FinetuneRuns:
    if "runs" in _cache:
        return _cache["runs"]  # type: ignore[return-value]
    import torch

    from lmstudio_app.core import runs
    from lmstudio_app.core.config import FinetuneConfig
    from lmstudio_app.core.data import labeled
    from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer

    base = fx._runs(factory)
    root = factory.mktemp("gui-finetune")
    sent = _slice(labeled.sample_sentiment_path(), root / "sent.csv", 80, header=True)
    qa = _slice(labeled.sample_qa_path(), root / "qa.jsonl", 40, header=False)
    made = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for key, ft in (
            ("classify", FinetuneConfig(task="classify", train_file=str(sent),
                                        base_run=str(base.gpt))),
            ("qa", FinetuneConfig(task="qa-extractive", train_file=str(qa), val_file=str(qa),
                                  test_file=str(qa), base_run=str(base.bert), stride=8)),
        ):
            cfg = make_finetune_config(ft, overrides=dict(FT_TRAIN), name=f"tiny-{key}")
            run_dir = runs.new_run_dir(root / "runs", f"tiny-{key}")
            outcome = Trainer(cfg, run_dir, MetricsSink()).run()
            assert outcome.reason == "completed", runs.read_json(run_dir / runs.STATUS)
            made[key] = run_dir
    finally:
        torch.set_num_threads(threads)
    _cache["runs"] = FinetuneRuns(root / "runs", made["classify"], made["qa"])
    return _cache["runs"]  # type: ignore[return-value]


@pytest.fixture
def finetune_runs(tmp_path_factory) -> FinetuneRuns:
    """A finished classify run and a finished qa-extractive run under one runs root."""
    return _build(tmp_path_factory)


def click_a_mistake(qtbot, view) -> tuple[int, int, tuple]:
    """Click the first off-diagonal cell with a count on a ConfusionView, as a user would.

    Returns its row, column and the (true, predicted, texts) that sig_cell_chosen carried."""
    n = len(view.labels)
    i, j = next(((i, j) for i in range(n) for j in range(n) if i != j and view.matrix[i][j]),
                (0, 1))
    with qtbot.waitSignal(view.sig_cell_chosen) as chosen:
        rect = view.table.visualRect(view.table.model().index(i, j))
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    return i, j, tuple(chosen.args)
