"""Sweeps: real runs per trial, a table whose best row is the runs' own best, pruned trials that
say so, and the best settings written for --config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.runs.metrics import read_metrics

pytest.importorskip("optuna", reason="pip install 'lmstudio-app[sweep]'")
from lmstudio_app.core.training.sweep import (  # noqa: E402
    SWEEP_CSV,
    Sweep,
    best_config,
    parse_param,
    read_sweep,
    trial_config,
    write_config,
)

SHORT = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
         "eval_interval": 4, "eval_batches": 1, "log_interval": 4, "sample_prompt": "",
         "max_steps": 12, "device": "cpu"}


def base_config(data: Path):
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return build_run_config("clm", "tiny", vocab, dict(SHORT), data_dir=str(data), name="s")


def own_best(run_dir: str) -> float:
    """The run's best validation loss as its metrics file has it."""
    return min(r["val_loss"] for r in read_metrics(Path(run_dir)) if r.get("kind") == "eval")


def test_grid_of_four_trials_makes_four_runs_and_a_true_table(prepared_data, tmp_path):
    space = dict([parse_param("lr=1e-4,3e-3"), parse_param("n_layer=1,2")])
    assert space == {"learning_rate": [1e-4, 3e-3], "n_layer": [1, 2]}
    sweep = Sweep(base_config(prepared_data), space, method="grid", seed=0, startup_trials=2)
    seen: list[tuple[int, str]] = []
    result = sweep.run(tmp_path / "sweep", on_trial=lambda row: seen.append((row.number,
                                                                               row.state)))
    folders = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert folders == ["trial-000", "trial-001", "trial-002", "trial-003"]
    assert [n for n, state in seen if state == "running"] == [0, 1, 2, 3]
    combos = {(t.params["learning_rate"], t.params["n_layer"]) for t in result.trials}
    assert combos == {(1e-4, 1), (1e-4, 2), (3e-3, 1), (3e-3, 2)}  # every point once
    for t in result.trials:
        assert runs.read_config(Path(t.run_dir)).train.learning_rate == t.params["learning_rate"]
        assert runs.read_config(Path(t.run_dir)).model.n_layer == t.params["n_layer"]
        assert t.best_val_loss == pytest.approx(own_best(t.run_dir), abs=1e-9)
    pruned = [t for t in result.trials if t.state == "pruned"]
    assert pruned, "the low learning rate trials after two full ones are pruned"
    for t in pruned:
        status = runs.read_status(Path(t.run_dir))
        assert t.note == f"pruned at step {t.pruned_at}" and status["step"] == t.pruned_at < 12
    completed = [t for t in result.trials if t.state == "completed"]
    truth = min(completed, key=lambda t: own_best(t.run_dir))
    saved = read_sweep(tmp_path / "sweep")
    assert saved["best"]["number"] == truth.number == result.best.number
    assert saved["best"]["best_val_loss"] == pytest.approx(own_best(truth.run_dir), abs=1e-9)
    assert [t["note"] for t in saved["trials"]] == [t.note for t in result.trials]
    rows = list(csv.DictReader((tmp_path / "sweep" / SWEEP_CSV).open(encoding="utf-8")))
    assert len(rows) == 4 and {r["note"] for r in rows} >= {t.note for t in pruned}

    applied = tmp_path / "best.json"
    write_config(best_config(sweep.base, result), applied)
    run = json.loads(applied.read_text("utf-8"))["run"]
    assert run["train"]["learning_rate"] == truth.params["learning_rate"]
    assert run["model"]["n_layer"] == truth.params["n_layer"]


def test_mistakes_are_refused_before_any_run(prepared_data, tmp_path):
    base = base_config(prepared_data)
    with pytest.raises(UserError, match="unknown field to sweep"):
        parse_param("nope=1,2")
    with pytest.raises(UserError, match="FIELD=V1,V2"):
        parse_param("learning_rate=")
    with pytest.raises(UserError, match="needs a number of trials"):
        Sweep(base, {"learning_rate": [1e-3]}, method="tpe")
    with pytest.raises(UserError):  # a value the configuration refuses, found before training
        Sweep(base, {"n_head": [2, 3]}, method="grid")
    assert not (tmp_path / "sweep").exists()
    cfg = trial_config(base, {"learning_rate": 5e-4}, "x")
    assert cfg.train.learning_rate == 5e-4 and cfg.name == "x"
