"""The instruments from the terminal: probabilities of generated tokens, token losses, hard
tokens and attention weights, through a real subprocess on tiny real runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import run_cli

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
        "eval_interval": 10, "eval_batches": 2, "log_interval": 5, "max_steps": 10}


@pytest.fixture(scope="module")
def gpt_run(prepared_data, tmp_path_factory) -> Path:
    vocab = Tokenizer.load(prepared_data / "tokenizer.model").vocab_size
    out = tmp_path_factory.mktemp("instruments") / "gpt"
    cfg = build_run_config("clm", "tiny", vocab, TINY, data_dir=str(prepared_data))
    assert Trainer(cfg, out).run().reason == "completed"
    return out


def test_generate_show_probs_reports_each_token(gpt_run, tmp_path):
    out = run_cli("generate", "--run", str(gpt_run), "--prompt", "It is", "--max-new-tokens",
                  "6", "--seed", "1", "--top-k", "5", "--show-probs", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert 1 <= len(rows) <= 6
    for r in rows:
        assert 0 < r["probability"] <= 1 and 0 <= r["entropy_bits"] <= math.log2(5) + 1e-6
        assert len(r["top"]) <= 5 and r["piece"] in [t["piece"] for t in r["top"]]
    plain = run_cli("generate", "--run", str(gpt_run), "--prompt", "It is", "--max-new-tokens",
                    "6", "--seed", "1", "--top-k", "5", cwd=tmp_path)
    assert plain.stdout.rstrip("\n") == "It is" + "".join(r["text"] for r in rows)


def test_token_losses_hard_tokens_and_attention_files(gpt_run, tmp_path):
    out = run_cli("token-losses", "--run", str(gpt_run), "It is a truth universally "
                  "acknowledged", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    losses = [t["loss"] for t in found["tokens"] if t["loss"] is not None]
    assert found["mean_loss"] == pytest.approx(sum(losses) / len(losses))

    out = run_cli("hard-tokens", "--run", str(gpt_run), "--windows", "8", "--min-count", "2",
                  "--csv", "hard.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "hard.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and [float(r["mean_loss"]) for r in rows] == sorted(
        (float(r["mean_loss"]) for r in rows), reverse=True)

    out = run_cli("attention", "--run", str(gpt_run), "She was a handsome woman.", "--out",
                  "att.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    saved = json.loads((tmp_path / "att.json").read_text(encoding="utf-8"))
    assert saved["layers"] == 1 and saved["heads"] == 2
    row = saved["weights"][0][1][-1]
    assert len(row) == len(saved["tokens"]) and sum(row) == pytest.approx(1.0, abs=1e-5)

    bad = run_cli("attention", "--run", str(gpt_run), "hi", "--layer", "3", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--layer 0" in bad.stderr
