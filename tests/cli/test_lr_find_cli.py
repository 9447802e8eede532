"""`lr-find` from the terminal: pretrain's options or an existing run, a suggestion printed,
the sweep as JSON, nothing written."""

from __future__ import annotations

import json

from lmstudio_app.core.training.lr_find import suggest
from tests.conftest import run_cli
from tests.core.training.test_lr_find import _folder_bytes
from tests.core.training.test_trainer import tiny_cfg

SMALL = ["--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2", "--set",
         "block_size=32", "--set", "batch_size=4"]


def test_lr_find_pretrain_form_prints_a_suggestion_and_writes_nothing(prepared_data, tmp_path):
    out = run_cli("lr-find", "--num-training", "30", "pretrain", "--data", str(prepared_data),
                  "--out", "run", *SMALL, "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert len(found["lr"]) == len(found["loss"]) <= 30 and found["lr"][0] == 1e-8
    assert found["suggestion"] == found["lr"][suggest(found["lr"], found["loss"])]
    assert not (tmp_path / "run").exists() and not (tmp_path / "home").exists()
    plain = run_cli("lr-find", "pretrain", "--data", str(prepared_data), *SMALL,
                    "--num-training", "30", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("suggested learning rate: ")
    assert float(plain.stdout.split(":")[1]) > 0


def test_lr_find_on_a_run_leaves_it_byte_identical(prepared_data, tmp_path):
    from lmstudio_app.core.training.trainer import Trainer

    run = tmp_path / "run"
    assert Trainer(tiny_cfg(prepared_data, max_steps=10), run).run().reason == "completed"
    before = _folder_bytes(run)
    out = run_cli("lr-find", "--run", str(run), "--num-training", "20", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "suggested learning rate" in out.stdout
    assert _folder_bytes(run) == before


def test_lr_find_refusals_are_one_line(prepared_data, tmp_path):
    out = run_cli("lr-find", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: name what to test")
    out = run_cli("lr-find", "--run", str(tmp_path / "missing"), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = run_cli("lr-find", "--min-lr", "1", "--max-lr", "0.1", "pretrain", "--data",
                  str(prepared_data), cwd=tmp_path)
    assert out.returncode == 2 and "(option --min-lr)" in out.stderr, out.stderr
