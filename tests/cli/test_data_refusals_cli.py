"""Fine-tuning data that cannot be right ends the command before anything trains: exit status
2, one line naming the file, the column or setting and the fix, and no run folder left behind.
A fine-tuning file's fields choose the task when --task is left out. A resume with nothing left
to train says so and exits 2, leaving the run as it was."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import sample_qa_path, sample_sentiment_path
from tests.conftest import austen_text, run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32", "--set",
        "block_size=64", "--set", "batch_size=8", "--set", "eval_batches=2", "--set",
        "log_interval=2", "--set", "sample_prompt="]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A prepared corpus (its tokenizer for runs from scratch), a pretrained run of two steps
    and the files refused."""
    root = tmp_path_factory.mktemp("refusals")
    (root / "corpus").mkdir()
    (root / "corpus" / "austen.txt").write_text(austen_text(100_000), encoding="utf-8")
    out = run_cli("prepare", "corpus", "--out", "data", "--vocab-size", "400", cwd=root)
    assert out.returncode == 0, out.stderr
    out = run_cli("pretrain", "--data", "data", "--max-steps", "2", "--out", "runs/gpt", *TINY,
                  cwd=root)
    assert out.returncode == 0, out.stderr
    with sample_sentiment_path().open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with (root / "swapped.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label"], *([r["label"], r["text"]]
                                                      for r in rows[:100])])
    with (root / "twice.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label", "label"],
                                 *([r["text"], r["label"], "x"] for r in rows[:50])])
    with (root / "tiny.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label"], *([r["text"], r["label"]] for r in rows[:4])])
    with (root / "val.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label"], *([r["text"], r["label"]] for r in rows[:9]),
                                 ["what a joke", "sarcastic"]])
    return root


SCRATCH = ["--scratch", "--tokenizer-from", "data", "--max-steps", "2", *TINY]


@pytest.mark.parametrize("command, args, expected", [
    ("finetune", ["--task", "classify", "--train", "swapped.csv"],
     "swapped.csv: the label column 'label' looks like free text (100 classes in 100 rows"),
    ("finetune", ["--task", "classify", "--train", str(sample_qa_path())],
     "make a question-answering set, not a classification set; fine-tune it with task "
     "qa-extractive. (use --task qa-extractive)"),
    ("finetune", ["--task", "classify", "--train", "twice.csv"],
     "twice.csv, line 1: the header names column 'label' twice (columns 2 and 3)"),
    ("finetune", ["--task", "classify", "--train", "tiny.csv"],
     "tiny.csv: 4 usable rows are too few to split (training 3, validation 1, test 0"),
    ("compare-init", ["--task", "classify", "--train", "tiny.csv", "--from", "runs/gpt"],
     "tiny.csv: 4 usable rows are too few to split"),
    ("finetune", ["--task", "classify", "--train", str(sample_sentiment_path()),
                  "--val", "val.csv"],
     "val.csv: 1 of 10 validation rows have labels the training data never has "
     "('sarcastic' 1)"),
    ("finetune", ["--task", "classify", "--train", str(sample_sentiment_path()),
                  "--test-fraction", "0"],
     "no test rows: the test fraction is 0 and no test file is given"),
])
def test_data_that_cannot_be_right_is_refused_before_training(workdir, command, args,
                                                              expected):
    start = [] if "--from" in args else SCRATCH  # compare-init starts from a pretrained run
    out = run_cli(command, *args, *start, "--out", "runs/refused", cwd=workdir)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1], out.stderr
    assert "Traceback" not in out.stderr and "accuracy" not in out.stdout
    assert not (workdir / "runs" / "refused").exists()  # nothing trained, nothing half-written


def test_the_files_fields_choose_the_task_when_none_is_named(workdir):
    out = run_cli("finetune", "--train", str(sample_qa_path()), *SCRATCH, "--arch", "bert",
                  "--out", "runs/qa", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "task: qa-extractive (qa.jsonl has the fields question, context, answer" in out.stderr
    cfg = json.loads((workdir / "runs/qa/config.json").read_text())["run"]
    assert cfg["finetune"]["task"] == cfg["objective"] == "qa-extractive"

    # Nothing to train on a resume below the step reached: said, exit 2, the run unchanged.
    status = (workdir / "runs/qa/status.json").read_text()
    metrics = (workdir / "runs/qa/metrics.jsonl").read_text()
    out = run_cli("finetune", "--resume", "runs/qa", "--max-steps", "1", cwd=workdir)
    assert out.returncode == 2, out.stdout + out.stderr
    assert ("the run is already at step 2 and max_steps is 1, so nothing would be trained; "
            "to train more, set max_steps above 2. (option --max-steps)") in out.stderr
    assert (workdir / "runs/qa/status.json").read_text() == status
    assert (workdir / "runs/qa/metrics.jsonl").read_text() == metrics


def test_a_loss_that_turns_non_finite_ends_with_exit_2_and_advice(workdir):
    out = run_cli("finetune", "--task", "classify", "--train", str(sample_sentiment_path()),
                  "--from", "runs/gpt", "--max-steps", "20", "--set", "learning_rate=1e6",
                  "--out", "runs/nan", cwd=workdir)
    assert out.returncode == 2, out.stdout + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the loss became nan at step") and "learning_rate" in last
    assert "test (" not in out.stdout  # no score of a run that learned nothing
    assert json.loads((workdir / "runs/nan/status.json").read_text())["state"] == "failed"
