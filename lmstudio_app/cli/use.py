"""Commands that use a finished run: generate, fill-mask, classify, answer, eval, and runs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .args import (
    ENCODING_CHOICES,
    RUNS_ROOT_HELP,
    add_columns,
    add_loaded_run,
    count,
    fraction,
    non_negative,
    positive_int,
    runs_root,
    seed,
)

# ---------------------------------------------------------------------------------------------
# generate and fill-mask: pretrained runs


def add_generate_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s)
    s.add_argument("--prompt", default="", metavar="TEXT")
    s.add_argument("--max-new-tokens", type=positive_int, default=200, metavar="N")
    s.add_argument("--temperature", type=non_negative, default=0.8, metavar="T",
                   help="0 picks the likeliest piece (greedy)")
    s.add_argument("--top-k", type=count, default=50, metavar="K", help="0 disables")
    s.add_argument("--top-p", type=fraction, default=0.95, metavar="P",
                   help="nucleus sampling: the smallest set of pieces holding P (1 disables)")
    s.add_argument("--seed", type=seed, metavar="S")
    s.add_argument("--show-probs", action="store_true",
                   help="one line per token: its probability, the entropy and the top 5 "
                        "alternatives (with --json: one JSON object per token)")
    s.add_argument("--json", action="store_true", help="with --show-probs: JSON lines")


def run_generate(args: argparse.Namespace) -> int:
    from ..core.data.text import clean_typed
    from ..core.inference.loading import load_run, require_objective
    from ..core.models.generate import generate_choices

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    require_objective(loaded, "clm")
    prompt = clean_typed(args.prompt)  # what the model reads is what is shown
    choices = generate_choices(loaded.model, loaded.tokenizer, prompt,
                               max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                               top_k=args.top_k or None, top_p=args.top_p, seed=args.seed)
    if args.show_probs:
        for c in choices:
            if args.json:
                print(json.dumps({"token_id": c.token_id, "piece": c.piece, "text": c.text,
                                  "probability": c.probability, "entropy_bits": c.entropy_bits,
                                  "top": [{"piece": p, "probability": q} for p, q in c.top]}),
                      flush=True)
            else:
                top = "  ".join(f"{p!r} {q:.3f}" for p, q in c.top)
                print(f"{c.probability:6.3f}  {c.entropy_bits:5.2f} bits  {c.piece!r:<16} "
                      f"| {top}", flush=True)
        return 0
    sys.stdout.write(prompt)
    for c in choices:
        sys.stdout.write(c.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def add_fill_mask_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s)
    s.add_argument("text", metavar="TEXT", help='text with one [MASK], e.g. "a [MASK] day"')
    s.add_argument("--top-k", type=positive_int, default=5, metavar="K")
    s.add_argument("--json", action="store_true")


def run_fill_mask(args: argparse.Namespace) -> int:
    from ..core.inference.loading import load_run, require_objective
    from ..core.inference.predict import fill_mask

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    require_objective(loaded, "mlm")
    predictions = fill_mask(loaded.model, loaded.tokenizer, args.text, top_k=args.top_k)
    if args.json:
        print(json.dumps([{"piece": p, "probability": prob} for p, prob in predictions]))
    else:
        for piece, prob in predictions:
            print(f"{prob:7.2%}  {piece}")
    return 0


# ---------------------------------------------------------------------------------------------
# eval, classify and answer: fine-tuned runs


def add_eval_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    s.add_argument("--data", required=True, metavar="FILE", help=".csv .tsv or .jsonl")
    add_columns(s, defaults=False)
    s.add_argument("--encoding", default="utf-8", choices=ENCODING_CHOICES)


def _load_task_run(args: argparse.Namespace) -> Any:
    from ..core.inference.loading import load_run, require_task

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    require_task(loaded)
    return loaded


def run_eval(args: argparse.Namespace) -> int:
    from ..core.inference.evaluate import evaluate_file
    from ..core.objectives.finetune_setup import columns_of

    loaded = _load_task_run(args)
    base = columns_of(loaded.config.finetune)
    given = {name: getattr(args, f"{name}_col", None) for name in
             ("text", "label", "question", "context", "answer", "answer_start")}
    columns = replace(base, **{k: v for k, v in given.items()
                               if v is not None and hasattr(base, k)})
    print(json.dumps(evaluate_file(loaded, args.data, columns, args.encoding)))
    return 0


def add_classify_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    s.add_argument("texts", nargs="+", metavar="TEXT")
    s.add_argument("--json", action="store_true", help="one JSON object per text")


def run_classify(args: argparse.Namespace) -> int:
    from ..core.inference.predict import classify

    results = classify(_load_task_run(args), list(args.texts))
    for text, r in zip(args.texts, results, strict=True):
        if args.json:
            print(json.dumps({"text": text, **r}))
        else:
            probs = " ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
            print(f"{r['label']}\t{probs}\t{text}")
    return 0


def add_answer_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="cpu")
    s.add_argument("--question", required=True, metavar="Q")
    s.add_argument("--context", metavar="C", help="the text holding the answer (extractive)")
    s.add_argument("--json", action="store_true")


def run_answer(args: argparse.Namespace) -> int:
    from ..core.inference.predict import answer

    result = answer(_load_task_run(args), args.question, args.context)
    if args.json:
        print(json.dumps(result))
    else:
        where = (f" (characters {result['start']}-{result['end']} of the context)"
                 if "start" in result else "")
        print(result["answer"])
        print(f"score {result['score']:.3f}{where}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# runs


def add_runs_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--root", type=Path, default=None, metavar="DIR", help=RUNS_ROOT_HELP)
    s.add_argument("--json", action="store_true")


def run_runs(args: argparse.Namespace) -> int:
    from ..core.runs import list_runs, read_notes

    root = runs_root(args, "root")
    found = list_runs(root)
    notes = {r.path: read_notes(r.path) for r in found}
    if args.json:
        print(json.dumps([{**r.as_dict(), "note": notes[r.path].note,
                           "tags": notes[r.path].tags} for r in found], indent=2))
        return 0
    if not found:
        print(f"no runs under {root}")
        return 0
    print(f"{'name':<40} {'objective':<13} {'preset':<10} {'steps':>13} {'best val':>9} state")
    for r in found:
        best = f"{r.best_val_loss:.4f}" if r.best_val_loss is not None else "-"
        steps = f"{r.step}/{r.max_steps}" if r.state != "damaged" else "-"
        print(f"{r.name:<40} {r.objective:<13} {r.preset:<10} {steps:>13} {best:>9} {r.state}")
        if r.problem:
            print(f"    {r.problem}")
        if notes[r.path].tags:
            print(f"    tags: {', '.join(notes[r.path].tags)}")
        if notes[r.path].note:
            print("\n".join(f"    note: {line}" if i == 0 else f"          {line}"
                            for i, line in enumerate(notes[r.path].note.splitlines())))
    return 0
