"""`lmstudio-app sweep`: a real grid of short runs, the table printed and saved, pruned trials
named, the best written for --config and trained again from it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytest.importorskip("optuna", reason="pip install 'lmstudio-app[sweep]'")

SHORT = ["--preset", "tiny", "--set", "n_embd=32", "--set", "n_head=2", "--set",
         "block_size=64", "--set", "batch_size=8", "--set", "eval_interval=4", "--set",
         "eval_batches=1", "--set", "log_interval=4", "--set", "sample_prompt=",
         "--max-steps", "12", "--device", "cpu"]


def test_sweep_prints_the_table_and_applies_the_best(prepared_data, tmp_path):
    done = run_cli("sweep", "--data", str(prepared_data), *SHORT, "--param", "lr=1e-4,3e-3",
                   "--param", "n_layer=1,2", "--out", str(tmp_path / "sw"), "--apply",
                   str(tmp_path / "best.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "sw" / "sweep.json").read_text("utf-8"))
    assert len(saved["trials"]) == 4
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["trial", "learning_rate", "n_layer"]
    for t in saved["trials"]:
        row = lines[1 + t["number"]]
        assert row.split()[0] == str(t["number"]) and row.endswith(t["note"])
        if t["state"] == "pruned":
            assert t["note"] == f"pruned at step {t['pruned_at']}"
            assert f"trial {t['number']:03d}: pruned at step {t['pruned_at']}" in done.stderr
    best = saved["best"]
    assert (f"best: trial {best['number']:03d}: learning_rate={best['params']['learning_rate']}"
            in done.stdout)
    assert (tmp_path / "sw" / "sweep.csv").read_text("utf-8").count("\n") == 5
    again = run_cli("pretrain", "--config", str(tmp_path / "best.json"), "--max-steps", "4",
                    "--out", str(tmp_path / "again"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    cfg = json.loads((tmp_path / "again" / "config.json").read_text("utf-8"))["run"]
    assert cfg["train"]["learning_rate"] == best["params"]["learning_rate"]


def test_sweep_mistakes_are_one_line(prepared_data, tmp_path):
    done = run_cli("sweep", "--data", str(prepared_data), *SHORT, "--param", "nope=1,2",
                   cwd=tmp_path)
    assert done.returncode == 2 and "unknown field to sweep" in done.stderr
    done = run_cli("sweep", "--data", str(prepared_data), *SHORT, "--param", "lr=1e-3",
                   "--method", "tpe", cwd=tmp_path)
    assert done.returncode == 2 and "needs a number of trials" in done.stderr
    assert "--trials" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "runs").exists() or not any(
        (tmp_path / "home" / "runs").iterdir())
