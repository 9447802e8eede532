"""Fine-tuning on tiny real models: tasks, offsets, data reports, resume, freezing, weights."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data import labeled
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec, train_tokenizer
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.inference.evaluate import evaluate_examples
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.inference.predict import answer, classify
from lmstudio_app.core.models import build_model
from lmstudio_app.core.models.heads import END_TOKEN_MIN_ROWS, build_task_model
from lmstudio_app.core.objectives.classify import ClassifyObjective
from lmstudio_app.core.objectives.encoding import best_span, char_spans, qa_windows, render_prompt
from lmstudio_app.core.objectives.finetune_setup import (
    build_finetune_setup,
    load_task_data,
    make_finetune_config,
    scratch_twin,
)
from lmstudio_app.core.training.control import RunControl
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import austen_text

BASE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
        "eval_interval": 100, "eval_batches": 2, "log_interval": 10, "sample_prompt": "",
        "max_steps": 100}
FT = {"log_interval": 5, "batch_size": 16, "learning_rate": 2e-3}


def _pretrain(data: Path, objective: str, out: Path) -> Path:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    cfg = build_run_config(objective, "tiny", vocab, BASE, data_dir=str(data))
    result = Trainer(cfg, out, RecordingSink()).run()
    assert result.reason == "completed"
    return out


@pytest.fixture(scope="module")
def gpt_run(prepared_data, tmp_path_factory) -> Path:
    return _pretrain(prepared_data, "clm", tmp_path_factory.mktemp("base") / "gpt")


@pytest.fixture(scope="module")
def bert_run(prepared_data, tmp_path_factory) -> Path:
    return _pretrain(prepared_data, "mlm", tmp_path_factory.mktemp("base") / "bert")


@pytest.fixture(scope="module")
def tok(prepared_data) -> Tokenizer:
    return Tokenizer.load(prepared_data / "tokenizer.model")


def _finetune(run_dir: Path, steps: int, control: RunControl | None = None,
              sink: RecordingSink | None = None, **ft_fields) -> tuple[RecordingSink, Path]:
    over = {**FT, "max_steps": steps, "eval_interval": max(steps // 2, 1),
            **ft_fields.pop("train", {})}
    cfg = make_finetune_config(FinetuneConfig(**ft_fields), overrides=over)
    sink = sink or RecordingSink()
    result = Trainer(cfg, run_dir, sink, control).run()
    assert result.reason in ("completed", "stopped"), sink.failure
    return sink, run_dir


# ---------------------------------------------------------------------------------------------
# Offsets


ODD = ("Zoë Müller met the naïve café owner 🎉 at noon.\n  Next   line: Ünal  said «déjà vu» "
       "to 北京 friends.")


def test_char_spans_cover_the_text_with_non_ascii(tok):
    ids, spans = char_spans(tok, ODD)
    assert len(ids) == len(spans) and spans[0][0] == 0 and spans[-1][1] == len(ODD)
    # Consecutive, except that the byte pieces of one character share its span.
    for (a0, a1), (b0, b1) in zip(spans, spans[1:], strict=False):
        assert b0 == a1 or (b0, b1) == (a0, a1)
    assert any(tok.id_to_piece(i).startswith("<0x") for i in ids)  # emoji, CJK: byte pieces


@pytest.mark.parametrize("word", ["Zoë Müller", "naïve café", "🎉", "Ünal", "déjà vu", "北京",
                                  "Next"])
def test_answer_offsets_round_trip(tok, word):
    start = ODD.index(word)
    for max_length in (128, 32):  # one window, and several overlapping ones
        windows = qa_windows(tok, "who?", ODD, max_length, stride=16,
                             answer=(start, start + len(word)))
        assert (len(windows) == 1) == (max_length == 128)
        hits = [w for w in windows if w.start]
        assert hits, word
        # Logits that point at the labelled tokens give back exactly the answer's characters.
        starts, ends = [], []
        for w in windows:
            s, e = torch.full((len(w.ids),), -9.0), torch.full((len(w.ids),), -9.0)
            if w is hits[0]:
                s[w.start], e[w.end] = 9.0, 9.0
            starts.append(s)
            ends.append(e)
        got = best_span(windows, starts, ends, ODD)
        assert (got["answer"], got["start"], got["end"]) == (word, start, start + len(word))


def test_bundled_qa_answers_map_to_tokens_and_back(tok):
    examples, _ = labeled.load_qa(labeled.sample_qa_path())
    exact = 0
    for e in examples:
        ws = qa_windows(tok, e.question, e.context, 512, 16,
                        (e.answer_start, e.answer_start + len(e.answer)))
        w = next(w for w in ws if w.start)
        s = w.spans[w.start - w.ctx_start][0]
        t = w.spans[w.end - w.ctx_start][1]
        text = e.context[s:t].strip()
        exact += text == e.answer
        assert e.answer in text  # the labelled tokens always cover the answer
    assert exact / len(examples) > 0.9


def test_default_template_with_and_without_context():
    t = FinetuneConfig().template
    with_context = render_prompt(t, "Who?", "Ann is here.")
    assert with_context == "Context: Ann is here.\nQuestion: Who?\nAnswer:"
    assert render_prompt(t, "Who?", None) == "Question: Who?\nAnswer:"


# ---------------------------------------------------------------------------------------------
# Tasks


@pytest.mark.parametrize("base", ["gpt", "bert"])
def test_classify_learns_above_chance(gpt_run, bert_run, tmp_path, base):
    src = labeled.sample_sentiment_path()
    # 200 steps: after 100, test accuracy still swings from 0.35 to 0.50 with the pretraining
    # seed; after 200 it is 0.52-0.63 (three seeds).
    sink, run = _finetune(tmp_path / "cls", 200, task="classify", train_file=str(src),
                          base_run=str(gpt_run if base == "gpt" else bert_run))
    assert sink.evals and {"accuracy", "macro_f1"} <= set(sink.evals[-1].extra)
    report = json.loads((run / "results.json").read_text())
    assert report["n"] == 60 and len(report["confusion"]) == 3 and "loss" in report
    assert report["accuracy"] > 0.45, report  # chance is 1/3 on the balanced test split
    cfg = runs.read_config(run)
    assert cfg.finetune.labels == ["negative", "neutral", "positive"]
    loaded = load_run(run)  # body + head rebuilt from config.json
    out = classify(loaded, ["I love this, a wonderful happy day!", "x"])
    assert out[0]["label"] in cfg.finetune.labels
    assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    split = load_task_data(cfg.finetune)[0]
    again = evaluate_examples(loaded, split.test)
    assert again["accuracy"] == pytest.approx(report["accuracy"])
    # What the head reads is written out: on 480 training rows a GPT reads its text's last
    # token, a BERT [CLS].
    assert cfg.finetune.pooling == ("last" if base == "gpt" else "cls")


def test_auto_pooling_follows_the_training_rows(gpt_run, tmp_path):
    """From END_TOKEN_MIN_ROWS training rows a GPT classifier reads an end token appended to
    each text; the choice is written into the run's config."""
    with labeled.sample_sentiment_path().open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for k in range(3):  # 1,800 distinct rows: 1,440 train after the 10% val and test
            out.writerows([f"{text} ({k})", label] for text, label in rows)
    for path, expected in ((big, "eos"), (labeled.sample_sentiment_path(), "last")):
        ft = FinetuneConfig(task="classify", train_file=str(path), base_run=str(gpt_run))
        cfg = make_finetune_config(ft, overrides={"max_steps": 2})
        assert cfg.finetune.pooling == "auto"  # resolved when the run starts, from its rows
        setup = build_finetune_setup(cfg, tmp_path / expected, False, 0, ClassifyObjective)
        assert cfg.finetune.pooling == expected
        ends = {row[0][-1] for row in setup.objective.rows}
        assert (ends == {setup.tokenizer.eos_id}) == (expected == "eos")
    assert len(setup.objective.rows) < END_TOKEN_MIN_ROWS <= 1440


