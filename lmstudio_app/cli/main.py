"""The headless command line: the same engine as the window, driven from a terminal.

Every user mistake ends as one readable line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.training.sinks import MetricsSink
from .console import ConsoleSink, JsonSink, ProgressLine, format_duration

EXIT_USAGE = 2

EXAMPLES = """\
examples:
  lmstudio-app prepare resources/corpus --out data/austen
  lmstudio-app pretrain --data data/austen --objective clm --preset tiny --max-steps 500
  lmstudio-app generate --run runs/<run> --prompt "It is a truth"
  lmstudio-app finetune --task classify --train reviews.csv --from runs/<run> --out runs/cls
  lmstudio-app classify --run runs/cls "What a lovely day"
  lmstudio-app runs
"""


# ---------------------------------------------------------------------------------------------
# prepare


def _prepare_progress() -> Callable[[Any], None]:
    bar = ProgressLine()
    names = {"scan": "scanning", "tokenizer": "training tokenizer", "encode": "encoding"}

    def show(p: Any) -> None:
        if p.stage == "done":
            bar.clear()
            return
        total = p.bytes_total or 1
        rate = f"{p.rate_mb_s:.1f} MB/s" if p.rate_mb_s else "-- MB/s"
        bar.update(
            p.bytes_done / total,
            f"{names.get(p.stage, p.stage)}: files {p.files_done}/{p.files_total} "
            f"{p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB {rate} "
            f"ETA {format_duration(p.eta_s)}",
        )

    return show


def cmd_prepare(args: argparse.Namespace) -> int:
    from ..core.data.corpus import CorpusOptions
    from ..core.data.prepare import PrepareConfig, prepare
    from ..core.data.tokenizer import TokenizerSpec

    cfg = PrepareConfig(
        sources=list(args.corpus),
        out_dir=args.out,
        tokenizer=TokenizerSpec(kind=args.tokenizer, vocab_size=args.vocab_size),
        corpus=CorpusOptions(text_field=args.text_field, encoding=args.encoding,
                             include=tuple(args.include), exclude=tuple(args.exclude)),
        val_fraction=args.val_fraction,
    )
    start = time.perf_counter()
    result = prepare(cfg, progress=_prepare_progress())
    took = time.perf_counter() - start
    verb = "reused" if result.reused else f"wrote in {took:.1f} s"
    print(
        f"{result.out_dir}: {verb}; vocabulary {result.vocab_size}, "
        f"train {result.train_tokens:,} tokens ({result.train_documents} documents), "
        f"val {result.val_tokens:,} tokens ({result.val_documents} documents)"
    )
    return 0


# ---------------------------------------------------------------------------------------------
# pretrain


def _install_stop_handler(control: Any) -> None:
    """First Ctrl-C: stop at the next step boundary and save. Second: abort at once."""

    def handler(signum: int, frame: Any) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        print("\nstopping at the next step and saving (Ctrl-C again to abort)", file=sys.stderr)
        control.stop()

    signal.signal(signal.SIGINT, handler)


def cmd_pretrain(args: argparse.Namespace) -> int:
    from ..core import runs
    from ..core.config import build_run_config, parse_overrides
    from ..core.errors import UserError
    from ..core.training.control import RunControl
    from ..core.training.trainer import Trainer

    overrides = parse_overrides(args.set)
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    if args.device is not None:
        overrides["device"] = args.device
    if args.compile:
        overrides["compile"] = True

    if args.resume:
        run_dir = Path(args.resume)
        cfg = runs.read_config(run_dir)
        for key, value in overrides.items():
            section = cfg.model if hasattr(cfg.model, key) and key != "device" else cfg.train
            if section is cfg.model:
                raise UserError(f"--set {key}: the model's shape cannot change on --resume.")
            setattr(section, key, value)
        cfg.validate()
    else:
        if not args.data:
            raise UserError("pretrain needs --data DATA_DIR (made by `lmstudio-app prepare`).")
        from ..core.data.tokenizer import Tokenizer

        tok_path = Path(args.data) / "tokenizer.model"
        if not tok_path.is_file():
            raise UserError(
                f"{args.data}: no tokenizer.model here. Run `lmstudio-app prepare CORPUS "
                f"--out {args.data}` first."
            )
        vocab = Tokenizer.load(tok_path).vocab_size
        cfg = build_run_config(args.objective, args.preset, vocab, overrides,
                               data_dir=str(args.data), name=args.name or "")
        run_dir = runs.claim_run_dir(Path(args.out)) if args.out else runs.new_run_dir(
            Path(args.runs_root), cfg.name)

    control = RunControl()
    _install_stop_handler(control)
    sink = JsonSink() if args.json else ConsoleSink()
    result = Trainer(cfg, run_dir, sink, control, resume=bool(args.resume)).run()
    if result.reason == "failed":
        raise UserError(runs.read_json(run_dir / runs.STATUS).get("error", "training failed"))
    if not args.json:
        best = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "n/a"
        print(f"{result.reason} at step {result.step}; best val loss {best}; run {run_dir}")
    return 0


# ---------------------------------------------------------------------------------------------
# generate, fill-mask, runs


def cmd_generate(args: argparse.Namespace) -> int:
    from ..core.inference.loading import load_run, require_objective
    from ..core.models.generate import generate

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    require_objective(loaded, "clm", "generate")
    sys.stdout.write(args.prompt)
    for piece in generate(loaded.model, loaded.tokenizer, args.prompt,
                          max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                          top_k=args.top_k or None, top_p=args.top_p, seed=args.seed):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def cmd_fill_mask(args: argparse.Namespace) -> int:
    from ..core.inference.loading import load_run, require_objective
    from ..core.inference.predict import fill_mask

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    require_objective(loaded, "mlm", "fill-mask")
    predictions = fill_mask(loaded.model, loaded.tokenizer, args.text, top_k=args.top_k)
    if args.json:
        print(json.dumps([{"piece": p, "probability": prob} for p, prob in predictions]))
    else:
        for piece, prob in predictions:
            print(f"{prob:7.2%}  {piece}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runs import list_runs

    found = list_runs(Path(args.root))
    if args.json:
        print(json.dumps([r.as_dict() for r in found], indent=2))
        return 0
    if not found:
        print(f"no runs under {args.root}")
        return 0
    header = f"{'name':<40} {'objective':<9} {'preset':<10} {'steps':>13} {'best val':>9} state"
    print(header)
    for r in found:
        best = f"{r.best_val_loss:.4f}" if r.best_val_loss is not None else "-"
        steps = f"{r.step}/{r.max_steps}"
        print(f"{r.name:<40} {r.objective:<9} {r.preset:<10} {steps:>13} {best:>9} {r.state}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The sample pipeline on the bundled corpus: prepare, a short pretraining, a sample."""
    from ..core.data.samples import sample_corpus

    data = Path(args.workdir) / "data" / "sample"
    corpus = str(sample_corpus())
    print(f"sample corpus: {corpus}")
    cmd_prepare(build_parser().parse_args(["prepare", corpus, "--out", str(data)]))
    out = Path(args.workdir) / "runs"
    pre = ["pretrain", "--data", str(data), "--objective", "clm", "--preset", "tiny",
           "--max-steps", str(args.max_steps), "--runs-root", str(out), "--name", "sample",
           "--set", f"eval_interval={max(50, args.max_steps // 4)}"]
    cmd_pretrain(build_parser().parse_args(pre))
    from ..core.runs import list_runs

    newest = list_runs(out)[0].path
    print("\nsample from the trained model:")
    return cmd_generate(build_parser().parse_args(
        ["generate", "--run", str(newest), "--prompt", "It is a truth", "--seed", "1",
         "--max-new-tokens", "80"]))


