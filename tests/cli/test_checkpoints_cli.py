"""--keep-checkpoints and --checkpoint STEP through the real command; `runs` shows notes."""

from __future__ import annotations

import json
import shutil

from lmstudio_app.core import runs
from tests.conftest import run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32",
        "--set", "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=4",
        "--set", "eval_batches=2", "--set", "log_interval=4"]


def test_keep_checkpoints_then_generate_from_a_step_and_list_notes(prepared_data, tmp_path):
    shutil.copytree(prepared_data, tmp_path / "data")
    out = run_cli("pretrain", "--data", "data", "--max-steps", "24", "--keep-checkpoints",
                  "3", "--out", "runs/gpt", "--json", *TINY, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = tmp_path / "runs" / "gpt"
    assert runs.read_config(run).train.keep_checkpoints == 3
    steps = [s.step for s in runs.list_snapshots(run)]
    assert 24 in steps and 2 <= len(steps) <= 5

    gen = run_cli("generate", "--run", "runs/gpt", "--checkpoint", str(steps[0]), "--prompt",
                  "It is", "--max-new-tokens", "5", "--seed", "1", cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    missing = next(s for s in range(4, 24, 4) if s not in steps)
    bad = run_cli("generate", "--run", "runs/gpt", "--checkpoint", str(missing), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert f"no weights of step {missing}" in bad.stderr and str(steps[0]) in bad.stderr
    word = run_cli("generate", "--run", "runs/gpt", "--checkpoint", "first", cwd=tmp_path)
    assert word.returncode == 2 and "best, latest or the step" in word.stderr

    runs.write_notes(run, "lr 1e-3, the baseline\nsecond line", ["baseline", " gpt ", "gpt"])
    listed = json.loads(run_cli("runs", "--root", "runs", "--json", cwd=tmp_path).stdout)
    assert listed[0]["note"] == "lr 1e-3, the baseline\nsecond line"
    assert listed[0]["tags"] == ["baseline", "gpt"]
    table = run_cli("runs", "--root", "runs", cwd=tmp_path).stdout
    assert "tags: baseline, gpt" in table and "note: lr 1e-3, the baseline" in table