def test_an_end_token_run_reads_it_and_an_old_auto_run_does_not(gpt_run, tmp_path):
    sink, run = _finetune(tmp_path / "eos", 20, task="classify", pooling="eos",
                          train_file=str(labeled.sample_sentiment_path()),
                          base_run=str(gpt_run))
    _reads_its_end_token(run, load_run(run))


def _reads_its_end_token(run: Path, loaded) -> None:
    """A GPT classifier's inputs end with eos, and the probabilities `classify` gives are the
    head's on that position; a run whose config.json still says "auto" (made before the end
    token) is fed its text alone, as it was trained."""
    text = "She was delighted with the ball."
    tok = loaded.tokenizer
    ids = tok.encode(text)

    def probs(row: list[int]) -> list[float]:
        with torch.no_grad():
            logits = loaded.model(torch.tensor([row]), torch.ones(1, len(row), dtype=torch.long))
        return torch.softmax(logits[0], -1).tolist()

    labels = loaded.config.finetune.labels
    got = list(classify(loaded, [text])[0]["probabilities"].values())
    assert got == pytest.approx(probs([*ids, tok.eos_id]), abs=1e-6)
    assert got != pytest.approx(probs(ids), abs=1e-6)
    data = json.loads((run / runs.CONFIG).read_text())
    data["run"]["finetune"]["pooling"] = "auto"
    (run / runs.CONFIG).write_text(json.dumps(data))
    legacy = load_run(run)
    out = classify(legacy, [text])[0]["probabilities"]
    assert [out[name] for name in labels] == pytest.approx(probs(ids), abs=1e-6)


