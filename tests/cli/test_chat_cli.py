"""`lmstudio-app chat`: one message, a conversation on stdin, a batch of JSON lines; a base run
refused in one line; `finetune --task sft` refusing bad conversation files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lmstudio_app.core.util.home import HOME_ENV
from tests.conftest import run_cli

FAST = ("--max-new-tokens", "4", "--temperature", "0", "--device", "cpu")


def test_one_message_as_json(sft_run, tmp_path):
    r = run_cli("chat", "--run", str(sft_run["sft"]), "--message", "What is the sentiment of: "
                "a fine day", "--system", "Answer in one word.", "--json", *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"reply", "ended", "tokens"} and 0 <= out["tokens"] <= 4


def test_a_conversation_on_stdin_keeps_its_turns(sft_run, tmp_path):
    env = {**os.environ, HOME_ENV: str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "lmstudio_app", "chat", "--run",
                        str(sft_run["sft"]), *FAST], input="hello\nand again\n\n",
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2  # one reply line per user turn


def test_a_batch_answers_each_line_and_reports_bad_ones(sft_run, tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [{"messages": [{"role": "user", "content": "What is the sentiment of: rain"}]},
            {"message": "hi"},
            {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    r = run_cli("chat", "--run", str(sft_run["sft"]), "--input", str(path), "--json", *FAST,
                cwd=tmp_path)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [("reply" in x) for x in lines] == [True, True, False]
    assert lines[2] == {"line": 3, "error": "the last turn is assistant, not the user's"}
    assert r.returncode == 2 and "line 3" in r.stderr


def test_a_base_run_is_refused_in_one_line(sft_run, tmp_path):
    r = run_cli("chat", "--run", str(sft_run["gpt"]), "--message", "hi", cwd=tmp_path)
    assert r.returncode == 2 and "not chat-tuned" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_finetune_sft_with_no_usable_conversation_is_one_line(sft_run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "Q"}]}) + "\n",
                   encoding="utf-8")
    r = run_cli("finetune", "--task", "sft", "--train", str(bad), "--from",
                str(sft_run["gpt"]), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "no usable conversations" in r.stderr and "line 1, no assistant turn" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_finetune_sft_names_a_template_that_does_not_compile(sft_run, tmp_path):
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}", encoding="utf-8")
    train = sft_run["train"]
    r = run_cli("finetune", "--task", "sft", "--train", str(train), "--from",
                str(sft_run["gpt"]), "--chat-template", str(template), "--out",
                str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2 and "does not compile" in r.stderr and "--chat-template" in r.stderr
