"""LoRA from the command line: finetune --lora, the run's small checkpoint used by classify,
export --format peft, and the refusals (QLoRA without CUDA, a bad target) in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import sample_sentiment_path
from tests.conftest import austen_text, run_cli

pytest.importorskip("peft")

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32",
        "--set", "block_size=64", "--set", "batch_size=8", "--set", "eval_interval=40",
        "--set", "eval_batches=2", "--set", "log_interval=10", "--set", "sample_prompt="]
FT = ["--set", "eval_interval=10", "--set", "log_interval=5", "--set", "learning_rate=5e-3"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loracli")
    (root / "corpus").mkdir()
    (root / "corpus" / "austen.txt").write_text(austen_text(60_000), encoding="utf-8")
    out = run_cli("prepare", "corpus", "--out", "data", "--vocab-size", "400", cwd=root)
    assert out.returncode == 0, out.stderr
    out = run_cli("pretrain", "--data", "data", "--max-steps", "20", "--out", "runs/gpt",
                  *TINY, cwd=root)
    assert out.returncode == 0, out.stderr
    return root


def _finetune(workdir: Path, *extra: str):
    return run_cli("finetune", "--task", "classify", "--train", str(sample_sentiment_path()),
                   "--from", "runs/gpt", "--max-steps", "20", *FT, *extra, cwd=workdir)


def test_lora_finetune_classify_and_export_peft(workdir):
    out = _finetune(workdir, "--lora", "--lora-r", "4", "--lora-alpha", "8",
                    "--lora-target", "c_attn,c_fc", "--out", "runs/lora")
    assert out.returncode == 0, out.stderr
    cfg = json.loads((workdir / "runs/lora/config.json").read_text())
    assert cfg["run"]["lora"]["r"] == 4 and cfg["run"]["lora"]["target_modules"] == [
        "c_attn", "c_fc"]
    assert cfg["data"]["base_weights_sha256"]
    out = run_cli("classify", "--run", "runs/lora", "What a lovely day!", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\t")[0] in ("negative", "neutral", "positive")
    out = run_cli("export", "--run", "runs/lora", "--format", "peft", "--out", "adapter",
                  cwd=workdir)
    assert out.returncode == 0, out.stderr
    config = json.loads((workdir / "adapter/adapter_config.json").read_text())
    assert config["r"] == 4 and config["peft_type"] == "LORA"
    assert sorted({t.rsplit(".", 1)[-1] for t in config["target_modules"]}) == ["c_attn",
                                                                                 "c_fc"]


def test_qlora_without_cuda_is_one_line_and_exit_2(workdir):
    out = _finetune(workdir, "--qlora", "--device", "cpu", "--out", "runs/q")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA" in lines[0] and "--qlora" in lines[0]
    assert not (workdir / "runs/q").exists()


def test_an_unknown_lora_target_names_the_flag(workdir):
    out = _finetune(workdir, "--lora", "--lora-target", "q_proj", "--out", "runs/bad")
    assert out.returncode == 2
    assert "--lora-target" in out.stderr and "c_attn" in out.stderr
    assert "Traceback" not in out.stderr