def _qa_subset(tmp_path: Path, n: int) -> Path:
    rows = labeled.sample_qa_path().read_text(encoding="utf-8").splitlines()[:n]
    path = tmp_path / f"qa{n}.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("base", ["bert", "gpt"])
def test_qa_extractive_beats_an_untrained_head(bert_run, gpt_run, tmp_path, base):
    # Scored on the questions it trained on: a tiny body pretrained for seconds does not
    # generalise, but its spans must move from chance to the labelled answers. A GPT body reads
    # the question first, so every context token has seen it.
    base_run = bert_run if base == "bert" else gpt_run
    small = _qa_subset(tmp_path, 32)
    sink, run = _finetune(tmp_path / "qa", 120, task="qa-extractive", train_file=str(small),
                          val_file=str(small), test_file=str(small), base_run=str(base_run),
                          train={"learning_rate": 3e-3, "eval_interval": 120})
    assert {"exact_match", "f1"} <= set(sink.evals[-1].extra)
    report = json.loads((run / "results.json").read_text())
    loaded = load_run(run)
    torch.manual_seed(0)
    body = build_model(loaded.config.model)
    body.load_state_dict(load_file(base_run / "best.safetensors"), strict=False)
    loaded.model = build_task_model(loaded.config, body).eval()  # pretrained body, new head
    untrained = evaluate_examples(loaded, labeled.load_qa(small)[0])
    assert report["f1"] > untrained["f1"] + 0.1, (report, untrained)
    context = "The Bennets live at Longbourn, near Meryton."
    got = answer(load_run(run), "Who lives at Longbourn?", context)
    assert context[got["start"]:got["end"]] == got["answer"] and 0 <= got["score"] <= 1


def test_qa_generative_learns_its_answers(gpt_run, tmp_path):
    # A tiny GPT cannot answer unseen questions; it must at least learn the answers it saw.
    small = _qa_subset(tmp_path, 8)
    _, run = _finetune(tmp_path / "gen", 150, task="qa-generative", train_file=str(small),
                       val_file=str(small), test_file=str(small), base_run=str(gpt_run),
                       train={"learning_rate": 3e-3, "batch_size": 8})
    report = json.loads((run / "results.json").read_text())
    loaded = load_run(run)
    torch.manual_seed(0)
    loaded.model = build_model(loaded.config.model).eval()  # same shape, untrained
    examples, _ = labeled.load_qa(small)
    untrained = evaluate_examples(loaded, examples)
    assert report["f1"] > untrained["f1"] + 0.1, (report, untrained)
    out = answer(load_run(run), "Who is the second of the five Bennet daughters?")
    assert isinstance(out["answer"], str) and 0 <= out["score"] <= 1


