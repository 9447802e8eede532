"""`pretrain --config FILE`: the run a RunConfig file describes (what the window launches in
other processes) trains exactly as the same run given by flags."""

from __future__ import annotations

import json

from lmstudio_app.core import runs
from lmstudio_app.core.config import build_run_config, parse_overrides
from lmstudio_app.core.data.layout import TOKENIZER
from lmstudio_app.core.data.tokenizer import Tokenizer
from tests.conftest import run_cli

FIELDS = ["n_layer=1", "n_head=2", "n_embd=32", "block_size=32", "batch_size=4",
          "eval_interval=4", "eval_batches=2", "log_interval=1", "sample_prompt="]


def losses(run) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in runs.read_metrics(run) if r["kind"] == "step"}


def test_a_config_file_trains_the_run_the_flags_describe(prepared_data, tmp_path):
    sets = [a for f in FIELDS for a in ("--set", f)]
    flags = run_cli("pretrain", "--data", str(prepared_data), "--objective", "clm",
                    "--preset", "tiny", "--max-steps", "8", "--device", "cpu", "--out", "a",
                    *sets, cwd=tmp_path)
    assert flags.returncode == 0, flags.stderr

    vocab = Tokenizer.load(prepared_data / TOKENIZER).vocab_size
    cfg = build_run_config("clm", "tiny", vocab,
                           parse_overrides([*FIELDS, "max_steps=8", "device=cpu"]),
                           data_dir=str(prepared_data))
    (tmp_path / "run.json").write_text(json.dumps(cfg.to_dict()), encoding="utf-8")
    from_file = run_cli("pretrain", "--config", "run.json", "--out", "b", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr

    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert sorted(a) == list(range(1, 9))
    assert a == b  # same seed, same batches, same model: the same losses to the bit
    assert runs.read_config(tmp_path / "b").to_dict() == runs.read_config(tmp_path / "a").to_dict()

    # A run's own config.json is a config file too; training options apply on top.
    again = run_cli("pretrain", "--config", "a/config.json", "--max-steps", "4", "--out", "c",
                    cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    c = losses(tmp_path / "c")
    assert sorted(c) == [1, 2, 3, 4]
    assert runs.read_config(tmp_path / "c").train.max_steps == 4


def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.json").write_text('{"run": {"train": [1, 2]', encoding="utf-8")
    out = run_cli("pretrain", "--config", "bad.json", "--out", "r", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "bad.json" in out.stderr
    assert "not valid JSON" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists()

    (tmp_path / "list.json").write_text('{"train": [1, 2]}', encoding="utf-8")
    out = run_cli("pretrain", "--config", "list.json", cwd=tmp_path)
    assert out.returncode == 2 and "list.json" in out.stderr and "train" in out.stderr

    out = run_cli("finetune", "--config", "missing.json", cwd=tmp_path)
    assert out.returncode == 2 and "missing.json: no such file" in out.stderr
