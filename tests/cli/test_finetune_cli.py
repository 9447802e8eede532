"""Fine-tuning from the command line, end to end through real subprocesses on tiny runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstudio_app.core.data.labeled import sample_qa_path, sample_sentiment_path
from tests.conftest import austen_text, run_cli

TINY = ["--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=32",
        "--set", "block_size=64", "--set", "batch_size=8", "--set", "eval_interval=40",
        "--set", "eval_batches=2", "--set", "log_interval=10", "--set", "sample_prompt="]
FT = ["--set", "eval_interval=20", "--set", "log_interval=10", "--set", "learning_rate=2e-3"]


cli = run_cli


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Prepared Austen text and a tiny pretrained GPT (runs/gpt) and BERT (runs/bert)."""
    root = tmp_path_factory.mktemp("ftcli")
    (root / "corpus").mkdir()
    (root / "corpus" / "austen.txt").write_text(austen_text(100_000), encoding="utf-8")
    out = cli("prepare", "corpus", "--out", "data", "--vocab-size", "400", cwd=root)
    assert out.returncode == 0, out.stderr
    for objective, name in (("clm", "gpt"), ("mlm", "bert")):
        out = cli("pretrain", "--data", "data", "--objective", objective, "--max-steps", "40",
                  "--out", f"runs/{name}", *TINY, cwd=root)
        assert out.returncode == 0, out.stderr
    return root


