"""`lmstudio-app benchmark`: the bundled task on a short real pretraining, results kept in the
run folder; offline without a task's dataset, one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("lm_eval", reason="pip install 'lmstudio-app[benchmark]'")


@pytest.fixture(scope="module")
def gpt_run(prepared_data, tmp_path_factory) -> Path:
    from tests.interchange_fixtures import _pretrain

    return _pretrain(prepared_data, "clm", tmp_path_factory.mktemp("bench-cli") / "gpt")


def test_benchmark_keeps_its_results_in_the_run(gpt_run, tmp_path):
    done = run_cli("benchmark", "--run", str(gpt_run), "--tasks", "sentiment_mc", "--limit",
                   "6", "--device", "cpu", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["settings"]["limit"] == 6 and out["tasks"]["sentiment_mc"]["n"] == 6
    kept = json.loads(Path(out["file"]).read_text("utf-8"))
    assert Path(out["file"]).parent == gpt_run / "benchmarks"
    assert len(kept["samples"]["sentiment_mc"]) == 6
    summary = json.loads((gpt_run / "benchmarks" / "summary.json").read_text("utf-8"))
    acc = summary["tasks"]["sentiment_mc"]["metrics"]["acc"]
    assert acc == out["tasks"]["sentiment_mc"]["acc"]
    shown = run_cli("benchmark", "--run", str(gpt_run), "--tasks", "sentiment_mc", "--limit",
                    "6", "--device", "cpu", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"sentiment_mc             acc {acc:.4f}")
    assert "saved to" in shown.stdout


def test_offline_without_the_dataset_says_which(gpt_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))  # nothing cached
    done = run_cli("benchmark", "--run", str(gpt_run), "--tasks", "arc_easy", "--limit", "2",
                   "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: task arc_easy: its dataset allenai/ai2_arc is not on this "
                           "machine"), done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_task_and_empty_list(gpt_run, tmp_path):
    done = run_cli("benchmark", "--run", str(gpt_run), "--tasks", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "no benchmark task named 'nope'" in done.stderr
    done = run_cli("benchmark", "--run", str(gpt_run), "--tasks", ",", cwd=tmp_path)
    assert done.returncode == 2 and "give at least one task" in done.stderr
