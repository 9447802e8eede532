"""`benchmark`: lm-evaluation-harness tasks on a run's own model; the results are kept in the
run folder (benchmarks/<timestamp>.json and summary.json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .args import add_loaded_run, count, positive_int


def _task_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one task, e.g. sentiment_mc,hellaswag")
    return names


def add_benchmark_arguments(s: argparse.ArgumentParser) -> None:
    add_loaded_run(s, device="auto")
    s.add_argument("--tasks", type=_task_list, required=True, metavar="T1,T2,...",
                   help="lm_eval task names (hellaswag, arc_easy, ...) or local YAML tasks; "
                        "sentiment_mc is bundled and works offline")
    s.add_argument("--limit", type=positive_int, metavar="N",
                   help="at most N documents per task")
    s.add_argument("--num-fewshot", type=count, metavar="K", help="examples in each prompt")
    s.add_argument("--batch-size", type=positive_int, default=8, metavar="B")
    s.add_argument("--include", type=Path, action="append", default=[], metavar="DIR",
                   help="a folder of task YAML files (lm_eval's format; JSONL data_files "
                        "relative to the YAML); repeatable")
    s.add_argument("--json", action="store_true", help="the results as one JSON object")


def run_benchmark(args: argparse.Namespace) -> int:
    from ..core.inference.benchmark import run_benchmark as evaluate
    from ..core.inference.loading import load_run
    from ..core.runs.benchmarks import headline, write_benchmark

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    result = evaluate(loaded, args.tasks, limit=args.limit, num_fewshot=args.num_fewshot,
                      batch_size=args.batch_size, include=args.include)
    path = write_benchmark(loaded.run_dir, result)
    if args.json:
        print(json.dumps({"file": str(path), "settings": result["settings"],
                          "tasks": result["tasks"]}))
        return 0
    for task, metrics in result["tasks"].items():
        main = headline(metrics)
        rest = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                         if main is None or k != main[0])
        shown = f"{main[0]} {main[1]:.4f}" if main else "-"
        print(f"{task:<24} {shown:<16} {rest}")
    print(f"saved to {path}")
    return 0