# ---------------------------------------------------------------------------------------------
# Data, tokenizers, resume, options


def test_malformed_rows_are_reported_and_the_rest_used(gpt_run, tmp_path):
    good = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()
    lines = good[:40] + ["too,many,fields", "no label here,"] + good[40:80]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, run = _finetune(tmp_path / "run", 4, task="classify", train_file=str(path),
                       base_run=str(gpt_run))
    report = json.loads((run / "data_report.json").read_text())
    skipped = report["files"]["train"]["skipped"]
    assert [(s["line"], s["reason"]) for s in skipped] == [
        (41, "3 fields but the header has 2"), (42, "empty label")]
    assert "skipped" in report["summary"] and "line 41" in report["summary"]
    assert sum(report["splits"].values()) == report["files"]["train"]["rows_used"] == 79
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["skipped_rows"] == len(skipped)


def test_tokenizer_mismatch_is_refused(gpt_run, bert_run, prepared_data, tmp_path):
    other = train_tokenizer(iter([austen_text(40_000)]), TokenizerSpec("unigram", 340),
                            tmp_path / "other" / "tokenizer.model")
    src = str(labeled.sample_sentiment_path())
    # A scratch model shaped for one tokenizer, given another.
    ft = FinetuneConfig(task="classify", train_file=src, scratch=True,
                        tokenizer_from=str(prepared_data))
    cfg = make_finetune_config(ft, overrides={"max_steps": 2})
    cfg.finetune.tokenizer_from = str(tmp_path / "other")
    sink = RecordingSink()
    assert Trainer(cfg, tmp_path / "a", sink).run().reason == "failed"
    assert "340 pieces" in sink.failure and "vocabulary is 400" in sink.failure
    # A base run whose tokenizer.model was swapped.
    swapped = tmp_path / "swapped"
    shutil.copytree(gpt_run, swapped)
    (swapped / "tokenizer.model").write_bytes(other.model_bytes)
    ft = FinetuneConfig(task="classify", train_file=src, base_run=str(swapped))
    sink = RecordingSink()
    assert Trainer(make_finetune_config(ft, overrides={"max_steps": 2}), tmp_path / "b",
                   sink).run().reason == "failed"
    assert "differs from the tokenizer" in sink.failure
    # A task the architecture cannot do.
    with pytest.raises(UserError, match="needs a GPT or Llama run"):
        make_finetune_config(FinetuneConfig(task="qa-generative", train_file=src,
                                            base_run=str(bert_run)))


def test_resume_of_a_finetune_continues_the_same_curve(gpt_run, tmp_path, stop_at):
    src = str(labeled.sample_sentiment_path())
    whole, _ = _finetune(tmp_path / "whole", 20, task="classify", train_file=src,
                         base_run=str(gpt_run), train={"log_interval": 1, "dropout": 0.1})
    control = RunControl()
    first, run = _finetune(tmp_path / "split", 20, control, stop_at(control, 8),
                           task="classify", train_file=src, base_run=str(gpt_run),
                           train={"log_interval": 1, "dropout": 0.1})
    second = RecordingSink()
    result = Trainer(runs.read_config(run), run, second, resume=True).run()
    assert (result.reason, result.step) == ("completed", 20)
    expected = {m.step: m.loss for m in whole.steps}
    for m in first.steps + second.steps:
        assert m.loss == pytest.approx(expected[m.step], abs=1e-5), m.step


