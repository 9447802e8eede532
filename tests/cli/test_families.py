"""The issue's families through the command line, as a user meets them: text that is not what
it claims (files and typed arguments), labels in several forms, splits found too small, resumes
from elsewhere, damaged run folders, and what `runs` shows."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmstudio_app.core import runs
from lmstudio_app.core.data.labeled import sample_sentiment_path
from tests.conftest import austen_text, run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set",
        "block_size=32", "--set", "batch_size=8", "--set", "eval_interval=10", "--set",
        "eval_batches=2", "--set", "log_interval=5", "--device", "cpu"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A prepared corpus (data/) and a tiny 20-step GPT (runs/gpt), made by the commands."""
    root = tmp_path_factory.mktemp("families")
    (root / "corpus.txt").write_text(austen_text(100_000), encoding="utf-8")
    out = run_cli("prepare", "corpus.txt", "--out", "data", "--vocab-size", "400", cwd=root)
    assert out.returncode == 0, out.stderr
    out = run_cli("pretrain", "--data", "data", "--max-steps", "20", "--out", "runs/gpt", *TINY,
                  cwd=root)
    assert out.returncode == 0, out.stderr
    return root


def _raw_cli(args: list[bytes], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The command with arguments as bytes, as a terminal that is not UTF-8 sends them."""
    return subprocess.run([sys.executable.encode(), b"-m", b"lmstudio_app", *args], cwd=cwd,
                          capture_output=True, timeout=300)


def _one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def test_typed_text_that_is_not_utf8_is_read_not_a_traceback(workdir):
    out = _raw_cli([b"generate", b"--run", b"runs/gpt", b"--prompt", b"caf\xe9 \xff",
                    b"--max-new-tokens", b"5", b"--seed", b"1"], workdir)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode("utf-8").startswith("caf\ufffd \ufffd")


def test_labels_and_surrogates_in_a_labeled_file(workdir, tmp_path):
    with open(sample_sentiment_path(), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    forms = {"positive": ["positive", "Positive", "POSITIVE ", "positive"]}
    lines = []
    for i, (text, label) in enumerate(rows):
        label = forms.get(label, [label])[i % len(forms.get(label, [label]))]
        text = text + (" \ud83d" if i % 50 == 0 else "")
        lines.append(json.dumps({"text": text, "label": label}))
    train = tmp_path / "mixed.jsonl"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = run_cli("finetune", "--task", "classify", "--train", str(train), "--from", "runs/gpt",
                  "--max-steps", "4", "--out", str(tmp_path / "cls"), "--set",
                  "eval_interval=4", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "labels differing only in case merged: 'POSITIVE', 'Positive' -> 'positive'" in \
        out.stderr
    assert "lone UTF-16 surrogates" in out.stderr and "3 classes:" in out.stderr
    cfg = runs.read_config(tmp_path / "cls")
    assert cfg.finetune.labels == ["negative", "neutral", "positive"]
    # Scored on a file that spells a class differently, the run's class is meant.
    other = tmp_path / "other.csv"
    other.write_text("text,label\nI loved it,Positive\nDreadful,NEGATIVE\n", encoding="utf-8")
    out = run_cli("eval", "--run", str(tmp_path / "cls"), "--data", str(other), cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "unknown_labels" not in json.loads(out.stdout)
    out = _raw_cli([b"classify", b"--run", str(tmp_path / "cls").encode(), b"bad \xff bytes"],
                   workdir)
    assert out.returncode == 0, out.stderr.decode()


def test_a_split_too_small_is_found_before_step_one_and_the_advice_trains(workdir, tmp_path):
    (tmp_path / "tiny.txt").write_text(austen_text(1_500), encoding="utf-8")
    out = run_cli("prepare", "tiny.txt", "--out", "tiny", "--tokenizer", "char",
                  "--vocab-size", "400", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "warning: the val split holds" in out.stderr
    args = ["pretrain", "--data", "tiny", "--max-steps", "4", "--out", "run", *TINY,
            "--set", "block_size=128"]
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    line = _one_error(out.stderr)
    assert "val split holds" in line and "--set block_size=" in line
    assert not (tmp_path / "run").exists()  # the new run's folder is not left behind
    fix = line.split("--set block_size=")[1].split(")")[0]
    out = run_cli(*args, "--set", f"block_size={fix}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_val_files_from_the_command_line(workdir, tmp_path):
    (tmp_path / "val.txt").write_text(austen_text(130_000)[100_000:], encoding="utf-8")
    out = run_cli("prepare", str(workdir / "corpus.txt"), "--out", "d", "--vocab-size", "400",
                  "--val-files", "val.txt", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "split: the validation files given" in out.stdout


def test_resume_from_another_folder_with_a_lower_rate(workdir, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(workdir / "runs/gpt", run)
    out = run_cli("pretrain", "--resume", str(run), "--max-steps", "30", "--set",
                  "learning_rate=1e-4", cwd=tmp_path)  # data/ is relative to workdir
    assert out.returncode == 0, out.stderr
    table = run_cli("runs", "--root", str(tmp_path), cwd=tmp_path)
    assert "30/30" in table.stdout and "completed" in table.stdout


@pytest.mark.parametrize("damage", [b"\x00\xff garbage", b"[1, 2]",
                                    b'{"run": {"model": {"n_embd": "wide"}}}'])
def test_a_damaged_config_is_one_line_for_generate_resume_and_runs(workdir, tmp_path, damage):
    run = tmp_path / "runs" / "broken"
    shutil.copytree(workdir / "runs/gpt", run)
    before = (run / runs.STATUS).read_bytes()
    (run / runs.CONFIG).write_bytes(damage)
    for args in (["generate", "--run", str(run), "--prompt", "x"],
                 ["pretrain", "--resume", str(run), "--max-steps", "30"]):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 2
        assert "config.json: damaged" in _one_error(out.stderr)
    assert (run / runs.STATUS).read_bytes() == before
    table = run_cli("runs", "--root", str(tmp_path / "runs"), cwd=tmp_path)
    assert table.returncode == 0 and "broken" in table.stdout and "damaged" in table.stdout
