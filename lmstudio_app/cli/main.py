"""The headless command line: the same engine as the window, driven from a terminal.

`COMMANDS` is the table of commands: each row names the command, the module that implements
it (its `add_<name>_arguments` and `run_<name>`) and its help line. Every user mistake ends as
one readable line on stderr and exit status 2, never a traceback; an engine error that names a
configuration field gets the flag that sets it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import benchmark, chat, instruments, interchange, lr_find, prepare, sweep, train, use
from .args import EXIT_USAGE, Parser, flag_for, positive_int

EXAMPLES = """\
examples:
  lmstudio-app prepare resources/corpus --out data/austen
  lmstudio-app pretrain --data data/austen --objective clm --preset tiny --max-steps 500
  lmstudio-app generate --run runs/<run> --prompt "It is a truth"
  lmstudio-app finetune --task classify --train reviews.csv --from runs/<run> --out runs/cls
  lmstudio-app classify --run runs/cls "What a lovely day"
  lmstudio-app chat --run runs/<sft-run> --system "Answer briefly."
  lmstudio-app export --run runs/<run> --format hf --out exported/<name>
  lmstudio-app import --hf path/to/gpt2 --out runs/gpt2
  lmstudio-app runs

the desktop menu:
  lmstudio-app --install-desktop     add the app to the menu (a .desktop entry and its icons)
  lmstudio-app --uninstall-desktop   remove them
"""


@dataclass(frozen=True)
class Command:
    """One command: the module that implements it and its help line. The module holds
    `add_<name>_arguments(parser)` and `run_<name>(args) -> exit status`, <name> being the
    command's name with "-" written "_" (compare-init: add_compare_init_arguments,
    run_compare_init), so a command is named once, in its row of `COMMANDS`."""

    module: ModuleType
    help: str

    def functions(self, name: str) -> tuple[Callable[[argparse.ArgumentParser], None],
                                            Callable[[argparse.Namespace], int]]:
        """The functions that add `name`'s options and run it."""
        stem = name.replace("-", "_")
        add: Callable[[argparse.ArgumentParser], None] = getattr(
            self.module, f"add_{stem}_arguments")
        run: Callable[[argparse.Namespace], int] = getattr(self.module, f"run_{stem}")
        return add, run


def add_demo_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--workdir", default=".", metavar="DIR")
    s.add_argument("--max-steps", type=positive_int, default=300, metavar="N")


def run_demo(args: argparse.Namespace) -> int:
    """The sample pipeline on the bundled corpus: prepare, a short pretraining, a sample."""
    from ..core.data.samples import sample_corpus
    from ..core.runs import list_runs

    data = Path(args.workdir) / "data" / "sample"
    corpus = str(sample_corpus())
    print(f"sample corpus: {corpus}")
    _dispatch(["prepare", corpus, "--out", str(data)])
    out = Path(args.workdir) / "runs"
    _dispatch(["pretrain", "--data", str(data), "--objective", "clm", "--preset", "tiny",
               "--max-steps", str(args.max_steps), "--runs-root", str(out), "--name", "sample",
               "--set", f"eval_interval={max(50, args.max_steps // 4)}"])
    newest = list_runs(out)[0].path
    print("\nsample from the trained model:")
    return _dispatch(["generate", "--run", str(newest), "--prompt", "It is a truth", "--seed",
                      "1", "--max-new-tokens", "80"])