def test_freeze_options_keep_weights_and_body_lr_scale(bert_run, tmp_path):
    _, run = _finetune(tmp_path / "frozen", 10, task="classify",
                       train_file=str(labeled.sample_sentiment_path()), base_run=str(bert_run),
                       freeze_embeddings=True, freeze_layers=1, body_lr_scale=0.5)
    before = load_file(bert_run / "best.safetensors")
    after = load_file(run / "model.safetensors")
    frozen = [k for k in before if k.startswith(("embeddings.", "encoder.layer.0."))]
    moving = [k for k in before if k.startswith("encoder.layer.1.")]
    assert frozen and moving
    assert all(torch.equal(before[k], after["body." + k]) for k in frozen)
    assert any(not torch.equal(before[k], after["body." + k]) for k in moving)
    cfg = runs.read_config(run)
    setup = build_finetune_setup(cfg, tmp_path / "again", resume=False, seed=0,
                                 objective_cls=ClassifyObjective)
    assert setup.lr_scale("body.encoder.layer.1.output.dense.weight") == 0.5
    assert setup.lr_scale("head.weight") == 1.0


def test_class_weights_change_the_loss(gpt_run, tok, tmp_path):
    good = labeled.sample_sentiment_path().read_text(encoding="utf-8").splitlines()
    header, rows = good[0], good[1:]
    pos = [r for r in rows if r.endswith(",positive")]
    rest = [r for r in rows if not r.endswith(",positive")][:40]
    path = tmp_path / "skewed.csv"
    path.write_text("\n".join([header, *pos, *rest]) + "\n", encoding="utf-8")
    losses = []
    for weighted in (False, True):
        ft = FinetuneConfig(task="classify", train_file=str(path), base_run=str(gpt_run),
                            class_weights=weighted)
        cfg = make_finetune_config(ft, overrides={"max_steps": 2})
        split = load_task_data(ft)[0]
        ft.labels = labeled.label_names(split.train)
        objective = ClassifyObjective(cfg, tok, split, seed=0)
        torch.manual_seed(0)
        model = build_task_model(cfg)
        with torch.no_grad():
            losses.append(float(objective.loss(model, objective.eval_batches()[0])))
        if weighted:
            w = objective.weight
            counts = [sum(e.label == name for e in split.train) for name in ft.labels]
            assert w.tolist() == pytest.approx([len(split.train) / (3 * c) for c in counts])
            assert w[2] < 1 < w[0]  # the frequent class counts less
    assert losses[0] != pytest.approx(losses[1], abs=1e-4)


def test_scratch_twin_keeps_shape_tokenizer_seed_and_budget(gpt_run):
    ft = FinetuneConfig(task="classify", train_file=str(labeled.sample_sentiment_path()),
                        base_run=str(gpt_run))
    cfg = make_finetune_config(ft, overrides={"max_steps": 7})
    twin = scratch_twin(cfg)
    assert twin.model == cfg.model and twin.train == cfg.train
    assert twin.finetune.scratch and twin.finetune.tokenizer_from == str(gpt_run)
    assert not twin.finetune.base_run and cfg.finetune.base_run  # the original is untouched


def test_the_default_budget_runs_to_its_end_keeping_snapshots(gpt_run, tmp_path):
    """Nothing set but the files: the budget is derived when the run starts (max_steps unset
    in config.json) and every part of the loop that needs it uses the derived one."""
    ft = FinetuneConfig(task="classify", train_file=str(labeled.sample_sentiment_path()),
                        base_run=str(gpt_run))
    cfg = make_finetune_config(ft, overrides={"device": "cpu"})
    assert cfg.train.max_steps is None and cfg.train.eval_interval is None
    sink = RecordingSink()
    result = Trainer(cfg, tmp_path / "ft", sink).run()
    assert result.reason == "completed", sink.failure
    status = json.loads((tmp_path / "ft" / runs.STATUS).read_text())
    assert result.step == status["max_steps"] >= 300
    kept = [s.step for s in runs.list_snapshots(tmp_path / "ft")]
    assert kept and kept[-1] == result.step
    assert len(sink.evals) >= 6 and sink.info["max_steps"] == result.step  # every half epoch
