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

from .console import ConsoleSink, JsonSink, ProgressLine, format_duration

EXIT_USAGE = 2

EXAMPLES = """\
examples:
  lmstudio-app prepare resources/corpus --out data/austen
  lmstudio-app pretrain --data data/austen --objective clm --preset tiny --max-steps 500
  lmstudio-app generate --run runs/<run> --prompt "It is a truth"
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
    from .core.corpus import CorpusOptions
    from .core.prepare import PrepareConfig, prepare
    from .core.tokenizer import TokenizerSpec

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
    from .core import runs
    from .core.config import build_run_config, parse_overrides
    from .core.control import RunControl
    from .core.errors import UserError
    from .core.trainer import Trainer

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
        from .core.tokenizer import Tokenizer

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
    from .core.generate import generate
    from .core.loading import load_run, require_objective

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
    from .core.loading import load_run, require_objective
    from .core.predict import fill_mask

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
    from .core.runs import list_runs

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
    from .core.samples import sample_corpus

    data = Path(args.workdir) / "data" / "sample"
    corpus = str(sample_corpus())
    print(f"sample corpus: {corpus}")
    cmd_prepare(build_parser().parse_args(["prepare", corpus, "--out", str(data)]))
    out = Path(args.workdir) / "runs"
    pre = ["pretrain", "--data", str(data), "--objective", "clm", "--preset", "tiny",
           "--max-steps", str(args.max_steps), "--runs-root", str(out), "--name", "sample",
           "--set", f"eval_interval={max(50, args.max_steps // 4)}"]
    cmd_pretrain(build_parser().parse_args(pre))
    from .core.runs import list_runs

    newest = list_runs(out)[0].path
    print("\nsample from the trained model:")
    return cmd_generate(build_parser().parse_args(
        ["generate", "--run", str(newest), "--prompt", "It is a truth", "--seed", "1",
         "--max-new-tokens", "80"]))


# ---------------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    from .core.config import PRESETS

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

    s = sub.add_parser("runs", help="list run folders")
    s.add_argument("--root", default="runs", metavar="DIR", help="where runs live (default runs)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("demo", help="the sample pipeline on the bundled corpus, in the terminal")
    s.add_argument("--workdir", default=".", metavar="DIR")
    s.add_argument("--max-steps", type=int, default=300, metavar="N")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .core.errors import UserError

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
