"""The command line end to end, in a temporary folder, through a real subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import austen_text, run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32",
        "--set", "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=15",
        "--set", "eval_batches=2", "--set", "log_interval=5"]


cli = run_cli


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with a corpus, prepared into data/ by the real command."""
    root = tmp_path_factory.mktemp("cli")
    (root / "corpus").mkdir()
    (root / "corpus" / "austen.txt").write_text(austen_text(120_000), encoding="utf-8")
    out = cli("prepare", "corpus", "--out", "data", "--vocab-size", "400", cwd=root)
    assert out.returncode == 0, out.stderr
    assert "vocabulary 400" in out.stdout
    return root


def test_prepare_pretrain_generate_fill_mask_runs(workdir):
    again = cli("prepare", "corpus", "--out", "data", "--vocab-size", "400", cwd=workdir)
    assert again.returncode == 0 and "reused" in again.stdout

    out = cli("pretrain", "--data", "data", "--objective", "clm", "--max-steps", "30",
              "--out", "runs/gpt", "--json", *TINY, cwd=workdir)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in steps] == [5, 10, 15, 20, 25, 30]
    assert {"loss", "lr", "tokens_per_s"} <= set(steps[0])
    assert [e["step"] for e in evals] == [15, 30] and "val_loss" in evals[0]
    assert events[-1] == {"event": "finished", "step": 30, "reason": "completed"}

    out = cli("generate", "--run", "runs/gpt", "--prompt", "It is a truth",
              "--max-new-tokens", "20", "--seed", "3", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("It is a truth") and len(out.stdout) > len("It is a truth") + 5
    same = cli("generate", "--run", "runs/gpt", "--prompt", "It is a truth",
               "--max-new-tokens", "20", "--seed", "3", cwd=workdir)
    assert same.stdout == out.stdout  # seeded

    out = cli("pretrain", "--data", "data", "--objective", "mlm", "--max-steps", "30",
              "--out", "runs/bert", *TINY, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "completed at step 30" in out.stdout

    out = cli("fill-mask", "--run", "runs/bert", "She was a [MASK] woman.", "--json",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    preds = json.loads(out.stdout)
    assert len(preds) == 5
    probs = [p["probability"] for p in preds]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001

    out = cli("runs", "--root", "runs", "--json", cwd=workdir)
    listed = {r["name"]: r for r in json.loads(out.stdout)}
    assert listed["gpt"]["objective"] == "clm" and listed["bert"]["objective"] == "mlm"
    assert listed["gpt"]["state"] == "completed" and listed["gpt"]["step"] == 30
    table = cli("runs", "--root", "runs", cwd=workdir)
    assert "gpt" in table.stdout and "completed" in table.stdout


def test_resume_extends_a_finished_run(workdir):
    out = cli("pretrain", "--data", "data", "--max-steps", "10", "--out", "runs/ext", *TINY,
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    out = cli("pretrain", "--resume", "runs/ext", "--max-steps", "20", "--json", cwd=workdir)
    assert out.returncode == 0, out.stderr
    steps = [json.loads(line)["step"] for line in out.stdout.splitlines()
             if json.loads(line)["event"] == "step"]
    assert steps[0] > 10 and steps[-1] == 20


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    return lines[0]


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Emma Woodhouse, handsome, clever\n and rich \xff\xfe with a comfortable home")
    msg = one_line_error(cli("prepare", str(bad), "--out", "d", cwd=tmp_path))
    assert "bad.txt" in msg and "byte" in msg

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("\n\n  \n")
    msg = one_line_error(cli("prepare", str(empty), "--out", "d", cwd=tmp_path))
    assert "empty" in msg.lower()

    table = tmp_path / "reviews.csv"
    table.write_text("id,review\n1,Lovely\n2,Dull\n")
    msg = one_line_error(cli("prepare", str(table), "--out", "d", cwd=tmp_path))
    assert "reviews.csv" in msg and "text" in msg and "review" in msg

    msg = one_line_error(cli("pretrain", "--data", "d", "--set", "n_layer=two", cwd=tmp_path))
    assert "n_layer" in msg
    msg = one_line_error(cli("pretrain", "--data", "nowhere", cwd=tmp_path))
    assert "nowhere" in msg
    msg = one_line_error(cli("generate", "--run", "nowhere", cwd=tmp_path))
    assert "nowhere" in msg


def test_bad_preset_field_names_it(workdir):
    msg = one_line_error(cli("pretrain", "--data", "data", "--set", "n_embd=30",
                             "--set", "n_head=4", cwd=workdir))
    assert "n_embd" in msg and "n_head" in msg


def test_no_arguments_and_help(tmp_path):
    for cmd in ("prepare", "pretrain", "generate", "fill-mask", "runs"):
        out = cli(cmd, "--help", cwd=tmp_path)
        assert out.returncode == 0 and "usage:" in out.stdout