# The commands, in the order `--help` lists them: one row each, the module and the help line.
COMMANDS: dict[str, Command] = {
    "prepare": Command(prepare, "corpora -> SentencePiece tokenizer -> HDF5 token store"),
    "pretrain": Command(train, "pretrain a GPT (clm) or BERT (mlm) model"),
    "generate": Command(use, "sample text from a GPT run, streamed"),
    "fill-mask": Command(use, "top predictions for [MASK] from a BERT run"),
    "finetune": Command(train, "fine-tune a pretrained run (or a model from scratch) on a "
                        "labeled file"),
    "compare-init": Command(train, "fine-tune from the pretrained run and from scratch with "
                            "equal budgets, and compare"),
    "eval": Command(use, "score a fine-tuned run on a labeled file (JSON on stdout)"),
    "classify": Command(use, "label texts with a fine-tuned classify run"),
    "answer": Command(use, "answer a question with a fine-tuned QA run"),
    "chat": Command(chat, "talk with a chat-tuned run (finetune --task sft) in the terminal"),
    "token-losses": Command(instruments, "the loss of each token of a passage under a "
                            "pretrained run"),
    "hard-tokens": Command(instruments, "the token types of the validation split the model "
                           "finds hardest"),
    "attention": Command(instruments, "attention weights of every layer and head for a text"),
    "embeddings": Command(instruments, "a run's token embeddings in 2-D or 3-D (PCA or UMAP) for "
                          "TensorBoard's projector or a spreadsheet"),
    "lr-find": Command(lr_find, "the learning-rate range test: a suggested rate for a new run's "
                       "settings or an existing run"),
    "benchmark": Command(benchmark, "lm-evaluation-harness tasks on a GPT or Llama run (kept in "
                         "the run)"),
    "sweep": Command(sweep, "several runs over chosen fields (grid, random, TPE), the best "
                     "applied"),
    "runs": Command(use, "list run folders"),
    "export": Command(interchange, "write a run as a Hugging Face folder or a GGUF file"),
    "import": Command(interchange, "make a run from a local Hugging Face GPT-2 or BERT folder"),
    "demo": Command(sys.modules[__name__], "the sample pipeline on the bundled corpus, in the "
                    "terminal"),
}


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The parser and, by command name, each command's own parser."""
    p = Parser(
        prog="lmstudio-app",
        description="Pretrain and fine-tune small language models on your own machine. "
        "With no command, opens the window.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parsers = {}
    for name, command in COMMANDS.items():
        add_arguments, run = command.functions(name)
        s = sub.add_parser(name, help=command.help, description=command.help)
        add_arguments(s)
        s.set_defaults(handler=run)
        parsers[name] = s
    return p, parsers


def describe(exc: Exception, parser: argparse.ArgumentParser | None) -> str:
    """A UserError's line, with the flag that fixes it when the error names a field."""
    from ..core.errors import UserError

    text = str(exc)
    if not isinstance(exc, UserError) or exc.field is None or parser is None:
        return text
    flag = flag_for(parser, exc.field)
    if flag is None:
        return text
    if flag == "--set":
        flag = f"--set {exc.field}={exc.option if exc.option is not None else 'VALUE'}"
    elif exc.option is not None:
        flag = f"{flag} {exc.option}"
    return f"{text} (use {flag})" if exc.option is not None else f"{text} (option {flag})"


def _dispatch(argv: Sequence[str]) -> int:
    parser, parsers = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from ..core.errors import UserError

    args.argv = list(argv)  # what --nproc hands each process it launches
    try:
        code: int = args.handler(args)
        return code
    except UserError as exc:
        exc.command_parser = parsers[args.command]  # type: ignore[attr-defined]
        raise


def _safe_streams() -> None:
    """Text that cannot be encoded (a path with bytes that are not UTF-8, a lone surrogate) is
    written escaped rather than ending the command with a traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


RANK_GRACE_S = 5.0  # how long a failed rank other than 0 waits for rank 0 to report


def main(argv: Sequence[str] | None = None) -> int:
    from ..core.errors import UserError
    from ..core.util.disk import storage_error

    _safe_streams()
    try:
        return _dispatch(list(sys.argv[1:] if argv is None else argv))
    except UserError as exc:
        # torch: only once a command has failed
        from ..core.training.cluster import says_on_this_node

        if says_on_this_node(exc):  # under torchrun, rank 0 says it for every rank
            print(f"error: {describe(exc, getattr(exc, 'command_parser', None))}",
                  file=sys.stderr)
        else:
            # The launcher stops every process once one fails: let rank 0 say why and end
            # first (it stops this one then), so its line and exit status are the job's.
            time.sleep(RANK_GRACE_S)
        return EXIT_USAGE
    except OSError as exc:
        # What the engine did not name itself: still one line, naming the file.
        if isinstance(exc, BrokenPipeError):
            return 0
        named = storage_error(exc, exc.filename or ".") if exc.filename else None
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {named or f'{where}{exc.strerror or exc}'}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("error: not enough memory; use a smaller model, batch or corpus", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