# ---------------------------------------------------------------------------------------------
# finetune, compare-init, eval, classify, answer


class _DataNote(MetricsSink):
    """Shows what the labeled files held (rows used, skipped lines) once the run has started."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def started(self, info: dict[str, Any]) -> None:
        from ..core import runs
        from ..core.objectives.finetune import DATA_REPORT

        report = runs.read_json(Path(info["run_dir"]) / DATA_REPORT)
        if not report:
            return
        if self.as_json:
            print(json.dumps({"event": "data", "splits": report.get("splits"),
                              "summary": report.get("summary", "")}), flush=True)
        else:
            splits = report.get("splits", {})
            print(f"data: train {splits.get('train')}, val {splits.get('val')}, "
                  f"test {splits.get('test')} examples", file=sys.stderr)
            for line in str(report.get("summary", "")).splitlines():
                print(f"  {line}", file=sys.stderr)


def _finetune_run_config(args: argparse.Namespace) -> Any:
    from ..core.config import FinetuneConfig, parse_overrides
    from ..core.errors import UserError
    from ..core.objectives.finetune import make_finetune_config

    if not args.task or not args.train:
        raise UserError("finetune needs --task and --train FILE (or --resume RUN_DIR).")
    if bool(args.from_run) == bool(args.scratch):
        raise UserError("choose where to start: --from RUN_DIR or --scratch --preset NAME "
                        "--tokenizer-from DIR.")
    ft = FinetuneConfig(
        task=args.task, train_file=args.train, val_file=args.val or "",
        test_file=args.test or "", encoding=args.encoding,
        text_col=args.text_col, label_col=args.label_col, question_col=args.question_col,
        context_col=args.context_col, answer_col=args.answer_col,
        answer_start_col=args.answer_start_col or "",
        base_run=args.from_run or "", scratch=bool(args.scratch),
        tokenizer_from=args.tokenizer_from or "", freeze_embeddings=args.freeze_embeddings,
        freeze_layers=args.freeze_layers, body_lr_scale=args.body_lr_scale,
        class_weights=args.class_weights, pooling=args.pooling, max_length=args.max_length,
        stride=args.stride, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        split_seed=args.split_seed,
    )
    if args.template is not None:
        ft.template = args.template.replace("\\n", "\n")
    overrides = parse_overrides(args.set)
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    if args.device is not None:
        overrides["device"] = args.device
    return make_finetune_config(ft, preset=args.preset, arch=args.arch, overrides=overrides,
                                name=args.name or "")


def _print_report(report: dict[str, Any], stream: Any = None) -> None:
    stream = stream or sys.stdout
    from ..core.objectives.finetune import headline

    figures = ", ".join(f"{k} {v:.4f}" for k, v in headline(report).items())
    print(f"test ({report.get('n', 0)} examples): {figures}", file=stream)
    for label, row in report.get("per_class", {}).items():
        print(f"  {label:<16} precision {row['precision']:.3f} recall {row['recall']:.3f} "
              f"f1 {row['f1']:.3f} support {row['support']}", file=stream)
    if report.get("confusion"):
        print("  confusion (rows true, columns predicted): "
              + " | ".join(" ".join(str(c) for c in row) for row in report["confusion"]),
              file=stream)


def cmd_finetune(args: argparse.Namespace) -> int:
    from ..core import runs
    from ..core.errors import UserError
    from ..core.training.control import RunControl
    from ..core.training.sinks import FanOutSink
    from ..core.training.trainer import Trainer

    if args.resume:
        run_dir = Path(args.resume)
        cfg = runs.read_config(run_dir)
        if cfg.finetune is None:
            raise UserError(f"{run_dir} is a pretraining run; continue it with pretrain --resume.")
        if args.max_steps is not None:
            cfg.train.max_steps = args.max_steps
        cfg.validate()
    else:
        cfg = _finetune_run_config(args)
        run_dir = runs.claim_run_dir(Path(args.out)) if args.out else runs.new_run_dir(
            Path(args.runs_root), cfg.name)
    control = RunControl()
    _install_stop_handler(control)
    sink = FanOutSink(_DataNote(args.json), JsonSink() if args.json else ConsoleSink())
    result = Trainer(cfg, run_dir, sink, control, resume=bool(args.resume)).run()
    if result.reason == "failed":
        raise UserError(runs.read_json(run_dir / runs.STATUS).get("error", "training failed"))
    report = runs.read_json(run_dir / runs.RESULTS)
    if args.json:
        print(json.dumps({"event": "results", "run_dir": str(run_dir), "reason": result.reason,
                          "step": result.step, **report}))
    else:
        print(f"{result.reason} at step {result.step}; run {run_dir}")
        if report:
            _print_report(report)
    return 0


def cmd_compare_init(args: argparse.Namespace) -> int:
    from ..core import runs
    from ..core.errors import UserError
    from ..core.objectives.finetune import compare_init, headline, scratch_twin
    from ..core.training.control import RunControl

    if not args.from_run:
        raise UserError("compare-init needs --from RUN_DIR (the pretrained run to compare).")
    cfg = _finetune_run_config(args)
    twin = scratch_twin(cfg)
    if args.out:
        out = Path(args.out)
        dirs = (runs.claim_run_dir(out / "pretrained"), runs.claim_run_dir(out / "scratch"))
    else:
        dirs = (runs.new_run_dir(Path(args.runs_root), cfg.name),
                runs.new_run_dir(Path(args.runs_root), twin.name))
    control = RunControl()
    _install_stop_handler(control)

    def sink_for(init: str) -> Any:
        if args.json:
            return None
        print(f"== fine-tuning from {init} ==", file=sys.stderr)
        return ConsoleSink()

    pre, scr = compare_init(cfg, dirs, sink_for, control)
    if args.json:
        diff = {k: v - headline(scr.report).get(k, float("nan"))
                for k, v in headline(pre.report).items()}
        print(json.dumps({"pretrained": pre.as_dict(), "scratch": scr.as_dict(),
                          "difference": diff}))
    else:
        a, b = headline(pre.report), headline(scr.report)
        print(f"{'':<14}{'pretrained':>12}{'scratch':>12}{'difference':>12}")
        for key in a:
            if key in b:
                print(f"{key:<14}{a[key]:>12.4f}{b[key]:>12.4f}{a[key] - b[key]:>+12.4f}")
        for side in (pre, scr):
            note = f" ({side.error})" if side.error else ""
            print(f"{side.init}: {side.reason} at step {side.step}, run {side.run_dir}{note}")
    failed = [s for s in (pre, scr) if s.reason == "failed"]
    if failed:
        raise UserError(f"{failed[0].init} run failed: {failed[0].error}")
    return 0


def _columns_from_args(args: argparse.Namespace, loaded: Any) -> Any:
    from dataclasses import replace

    from ..core.objectives.finetune import columns_of

    base = columns_of(loaded.config.finetune)
    given = {name: getattr(args, f"{name}_col", None) for name in
             ("text", "label", "question", "context", "answer", "answer_start")}
    return replace(base, **{k: v for k, v in given.items()
                            if v is not None and hasattr(base, k)})


def _load_task_run(args: argparse.Namespace, command: str) -> Any:
    from ..core.errors import UserError
    from ..core.inference.loading import load_run

    loaded = load_run(Path(args.run), args.checkpoint, args.device)
    if loaded.config.finetune is None:
        raise UserError(f"{args.run} is a pretraining ({loaded.config.objective}) run; "
                        f"{command} needs a fine-tuned run (see `lmstudio-app finetune`).")
    return loaded


def cmd_eval(args: argparse.Namespace) -> int:
    from ..core.objectives.finetune import evaluate_file

    loaded = _load_task_run(args, "eval")
    columns = _columns_from_args(args, loaded)
    print(json.dumps(evaluate_file(loaded, args.data, columns, args.encoding)))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from ..core.inference.predict import classify

    loaded = _load_task_run(args, "classify")
    results = classify(loaded, list(args.texts))
    for text, r in zip(args.texts, results, strict=True):
        if args.json:
            print(json.dumps({"text": text, **r}))
        else:
            probs = " ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
            print(f"{r['label']}\t{probs}\t{text}")
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    from ..core.inference.predict import answer

    loaded = _load_task_run(args, "answer")
    result = answer(loaded, args.question, args.context)
    if args.json:
        print(json.dumps(result))
    else:
        where = (f" (characters {result['start']}-{result['end']} of the context)"
                 if "start" in result else "")
        print(result["answer"])
        print(f"score {result['score']:.3f}{where}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    from ..core.config import PRESETS

    p = argparse.ArgumentParser(
        prog="lmstudio-app",
        description="Pretrain and fine-tune small language models on your own machine. "
        "With no command, opens the window.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("prepare", help="corpora -> SentencePiece tokenizer -> HDF5 token store")
    s.add_argument("corpus", nargs="+", help="files or folders (.txt .md .jsonl .csv .tsv, .gz)")
    s.add_argument("--out", required=True, metavar="DATA_DIR", help="folder for the store")
    s.add_argument("--tokenizer", choices=("unigram", "bpe", "char"), default="unigram")
    s.add_argument("--vocab-size", type=int, default=8000, metavar="N")
    s.add_argument("--val-fraction", type=float, default=0.05, metavar="F",
                   help="share of documents held out for validation (default 0.05)")
    s.add_argument("--text-field", default="text", metavar="NAME",
                   help="JSONL field or CSV/TSV column holding the text (default: text)")
    s.add_argument("--encoding", choices=("utf-8", "latin-1", "replace"), default="utf-8",
                   help="how to read bytes that are not UTF-8 (default: refuse them)")
    s.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="in folders, only files matching this pattern (repeatable)")
    s.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="in folders, skip files matching this pattern (repeatable)")
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("pretrain", help="pretrain a GPT (clm) or BERT (mlm) model")
    s.add_argument("--data", metavar="DATA_DIR", help="a folder made by prepare")
    s.add_argument("--objective", choices=("clm", "mlm"), default="clm",
                   help="clm: next-token prediction (GPT); mlm: masked-LM (BERT)")
    s.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set n_layer=4 --set learning_rate=3e-4")
    s.add_argument("--max-steps", type=int, metavar="N")
    s.add_argument("--device", choices=None, metavar="auto|cpu|cuda|mps",
                   help="default auto: CUDA, else MPS, else CPU")
    s.add_argument("--compile", action="store_true", help="use torch.compile")
    s.add_argument("--out", metavar="RUN_DIR", help="the run folder (default: runs/<time>-<name>)")
    s.add_argument("--runs-root", default="runs", metavar="DIR", help=argparse.SUPPRESS)
    s.add_argument("--name", help="a name for the run folder")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run")
    s.add_argument("--json", action="store_true", help="one JSON object per line, for scripts")
    s.set_defaults(func=cmd_pretrain)

    s = sub.add_parser("generate", help="sample text from a GPT run, streamed")
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("--prompt", default="", metavar="TEXT")
    s.add_argument("--max-new-tokens", type=int, default=200, metavar="N")
    s.add_argument("--temperature", type=float, default=0.8, metavar="T")
    s.add_argument("--top-k", type=int, default=50, metavar="K", help="0 disables")
    s.add_argument("--top-p", type=float, default=0.95, metavar="P")
    s.add_argument("--seed", type=int, metavar="S")
    s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("fill-mask", help="top predictions for [MASK] from a BERT run")
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("text", metavar="TEXT", help='text with one [MASK], e.g. "a [MASK] day"')
    s.add_argument("--top-k", type=int, default=5, metavar="K")
    s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    s.add_argument("--device", default="auto")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_fill_mask)

    for command, text in (
        ("finetune", "fine-tune a pretrained run (or a model from scratch) on a labeled file"),
        ("compare-init", "fine-tune from the pretrained run and from scratch with equal budgets, "
                         "and compare"),
    ):
        s = sub.add_parser(command, help=text, description=text)
        _add_finetune_args(s, PRESETS)
        s.set_defaults(func=cmd_finetune if command == "finetune" else cmd_compare_init)
        if command == "finetune":
            s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped fine-tune")

    s = sub.add_parser("eval", help="score a fine-tuned run on a labeled file (JSON on stdout)")
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("--data", required=True, metavar="FILE", help=".csv .tsv or .jsonl")
    _add_column_args(s, defaults=False)
    s.add_argument("--encoding", default="utf-8", choices=("utf-8", "latin-1", "replace"))
    s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("classify", help="label texts with a fine-tuned classify run")
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("texts", nargs="+", metavar="TEXT")
    s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    s.add_argument("--device", default="cpu")
    s.add_argument("--json", action="store_true", help="one JSON object per text")
    s.set_defaults(func=cmd_classify)

    s = sub.add_parser("answer", help="answer a question with a fine-tuned QA run")
    s.add_argument("--run", required=True, metavar="RUN_DIR")
    s.add_argument("--question", required=True, metavar="Q")
    s.add_argument("--context", metavar="C", help="the text holding the answer (extractive)")
    s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    s.add_argument("--device", default="cpu")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_answer)

    s = sub.add_parser("runs", help="list run folders")
    s.add_argument("--root", default="runs", metavar="DIR", help="where runs live (default runs)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("demo", help="the sample pipeline on the bundled corpus, in the terminal")
    s.add_argument("--workdir", default=".", metavar="DIR")
    s.add_argument("--max-steps", type=int, default=300, metavar="N")
    s.set_defaults(func=cmd_demo)
    return p


def _add_column_args(s: argparse.ArgumentParser, defaults: bool) -> None:
    d = (lambda v: v) if defaults else (lambda v: None)
    g = s.add_argument_group("columns (CSV/TSV header names or JSONL fields)")
    g.add_argument("--text-col", default=d("text"), metavar="C", help="classify: the text")
    g.add_argument("--label-col", default=d("label"), metavar="L", help="classify: the label")
    g.add_argument("--question-col", default=d("question"), metavar="Q")
    g.add_argument("--context-col", default=d("context"), metavar="X")
    g.add_argument("--answer-col", default=d("answer"), metavar="A")
    g.add_argument("--answer-start-col", default=None, metavar="S",
                   help="the answer's character offset (default: found in the context)")


def _add_finetune_args(s: argparse.ArgumentParser, presets: Any) -> None:
    from ..core.config import TASKS

    s.add_argument("--task", choices=TASKS)
    s.add_argument("--train", metavar="FILE", help="labeled .csv .tsv or .jsonl (optionally .gz)")
    s.add_argument("--val", metavar="FILE", help="default: split off the training file")
    s.add_argument("--test", metavar="FILE", help="default: split off the training file")
    s.add_argument("--from", dest="from_run", metavar="RUN_DIR", help="the pretrained run")
    s.add_argument("--scratch", action="store_true", help="random weights instead")
    s.add_argument("--preset", default="tiny", choices=sorted(presets),
                   help="with --scratch: the model's shape")
    s.add_argument("--arch", choices=("gpt", "bert"),
                   help="with --scratch and classify: the body (default gpt)")
    s.add_argument("--tokenizer-from", metavar="RUN_DIR|DATA_DIR",
                   help="with --scratch: where tokenizer.model is")
    _add_column_args(s, defaults=True)
    s.add_argument("--encoding", default="utf-8", choices=("utf-8", "latin-1", "replace"),
                   help="how to read bytes that are not UTF-8 (default: refuse them)")
    s.add_argument("--max-steps", type=int, metavar="N")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training field, e.g. --set learning_rate=3e-4")
    s.add_argument("--freeze-embeddings", action="store_true")
    s.add_argument("--freeze-layers", type=int, default=0, metavar="N",
                   help="freeze the lowest N blocks")
    s.add_argument("--body-lr-scale", type=float, default=1.0, metavar="F",
                   help="the pretrained body learns at F times the head's rate")
    s.add_argument("--class-weights", action="store_true",
                   help="classify: weight the loss by inverse label frequency")
    s.add_argument("--pooling", choices=("auto", "last", "cls", "mean"), default="auto",
                   help="classify: what the head reads (auto: GPT last token, BERT [CLS])")
    s.add_argument("--max-length", type=int, default=0, metavar="N",
                   help="tokens per example (default: the model's block_size)")
    s.add_argument("--stride", type=int, default=64, metavar="N",
                   help="qa-extractive: overlap of the windows of a long context")
    s.add_argument("--template", metavar="TEXT",
                   help="qa-generative prompt with {question} and {context} (\\n for newline)")
    s.add_argument("--val-fraction", type=float, default=0.1, metavar="F")
    s.add_argument("--test-fraction", type=float, default=0.1, metavar="F")
    s.add_argument("--split-seed", type=int, default=1337, metavar="S")
    s.add_argument("--device", metavar="auto|cpu|cuda|mps")
    s.add_argument("--out", metavar="RUN_DIR", help="the run folder (default: runs/<time>-<name>)")
    s.add_argument("--runs-root", default="runs", metavar="DIR", help=argparse.SUPPRESS)
    s.add_argument("--name", help="a name for the run folder")
    s.add_argument("--json", action="store_true", help="JSON output, for scripts")


def main(argv: Sequence[str] | None = None) -> int:
    from ..core.errors import UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
