"""Benchmarks through lm-evaluation-harness on a run's own model: the bundled multiple-choice
task gives, request for request, the log-likelihoods of lm_eval's own `hf` model on the run
exported as a Hugging Face folder; results are kept in the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.runs.benchmarks import headline, read_benchmarks, write_benchmark

lm_eval = pytest.importorskip("lm_eval", reason="pip install 'lmstudio-app[benchmark]'")
from lmstudio_app.core.inference.benchmark import (  # noqa: E402
    bundled_tasks_dir,
    load_tasks,
    run_benchmark,
)


@pytest.fixture(scope="module")
def gpt_run(prepared_data, tmp_path_factory) -> Path:
    """A short real pretraining: the tiny preset, a few steps."""
    from tests.interchange_fixtures import _pretrain

    return _pretrain(prepared_data, "clm", tmp_path_factory.mktemp("bench") / "gpt")


def _loglikelihoods(samples: list[dict]) -> dict[int, list[tuple[float, bool]]]:
    return {s["doc_id"]: [(float(ll), bool(g)) for ll, g in s["filtered_resps"]]
            for s in samples}


@pytest.fixture(scope="module")
def hf_folder(gpt_run, tmp_path_factory) -> Path:
    """The run exported with `export --format hf`."""
    pytest.importorskip("transformers")
    from lmstudio_app.core.interchange.hf_export import export_hf

    out = tmp_path_factory.mktemp("bench-hf") / "hf"
    export_hf(gpt_run, out)
    return out


def test_same_loglikelihoods_and_accuracy_as_lm_eval_hf_model(gpt_run, hf_folder):
    from lm_eval.models.huggingface import HFLM

    # Both in float64: the comparison is of the computation, not of float32 rounding (which
    # differs with the padding of a batch).
    loaded = load_run(gpt_run)
    loaded.model.double()
    ours = run_benchmark(loaded, ["sentiment_mc"], batch_size=5)
    manager, tasks = load_tasks(["sentiment_mc"])
    hf = HFLM(pretrained=str(hf_folder), device="cpu", batch_size=4, dtype="float64")
    theirs = lm_eval.simple_evaluate(model=hf, tasks=tasks,
        task_manager=manager, log_samples=True, bootstrap_iters=0)
    a = _loglikelihoods(ours["samples"]["sentiment_mc"])
    b = _loglikelihoods(theirs["samples"]["sentiment_mc"])
    assert sorted(a) == sorted(b) and len(a) == 60  # every document of the bundled task
    for doc, choices in a.items():
        assert len(choices) == 3
        for (x, greedy_x), (y, greedy_y) in zip(choices, b[doc], strict=True):
            assert x == pytest.approx(y, abs=1e-6) and greedy_x == greedy_y
    assert ours["tasks"]["sentiment_mc"]["acc"] == theirs["results"]["sentiment_mc"]["acc,none"]
    assert ours["tasks"]["sentiment_mc"]["n"] == 60


def test_rolling_loglikelihood_and_generation_as_lm_eval_hf_model(gpt_run, hf_folder,
                                                                   pride_text):
    """Perplexity tasks' rolling windows (a passage longer than the window, and one shorter)
    and greedy generation cut at `until`, request for request."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from lmstudio_app.core.inference.benchmark import make_lm

    loaded = load_run(gpt_run)
    loaded.model.double()
    ours = make_lm(loaded, 4)
    hf = HFLM(pretrained=str(hf_folder), device="cpu", batch_size=4, dtype="float64")
    rolling = [Instance("loglikelihood_rolling", {}, (text,), i)
               for i, text in enumerate([pride_text[5000:6500], "It is a truth universally"])]
    assert ours.loglikelihood_rolling(rolling) == pytest.approx(
        hf.loglikelihood_rolling(rolling), abs=1e-6)
    generate = [Instance("generate_until", {}, (ctx, {"until": until, "max_gen_toks": 12}), i)
                for i, (ctx, until) in enumerate([("It is a truth", ["."]),
                                                  ("She said", ["\n\n", "her"])])]
    assert ours.generate_until(generate) == hf.generate_until(generate)


def test_local_task_from_a_yaml_and_jsonl_beside_it(gpt_run, tmp_path):
    """A user's own task: a YAML whose data_files is relative to it, found with include."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    yaml = (bundled_tasks_dir() / "sentiment_mc.yaml").read_text("utf-8")
    (folder / "mine.yaml").write_text(yaml.replace("task: sentiment_mc", "task: mine")
                                      .replace("sentiment_mc.jsonl", "few.jsonl"), "utf-8")
    rows = (bundled_tasks_dir() / "sentiment_mc.jsonl").read_text("utf-8").splitlines()[:4]
    (folder / "few.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    result = run_benchmark(load_run(gpt_run), ["mine"], include=[folder])
    assert result["tasks"]["mine"]["n"] == 4
    picked = [max(range(3), key=lambda i, s=s: s["filtered_resps"][i][0])
              for s in result["samples"]["mine"]]
    golds = [json.loads(r)["gold"] for r in rows]
    accuracy = sum(p == g for p, g in zip(picked, golds, strict=True)) / 4
    assert result["tasks"]["mine"]["acc"] == pytest.approx(accuracy)


def test_refuses_an_unknown_task_and_a_bert(gpt_run, tiny_bert):
    with pytest.raises(UserError, match="no benchmark task named 'no_such_task'"):
        run_benchmark(load_run(gpt_run), ["no_such_task"], include=[bundled_tasks_dir()])
    with pytest.raises(UserError, match="causal language model"):
        run_benchmark(load_run(tiny_bert), ["sentiment_mc"])


@pytest.fixture(scope="module")
def tiny_bert(prepared_data, tmp_path_factory) -> Path:
    from tests.interchange_fixtures import _pretrain

    return _pretrain(prepared_data, "mlm", tmp_path_factory.mktemp("bench") / "bert")


def test_results_kept_in_the_run_folder(tmp_path):
    first = {"settings": {"limit": 5}, "tasks": {"a": {"acc": 0.5, "acc_stderr": 0.1}}}
    second = {"settings": {"limit": 9}, "tasks": {"b": {"acc_norm": 0.25, "acc": 0.75}}}
    p1 = write_benchmark(tmp_path, first, when=1_700_000_000)
    p2 = write_benchmark(tmp_path, second, when=1_700_000_000)  # same second: its own file
    assert p1 != p2 and json.loads(p2.read_text("utf-8")) == second
    summary = read_benchmarks(tmp_path)
    assert summary["a"]["metrics"] == first["tasks"]["a"] and summary["a"]["file"] == p1.name
    assert summary["b"]["settings"] == {"limit": 9}
    assert headline(summary["b"]["metrics"]) == ("acc", 0.75)
    assert headline({"acc_stderr": 0.1}) is None
