"""`lmstudio-app chat`: a conversation with a chat-tuned run in the terminal.

Each line read from stdin is a user turn and the reply is printed as it is generated; an empty
line or end of input ends it. `--message TEXT` answers once and exits; `--input FILE.jsonl
--json` answers one conversation per line ({"messages": [...]} ending with a user turn, or
{"message": TEXT}) and prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .args import add_loaded_run, count, fraction, non_negative, positive_int, seed


def add_chat_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s)
    s.add_argument("--system", default="", metavar="TEXT", help="a system prompt (first turn)")
    s.add_argument("--message", metavar="TEXT", help="answer this one message and exit")
    s.add_argument("--input", metavar="FILE.jsonl",
                   help="answer one conversation per line (with --json: JSON lines out)")
    s.add_argument("--json", action="store_true", help="JSON objects instead of plain text")
    s.add_argument("--max-new-tokens", type=positive_int, default=200, metavar="N")
    s.add_argument("--temperature", type=non_negative, default=0.7, metavar="T",
                   help="0 picks the likeliest piece (greedy)")
    s.add_argument("--top-k", type=count, default=50, metavar="K", help="0 disables")
    s.add_argument("--top-p", type=fraction, default=0.95, metavar="P")
    s.add_argument("--seed", type=seed, metavar="S")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
            "top_k": args.top_k or None, "top_p": args.top_p, "seed": args.seed}


def _with_system(messages: list[dict[str, str]], system: str) -> list[dict[str, str]]:
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}, *messages]
    return messages


def run_chat(args: argparse.Namespace) -> int:
    from ..core.errors import UserError
    from ..core.inference.chat import chat_mode
    from ..core.inference.loading import load_run

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    mode = chat_mode(loaded)
    if mode.format is None:
        raise UserError(f"{args.run} is not chat-tuned (no chat_template.jinja): {mode.why}; "
                        "use generate to continue text.", field="run")
    if args.input:
        return _batch(args, loaded, mode.format)
    if args.message is not None:
        messages = _with_system([{"role": "user", "content": args.message}], args.system)
        _answer(args, loaded, mode.format, messages)
        return 0
    return _conversation(args, loaded, mode.format)


def _answer(args: argparse.Namespace, loaded: Any, fmt: Any,
            messages: list[dict[str, str]]) -> str:
    from ..core.objectives.chat_reply import reply, reply_choices

    if args.json:
        out = reply(loaded.model, loaded.tokenizer, fmt, messages, **_options(args))
        print(json.dumps({"reply": out.text, "ended": out.ended, "tokens": len(out.choices)},
                         ensure_ascii=False), flush=True)
        return out.text
    text = ""
    for choice in reply_choices(loaded.model, loaded.tokenizer, fmt, messages,
                                **_options(args)):
        text += choice.text
        sys.stdout.write(choice.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return text


def _conversation(args: argparse.Namespace, loaded: Any, fmt: Any) -> int:
    from ..core.data.text import clean_typed

    messages = _with_system([], args.system)
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("you> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        messages.append({"role": "user", "content": clean_typed(line.rstrip("\n"))})
        text = _answer(args, loaded, fmt, messages)
        messages.append({"role": "assistant", "content": text.strip()})


def _batch(args: argparse.Namespace, loaded: Any, fmt: Any) -> int:
    from ..core.data.conversations import prompt_messages
    from ..core.data.labeled_table import ReadOptions, Table
    from ..core.data.labels import LabelProblem
    from ..core.errors import UserError

    failed = answered = 0
    with Table(Path(args.input), ReadOptions()) as table:
        if table.reader is not None:
            raise UserError(f"{args.input}: --input reads JSON lines (.jsonl), one "
                            "conversation per line.", field="input")
        for row in table.rows():
            try:
                if row.values is None:
                    raise LabelProblem(row.problem)
                messages = _with_system(prompt_messages(row.values), args.system)
            except LabelProblem as problem:
                failed += 1
                print(json.dumps({"line": row.line, "error": str(problem)}), flush=True)
                print(f"error: {args.input}: line {row.line}: {problem}", file=sys.stderr)
                continue
            if not args.json:
                print(f"[line {row.line}]", flush=True)
            _answer(args, loaded, fmt, messages)
            answered += 1
    if not answered and not failed:
        raise UserError(f"{args.input}: no conversations in the file.", field="input")
    return 2 if failed else 0
