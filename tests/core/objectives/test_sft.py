"""Supervised fine-tuning on conversations: the label masking, packing, the ChatML tokens'
mean-initialised rows, and a short real run from a pretrained GPT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lmstudio_app.core import runs
from lmstudio_app.core.config import FinetuneConfig, ModelConfig, build_run_config
from lmstudio_app.core.data.chat_template import CHATML, CHATML_TOKENS, IM_END, TEMPLATE_FILE
from lmstudio_app.core.data.chat_tokens import add_special_pieces, chat_format
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.errors import UserError
from lmstudio_app.core.models import build_model
from lmstudio_app.core.models.vocab_rows import with_new_tokens
from lmstudio_app.core.objectives.batches import IGNORE
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.objectives.sft import conversation_row, pack
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

MESSAGES = [{"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What is the sentiment of: what a lovely day"},
            {"role": "assistant", "content": "positive"},
            {"role": "user", "content": "And of: the soup was cold"},
            {"role": "assistant", "content": "negative"}]


@pytest.fixture(scope="module")
def chat_tok(prepared_data) -> Tokenizer:
    tok = Tokenizer.load(prepared_data / "tokenizer.model")
    return add_special_pieces(tok, CHATML_TOKENS)  # type: ignore[return-value]


def _target_text(tok, x, y):
    return [tok.decode([t]) for t in y if t != IGNORE]


def test_loss_only_on_the_assistants_tokens(chat_tok):
    fmt = chat_format(CHATML, "chatml", chat_tok)
    x, y = conversation_row(fmt, chat_tok, MESSAGES, 256)
    assert len(x) == len(y)
    im_end = chat_tok.piece_to_id(IM_END)
    kept = [t for t in y if t != IGNORE]
    # Exactly the two replies, each with its end-of-turn token and the newline after it.
    assert chat_tok.decode(kept) == "positive<|im_end|>\nnegative<|im_end|>\n"
    assert kept.count(im_end) == 2
    # Each target is the next input token.
    for k in range(len(y) - 1):
        if y[k] != IGNORE:
            assert y[k] == x[k + 1]
    # Without assistant_only_loss every next token counts.
    _, all_y = conversation_row(fmt, chat_tok, MESSAGES, 256, assistant_only=False)
    assert IGNORE not in all_y and all_y[:-1] == x[1:]


def test_a_long_conversation_is_cut_to_max_length(chat_tok):
    fmt = chat_format(CHATML, "chatml", chat_tok)
    x, y = conversation_row(fmt, chat_tok, MESSAGES, 12)
    assert len(x) == len(y) == 12 and all(t == IGNORE for t in y)  # no reply inside


def test_packing_keeps_every_token_within_windows():
    rows = [([1] * 5, [2] * 5), ([3] * 4, [4] * 4), ([5] * 6, [6] * 6), ([7] * 2, [8] * 2)]
    packed = pack(rows, 10)
    assert all(len(x) <= 10 and len(x) == len(y) for x, y in packed)
    assert sorted(t for x, _ in packed for t in x) == sorted(t for x, _ in rows for t in x)
    assert len(packed) == 2


def test_new_token_rows_start_at_the_mean():
    cfg = ModelConfig(vocab_size=50, n_layer=1, n_head=2, n_embd=16, block_size=16)
    torch.manual_seed(0)
    model = build_model(cfg)
    old = model.transformer.wte.weight.detach().clone()
    grown = with_new_tokens(model, cfg, 50, 52)
    w = grown.transformer.wte.weight
    assert cfg.vocab_size == 52 and w.shape == (52, 16)
    assert torch.equal(w[:50], old)
    assert torch.allclose(w[50], old.mean(0)) and torch.allclose(w[51], old.mean(0))
    assert grown.lm_head.weight.data_ptr() == w.data_ptr()  # still tied


BASE = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 128, "batch_size": 8,
        "eval_interval": 100, "eval_batches": 1, "log_interval": 10, "sample_prompt": "",
        "max_steps": 20}


@pytest.fixture(scope="module")
def gpt_base(prepared_data, tmp_path_factory) -> Path:
    vocab = Tokenizer.load(prepared_data / "tokenizer.model").vocab_size
    cfg = build_run_config("clm", "tiny", vocab, BASE, data_dir=str(prepared_data))
    out = tmp_path_factory.mktemp("base") / "gpt"
    assert Trainer(cfg, out, RecordingSink()).run().reason == "completed"
    return out


def _chat_file(path: Path, n: int, bad: bool = False) -> Path:
    rows = []
    for k in range(n):
        label = ("positive", "negative")[k % 2]
        rows.append({"messages": [{"role": "user", "content": f"What is the sentiment of: {k}"},
                                  {"role": "assistant", "content": label}]})
    if bad:
        rows.append({"messages": [{"role": "user", "content": "no reply"}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_sft_run_adds_chatml_and_records_its_template(gpt_base, tmp_path):
    train = _chat_file(tmp_path / "train.jsonl", 24, bad=True)
    test = _chat_file(tmp_path / "test.jsonl", 2)
    ft = FinetuneConfig(task="sft", train_file=str(train), test_file=str(test),
                        base_run=str(gpt_base), packing=True)
    cfg = make_finetune_config(ft, overrides={"max_steps": 3, "eval_interval": 3,
                                              "batch_size": 4, "log_interval": 1})
    out = tmp_path / "sft"
    sink = RecordingSink()
    assert Trainer(cfg, out, sink).run().reason == "completed", sink.failure
    base_vocab = runs.read_config(gpt_base).model.vocab_size
    assert runs.read_config(out).model.vocab_size == base_vocab + 2
    assert (out / TEMPLATE_FILE).read_text(encoding="utf-8") == CHATML
    data = runs.read_file(out, runs.CONFIG)["data"]
    assert data["end_of_turn"] == IM_END and data["chat_template"] == "chatml"
    report = json.loads((out / runs.DATA_REPORT).read_text(encoding="utf-8"))
    assert report["files"]["train"]["skipped"] == [{"line": 25, "reason": "no assistant turn"}]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["task"] == "sft" and 0.0 <= results["end_of_turn_rate"] <= 1.0
    assert Tokenizer.load(out / "tokenizer.model").encode(IM_END) == [base_vocab + 1]


def test_sft_refuses_a_bert_base(tmp_path, gpt_base):
    cfg = runs.read_file(gpt_base, runs.CONFIG)
    cfg["run"]["model"]["arch"] = "bert"
    fake = tmp_path / "bert"
    fake.mkdir()
    runs.write_json(fake, runs.CONFIG, cfg)
    with pytest.raises(UserError, match="sft needs a GPT or Llama run"):
        make_finetune_config(FinetuneConfig(task="sft", train_file="x.jsonl",
                                            base_run=str(fake)))


def test_conversations_the_template_cannot_render_are_skipped_by_line(gpt_base, tmp_path):
    from lmstudio_app.core.objectives.finetune_setup import load_task_data
    from lmstudio_app.core.objectives.sft import SFTObjective

    template = tmp_path / "no_system.jinja"
    template.write_text("{% for m in messages %}{% if m['role'] == 'system' %}"
                        "{{ raise_exception('no system turns here') }}{% endif %}"
                        + CHATML.removeprefix("{% for message in messages %}")
                        .replace("message[", "m["), encoding="utf-8")
    train = tmp_path / "t.jsonl"
    rows = [MESSAGES[1:3], MESSAGES[:3], MESSAGES[1:3]]
    train.write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows), encoding="utf-8")
    ft = FinetuneConfig(task="sft", train_file=str(train), base_run=str(gpt_base),
                        chat_template=str(template), val_fraction=0.0, test_fraction=0.0)
    cfg = make_finetune_config(ft)
    tok = Tokenizer.load(gpt_base / "tokenizer.model")
    tok2, extras = SFTObjective.adapt(cfg, tok, tmp_path / "run", resume=False)
    assert tok2.vocab_size == tok.vocab_size + 2  # the template names ChatML's markers
    split, reports = load_task_data(ft, extras["check"])
    assert len(split.train) == 2
    assert reports["train"].skipped == [
        (2, "the chat template does not render this conversation (no system turns here)")]


def test_a_stopped_sft_run_resumes_with_its_tokens_and_template(gpt_base, tmp_path, stop_at):
    from lmstudio_app.core.training.control import RunControl

    train = _chat_file(tmp_path / "train.jsonl", 24)
    ft = FinetuneConfig(task="sft", train_file=str(train), base_run=str(gpt_base))
    cfg = make_finetune_config(ft, overrides={"max_steps": 6, "eval_interval": 3,
                                              "batch_size": 4, "log_interval": 1})
    control = RunControl()
    run = tmp_path / "sft"
    result = Trainer(cfg, run, stop_at(control, 3), control).run()
    assert result.reason == "stopped"
    vocab = runs.read_config(run).model.vocab_size
    result = Trainer(runs.read_config(run), run, RecordingSink(), resume=True).run()
    assert (result.reason, result.step) == ("completed", 6)
    assert runs.read_config(run).model.vocab_size == vocab
    assert (run / TEMPLATE_FILE).read_text(encoding="utf-8") == CHATML
