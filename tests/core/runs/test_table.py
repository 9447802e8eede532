"""A run's final figures, notes and the settings two runs differ in, on real tiny runs."""

from __future__ import annotations

import json
import math

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.runs.table import (
    config_differences,
    figures_of_all,
    run_figures,
    training_time,
)
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

from ..training.test_trainer import tiny_cfg


@pytest.fixture(scope="module")
def two_runs(prepared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    sinks = {}
    for name, lr in (("a", 1e-3), ("b", 3e-3)):
        sinks[name] = RecordingSink()
        cfg = tiny_cfg(prepared_data, max_steps=12, eval_interval=6, learning_rate=lr,
                       keep_checkpoints=2)
        Trainer(cfg, root / name, sinks[name]).run()
    return root, sinks


def test_figures_are_the_runs_last_and_best(two_runs):
    root, sinks = two_runs
    fig = run_figures(root / "a")
    sink = sinks["a"]
    assert (fig.name, fig.objective, fig.state, fig.step) == ("a", "clm", "completed", 12)
    assert fig.final_loss == pytest.approx(sink.steps[-1].loss)
    assert fig.best_val_loss == pytest.approx(min(e.val_loss for e in sink.evals))
    assert fig.val_bpb == pytest.approx(sink.evals[-1].val_bpb)
    assert fig.tokens == 12 * sink.info["tokens_per_step"]
    assert fig.time_s == pytest.approx(sink.steps[-1].elapsed_s, rel=1e-3)
    snaps = runs.list_snapshots(root / "a")
    assert fig.snapshots == len(snaps) == 2
    assert fig.snapshot_bytes == sum(p.path.stat().st_size for p in snaps)
    # A snapshot is a link to a file the folder already counts: counted once.
    files = [p for p in (root / "a").rglob("*") if p.is_file()]
    assert fig.size_bytes < sum(p.stat().st_size for p in files)
    assert fig.best_metric is None and fig.best_metric_value is None  # pretraining: no task
    assert [f.name for f in figures_of_all(root)] == ["b", "a"]


def test_the_config_difference_holds_only_the_keys_that_differ(two_runs):
    root, _ = two_runs
    assert config_differences(root / "a", root / "b") == [
        ("train.learning_rate", 1e-3, 3e-3)]
    assert config_differences(root / "a", root / "a") == []
    with pytest.raises(UserError):
        config_differences(root / "a", root / "nowhere")


def test_notes_and_tags_are_kept_in_the_run_folder(two_runs):
    root, _ = two_runs
    run = root / "b"
    saved = runs.write_notes(run, "  higher lr: faster, noisier  ", ["lr", "", " lr ", "fast"])
    assert (saved.note, saved.tags) == ("higher lr: faster, noisier", ["lr", "fast"])
    assert json.loads((run / runs.NOTES).read_text()) == {
        "note": "higher lr: faster, noisier", "tags": ["lr", "fast"]}
    fig = run_figures(run)
    assert (fig.note, fig.tags) == ("higher lr: faster, noisier", ["lr", "fast"])
    (run / runs.NOTES).write_text("{not json")
    assert runs.read_notes(run) == runs.RunNotes()
    with pytest.raises(UserError):
        runs.write_notes(root / "nowhere", "x", [])


def test_training_time_adds_the_stretches_of_a_resumed_run():
    assert training_time([1.0, 2.0, 3.0, 0.5, 1.5, None]) == pytest.approx(
        [1.0, 2.0, 3.0, 3.5, 4.5, math.nan], nan_ok=True)


def test_figures_already_known_are_read_again_only_when_the_run_changed(two_runs, tmp_path):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(two_runs[0], root)
    first = {f.path: f for f in figures_of_all(root)}
    again = {f.path: f for f in figures_of_all(root, first)}
    assert all(again[p] is first[p] for p in first)  # nothing changed: nothing read
    runs.write_notes(root / "a", "changed", ["x"])
    third = {f.path: f for f in figures_of_all(root, again)}
    assert third[root / "b"] is again[root / "b"]
    assert third[root / "a"] is not again[root / "a"] and third[root / "a"].note == "changed"
    assert "read_key" not in third[root / "a"].as_dict()