def test_finetune_classify_then_classify_and_eval(workdir):
    sentiment = str(sample_sentiment_path())
    out = cli("finetune", "--task", "classify", "--train", sentiment, "--from", "runs/gpt",
              "--max-steps", "40", "--out", "runs/cls", "--json", *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "data" and events[0]["splits"] == {"train": 480, "val": 60,
                                                                     "test": 60}
    evals = [e for e in events if e["event"] == "eval"]
    assert evals and {"accuracy", "macro_f1"} <= set(evals[-1])
    results = events[-1]
    assert results["event"] == "results" and results["task"] == "classify"
    assert results["n"] == 60 and 0 <= results["accuracy"] <= 1 and "confusion" in results
    base = results["baselines"]  # on the same 60 test rows
    assert base["majority"]["accuracy"] <= 0.5 and base["tfidf_logreg"]["accuracy"] > 0.5

    out = cli("classify", "--run", "runs/cls", "What a lovely, happy day!", "It broke.",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in ("negative", "neutral", "positive")
    out = cli("classify", "--run", "runs/cls", "--json", "Fine.", cwd=workdir)
    row = json.loads(out.stdout)
    assert set(row["probabilities"]) == {"negative", "neutral", "positive"}
    assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    out = cli("eval", "--run", "runs/cls", "--data", sentiment, cwd=workdir)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 600 and report["data"]["rows_used"] == 600 and "macro_f1" in report
    assert set(report["baselines"]) == {"majority", "tfidf_logreg"}

    # Plain output prints the test figures at the end.
    out = cli("finetune", "--task", "classify", "--train", sentiment, "--from", "runs/bert",
              "--max-steps", "10", "--out", "runs/cls-bert", "--freeze-layers", "1",
              "--class-weights", *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "test (60 examples): accuracy" in out.stdout and "600 of 600 rows used" in out.stderr
    assert "baseline, majority class: accuracy 0." in out.stdout
    assert "baseline, TF-IDF + logistic regression: accuracy 0." in out.stdout


def test_finetune_stops_early_and_says_why(workdir):
    # A rate too small to change a prediction: no evaluation after the first is better.
    out = cli("finetune", "--task", "classify", "--train", str(sample_sentiment_path()),
              "--from", "runs/gpt", "--max-steps", "40", "--early-stopping-patience", "1",
              "--set", "eval_interval=2", "--set", "learning_rate=1e-9", "--out", "runs/es",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "early stopping: no improvement in 1 evaluation" in out.stderr + out.stdout
    assert "completed at step 4;" in out.stdout
    status = json.loads((workdir / "runs/es/status.json").read_text())
    assert status["stop_reason"].startswith("early stopping")


def test_finetune_qa_then_answer(workdir):
    qa = str(sample_qa_path())
    out = cli("finetune", "--task", "qa-extractive", "--train", qa, "--from", "runs/bert",
              "--max-steps", "20", "--out", "runs/qa", *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "exact_match" in out.stdout
    context = "Elizabeth Bennet lives at Longbourn, near Meryton."
    out = cli("answer", "--run", "runs/qa", "--question", "Who lives at Longbourn?",
              "--context", context, "--json", cwd=workdir)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert context[got["start"]:got["end"]] == got["answer"] != ""
    out = cli("answer", "--run", "runs/qa", "--question", "Who?", cwd=workdir)
    assert out.returncode == 2 and "--context" in out.stderr

    out = cli("finetune", "--task", "qa-generative", "--train", qa, "--from", "runs/gpt",
              "--max-steps", "10", "--out", "runs/gen", *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    out = cli("answer", "--run", "runs/gen", "--question", "Who is Mr Darcy?", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "score" in out.stderr


def test_compare_init_prints_both(workdir):
    out = cli("compare-init", "--task", "classify", "--train", str(sample_sentiment_path()),
              "--from", "runs/gpt", "--max-steps", "10", "--out", "runs/cmp", "--json",
              "--seeds", "1", *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    both = json.loads(out.stdout)
    assert both["pretrained"]["reason"] == both["scratch"]["reason"] == "completed"
    assert both["pretrained"]["step"] == both["scratch"]["step"] == 10
    assert "accuracy" in both["pretrained"]["report"] and "accuracy" in both["scratch"]["report"]
    assert set(both["difference"]) >= {"accuracy", "macro_f1"}
    scratch_cfg = json.loads((workdir / "runs/cmp/scratch/config.json").read_text())["run"]
    pre_cfg = json.loads((workdir / "runs/cmp/pretrained/config.json").read_text())["run"]
    assert scratch_cfg["model"] == pre_cfg["model"] and scratch_cfg["train"] == pre_cfg["train"]
    assert scratch_cfg["finetune"]["scratch"] and not pre_cfg["finetune"]["scratch"]

    assert both["seeds"] == [1337] and both["baselines"]["majority"]["accuracy"] < 0.5
    assert both["summary"]["accuracy"]["difference_sd"] == 0.0

    # Under 10,000 training rows the default is three seeds; --seeds 2 here, to be quick.
    out = cli("compare-init", "--task", "classify", "--train", str(sample_sentiment_path()),
              "--from", "runs/gpt", "--max-steps", "4", "--out", "runs/cmp2", "--seeds", "2",
              *FT, cwd=workdir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["pretrained", "scratch", "difference"]
    assert "mean ± sd over 2 seeds" in lines[0]
    assert lines[1].startswith("accuracy") and lines[1].count("±") == 3
    assert "baseline, TF-IDF + logistic regression: accuracy" in out.stdout
    assert "over 2 seeds" in lines[-1]
    for seed in (1337, 1338):
        cfg = json.loads((workdir / f"runs/cmp2/seed-{seed}/scratch/config.json").read_text())
        assert cfg["run"]["train"]["seed"] == seed


@pytest.mark.parametrize("args, message", [
    (["finetune", "--task", "classify", "--train", "x.csv"], "choose where to start"),
    (["finetune", "--task", "qa-generative", "--train", "QA", "--from", "runs/bert"],
     "needs a GPT or Llama run"),
    (["finetune", "--task", "classify", "--train", "nope.csv", "--from", "runs/gpt",
      "--out", "runs/nope"], "nope.csv: no such file"),
    (["classify", "--run", "runs/gpt", "hello"], "needs a fine-tuned run"),
    (["compare-init", "--task", "classify", "--train", "x.csv", "--scratch",
      "--tokenizer-from", "data"], "pretrained run to compare. (option --from)"),
    (["finetune", "--task", "classify", "--train", "x.csv", "--scratch", "--tokenizer-from",
      "corpus"], "no tokenizer.model"),
])
def test_mistakes_exit_2_with_one_line(workdir, args, message):
    args = [str(sample_qa_path()) if a == "QA" else a for a in args]
    out = cli(*args, cwd=workdir)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


@pytest.mark.parametrize("command", ["finetune", "compare-init", "eval", "classify", "answer"])
def test_help(command, tmp_path):
    out = cli(command, "--help", cwd=tmp_path)
    assert out.returncode == 0 and "usage: lmstudio-app " + command in out.stdout


def test_compare_summary_says_how_many_seeds_it_averages(capsys):
    from lmstudio_app.cli.train import _print_summary

    m = {"pretrained": 0.68, "pretrained_sd": 0.01, "scratch": 0.63, "scratch_sd": 0.0,
         "difference": 0.05, "difference_sd": 0.01}
    _print_summary({"accuracy": m}, 2)  # two of three seeds finished
    first, row = capsys.readouterr().out.splitlines()
    assert "mean ± sd over 2 seeds" in first
    assert row.split() == ["accuracy", "0.6800", "±", "0.0100", "0.6300", "±", "0.0000",
                           "+0.0500", "±", "0.0100"]
    _print_summary({"accuracy": m}, 1)
    assert capsys.readouterr().out.splitlines()[1].split() == ["accuracy", "0.6800", "0.6300",
                                                               "+0.0500"]


def test_finetune_from_a_config_file_trains_the_same_run(workdir):
    """`finetune --config FILE` (how the window launches a fine-tune in several processes)
    trains exactly the run given by flags; a pretraining command refuses it."""
    sentiment = str(sample_sentiment_path())
    out = cli("finetune", "--task", "classify", "--train", sentiment, "--from", "runs/gpt",
              "--max-steps", "6", "--out", "runs/cfg-a", *FT, "--set", "log_interval=1",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    out = cli("finetune", "--config", "runs/cfg-a/config.json", "--out", "runs/cfg-b",
              cwd=workdir)
    assert out.returncode == 0, out.stderr

    def losses(run: str) -> list[float]:
        lines = (workdir / run / "metrics.jsonl").read_text().splitlines()
        return [r["loss"] for r in map(json.loads, lines) if r["kind"] == "step"]

    assert len(losses("runs/cfg-a")) == 6 and losses("runs/cfg-a") == losses("runs/cfg-b")
    refused = cli("pretrain", "--config", "runs/cfg-a/config.json", "--out", "runs/cfg-c",
                  cwd=workdir)
    assert refused.returncode == 2 and "fine-tuning run" in refused.stderr
    assert not (workdir / "runs/cfg-c").exists()
