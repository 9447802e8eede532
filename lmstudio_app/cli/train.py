"""Commands that train: pretrain, finetune and compare-init.

Ctrl-C, SIGTERM (systemd, kill) and SIGHUP (a closed terminal, a logout) stop at the next step
boundary and save, leaving the run "stopped" and resumable; a second one aborts at once. A
resumed run takes the training fields it is given (the rules are the engine's:
`runs.resume_config`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import PRETRAIN_OBJECTIVES
from ..core.training.sinks import MetricsSink
from .args import (
    PRESET_CHOICES,
    add_arch_optimizer,
    add_device,
    add_finetune,
    add_keep_checkpoints,
    add_report_to,
    add_run_folder,
    add_set,
    positive_int,
    runs_root,
)
from .config_file import add_config, config_from_file
from .console import ConsoleSink, JsonSink
from .launch import add_nproc, launch, nodes_of

if TYPE_CHECKING:
    from ..core.training.compare import InitResult

STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, n))


def _install_stop_handler(control: Any) -> None:
    """First Ctrl-C (or SIGTERM, SIGHUP): stop at the next step boundary and save. Second:
    abort at once; under torchrun, where every rank must stop after the same step, the
    launcher alone aborts (it kills ranks that do not end in time)."""
    from ..core.training.distributed import world_size
    from ..core.util.device import process_rank

    together = world_size() > 1

    def handler(signum: int, frame: Any) -> None:
        if control.stop_requested:
            if together:
                return
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        with contextlib.suppress(OSError):  # a closed terminal cannot be written
            if process_rank() == 0:
                print(f"\n{name}: stopping at the next step and saving"
                      + ("" if together else " (again to abort)"), file=sys.stderr)
        if signum == getattr(signal, "SIGHUP", None):
            _detach_terminal()  # its terminal is gone: progress lines must not fail the save
        control.stop()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def _detach_terminal() -> None:
    """Send stdout and stderr to /dev/null (as nohup would)."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)


def _run_dir(args: argparse.Namespace, name: str) -> Path:
    """The new run's folder; under torchrun rank 0 makes it and the others take its name."""
    from ..core import runs
    from ..core.training.distributed import on_main

    if args.out:
        return on_main(lambda: runs.claim_run_dir(Path(args.out)))
    return on_main(lambda: runs.new_run_dir(runs_root(args), name))


def _drop_if_empty(run_dir: Path) -> None:
    """A new run that never started leaves no folder behind (its --out can be used again)."""
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from ..core.config import parse_overrides

    overrides = parse_overrides(args.set)
    for key in ("max_steps", "device", "num_train_epochs", "early_stopping_patience",
                "keep_checkpoints", "optimizer", "report_to"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if getattr(args, "compile", False):
        overrides["compile"] = True
    return overrides


def _train(cfg: Any, run_dir: Path, sink: MetricsSink, resume: bool) -> Any:
    """Run the trainer with stop handling; a failed run is a UserError with its message."""
    from ..core.errors import UserError
    from ..core.training.distributed import leave_process_group
    from ..core.training.folder_control import FolderControl
    from ..core.training.trainer import Trainer
    from ..core.util.device import process_rank

    control = FolderControl(run_dir)  # Ctrl-C, signals, and the run folder's control.json
    _install_stop_handler(control)
    main = process_rank() == 0  # under torchrun, rank 0 alone reports
    try:
        result = Trainer(cfg, run_dir, sink if main else MetricsSink(), control,
                         resume=resume).run()
    finally:
        leave_process_group()
    if result.reason == "failed":
        if not resume and main:
            _drop_if_empty(run_dir)
        raise result.user_error or UserError(result.error or "training failed")
    return result


# ---------------------------------------------------------------------------------------------
# pretrain


def add_pretrain_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--data", dest="data_dir", metavar="DATA_DIR", help="a folder made by prepare")
    s.add_argument("--objective", choices=PRETRAIN_OBJECTIVES, default="clm",
                   help="clm: next-token prediction (GPT); mlm: masked-LM (BERT)")
    s.add_argument("--preset", default="tiny", choices=PRESET_CHOICES)
    add_arch_optimizer(s)
    add_set(s)
    s.add_argument("--max-steps", type=positive_int, metavar="N")
    add_keep_checkpoints(s)
    add_report_to(s)
    add_device(s)
    s.add_argument("--compile", action="store_true", help="use torch.compile")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run")
    add_config(s)
    add_run_folder(s)
    add_nproc(s)


def _quiet_rank() -> bool:
    """One of torchrun's processes other than rank 0: rank 0 reports for all."""
    from ..core.util.device import process_rank

    return process_rank() != 0


def _launched(args: argparse.Namespace) -> int | None:
    """With --nproc N or --nnodes M above 1 (and not already one of torchrun's processes): run
    the command as N processes on this node and give their exit status; else None."""
    from ..core.errors import UserError
    from ..core.training.distributed import world_size

    nodes = nodes_of(args)
    if (args.nproc > 1 or nodes.nnodes > 1) and world_size() == 1:
        problem = nodes.check()
        if problem is not None:
            raise UserError(problem)
        return launch(args.argv, args.nproc, nodes)
    return None


def pretrain_config(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    """The new pretraining RunConfig that pretrain's options describe (--data, --objective,
    --preset, --arch, --set, ...); UserError naming the option at fault."""
    from ..core.config import build_run_config
    from ..core.data.layout import TOKENIZER
    from ..core.data.tokenizer import Tokenizer
    from ..core.errors import UserError

    if not args.data_dir:
        raise UserError("pretraining needs a prepared data folder.", field="data_dir")
    tok_path = Path(args.data_dir) / TOKENIZER
    if not tok_path.is_file():
        raise UserError(f"{args.data_dir}: no {TOKENIZER} here; prepare a corpus into this "
                        "folder first.", field="data_dir")
    vocab = Tokenizer.load(tok_path).vocab_size
    return build_run_config(args.objective, args.preset, vocab, overrides,
                            data_dir=str(args.data_dir), name=args.name or "", arch=args.arch)


def pretrain_run_config(args: argparse.Namespace) -> Any:
    """The run's configuration (--resume, --config or a new run), from this node's files (no
    collective: `agree` runs it)."""
    from ..core import runs
    from ..core.errors import UserError

    overrides = _overrides(args)
    if args.resume:
        return runs.resume_config(Path(args.resume), overrides)
    if args.config_file:
        cfg = config_from_file(Path(args.config_file), overrides)
        if cfg.finetune is not None:
            raise UserError(f"{args.config_file} describes a fine-tuning run: train it as one.",
                            field="config_file")
        return cfg
    return pretrain_config(args, overrides)


def _agreed_run(args: argparse.Namespace, build: Any) -> tuple[Any, Path]:
    """(the run's configuration from `build(args)`, its folder): built by every process, on
    every node, or by none (`cluster.agree`)."""
    from ..core.training.cluster import agree

    cfg = agree(lambda: build(args))
    return cfg, Path(args.resume) if args.resume else _run_dir(args, args.name or cfg.name)


def run_pretrain(args: argparse.Namespace) -> int:
    launched = _launched(args)
    if launched is not None:
        return launched
    cfg, run_dir = _agreed_run(args, pretrain_run_config)
    result = _train(cfg, run_dir, JsonSink() if args.json else ConsoleSink(), bool(args.resume))
    if _quiet_rank():
        return 0
    if not args.json:
        best = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "n/a"
        print(f"{result.reason} at step {result.step}; best val loss {best}; run {run_dir}")
    return 0


# ---------------------------------------------------------------------------------------------
# finetune and compare-init


class _DataNote(MetricsSink):
    """Shows what the labeled files held (rows used, skipped lines) once the run has started."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def started(self, info: dict[str, Any]) -> None:
        from ..core import runs

        report = runs.read_file(Path(info["run_dir"]), runs.DATA_REPORT)
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


def _task_from_fields(args: argparse.Namespace) -> str:
    """The task the training file's fields choose (--task left out), said on stderr."""
    from ..core.data.labeled import kind_of_file
    from ..core.errors import UserError

    if not args.train_file:
        raise UserError("fine-tuning needs a task.", field="task")
    kind = kind_of_file(args.train_file, args.encoding, delimiter=args.delimiter,
                        quoting=args.quoting)
    if kind is None:
        raise UserError(f"{args.train_file}: its fields do not say which task it is for; "
                        "name the task.", field="task")
    print(f"task: {kind.task} ({Path(args.train_file).name} has the fields "
          f"{', '.join(kind.fields)}: {kind.title})", file=sys.stderr)
    return kind.task


def _finetune_config(args: argparse.Namespace) -> Any:
    from ..core.config import FinetuneConfig
    from ..core.objectives.finetune_setup import make_finetune_config

    task = args.task or _task_from_fields(args)
    ft = FinetuneConfig(
        task=task, train_file=args.train_file or "", val_file=args.val_file or "",
        test_file=args.test_file or "", encoding=args.encoding, delimiter=args.delimiter,
        quoting=args.quoting, keep_label_case=args.keep_label_case,
        text_col=args.text_col, label_col=args.label_col, question_col=args.question_col,
        context_col=args.context_col, answer_col=args.answer_col,
        answer_start_col=args.answer_start_col or "",
        base_run=args.base_run or "", scratch=bool(args.scratch),
        tokenizer_from=args.tokenizer_from or "", freeze_embeddings=args.freeze_embeddings,
        freeze_layers=args.freeze_layers, body_lr_scale=args.body_lr_scale,
        class_weights=args.class_weights, pooling=args.pooling, max_length=args.max_length,
        stride=args.stride, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        split_seed=args.split_seed, chat_template=args.chat_template or "",
        assistant_only_loss=args.assistant_only_loss, packing=args.packing, beta=args.beta,
    )
    if args.template is not None:
        ft.template = args.template.replace("\\n", "\n")
    ft.validate()
    cfg = make_finetune_config(ft, preset=args.preset, arch=args.arch,
                               overrides=_overrides(args), name=args.name or "")
    cfg.lora = lora_settings(args)
    cfg.validate()
    return cfg


def lora_settings(args: argparse.Namespace) -> Any:
    """The LoRA section --lora (or --qlora) asks for, with the --lora-* values given; None
    without them."""
    from ..core.lora_config import LoraSettings

    if not (getattr(args, "lora", False) or getattr(args, "load_in_4bit", False)):
        return None
    given = {k: getattr(args, k) for k in ("r", "lora_alpha", "lora_dropout")
             if getattr(args, k, None) is not None}
    targets = [t.strip() for t in (args.lora_target or "").split(",") if t.strip()]
    return LoraSettings(**given, target_modules=targets, load_in_4bit=args.load_in_4bit)


def print_baselines(baselines: dict[str, Any]) -> None:
    """The baselines beside a score, on the same split (results.json's "baselines")."""
    from ..core.objectives.baselines import baseline_lines

    for line in baseline_lines(baselines):
        print(f"  baseline, {line}")


def _print_report(report: dict[str, Any]) -> None:
    from ..core.training.compare import headline

    figures = ", ".join(f"{k} {v:.4f}" for k, v in headline(report).items())
    print(f"test ({report.get('n', 0)} examples): {figures}")
    print_baselines(report.get("baselines") or {})
    for label, row in report.get("per_class", {}).items():
        print(f"  {label:<16} precision {row['precision']:.3f} recall {row['recall']:.3f} "
              f"f1 {row['f1']:.3f} support {row['support']}")
    if report.get("confusion"):
        print("  confusion (rows true, columns predicted): "
              + " | ".join(" ".join(str(c) for c in row) for row in report["confusion"]))


def add_finetune_arguments(s: argparse.ArgumentParser) -> None:
    add_finetune(s)
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped fine-tune")
    add_config(s)
    add_nproc(s)


def finetune_run_config(args: argparse.Namespace) -> Any:
    """The fine-tune's configuration, from this node's files (`agree` runs it)."""
    from ..core import runs
    from ..core.errors import UserError

    if args.resume:
        cfg = runs.resume_config(Path(args.resume), _overrides(args))
        if cfg.finetune is None:
            raise UserError(f"{Path(args.resume)} is a pretraining run; continue it as a "
                            "pretraining run.", field="resume")
    elif args.config_file:
        cfg = config_from_file(Path(args.config_file), _overrides(args))
        if cfg.finetune is None:
            raise UserError(f"{args.config_file} describes a pretraining run: train it as one.",
                            field="config_file")
    else:
        cfg = _finetune_config(args)
    return cfg


def run_finetune(args: argparse.Namespace) -> int:
    launched = _launched(args)
    if launched is not None:
        return launched
    from ..core import runs
    from ..core.training.sinks import FanOutSink

    cfg, run_dir = _agreed_run(args, finetune_run_config)
    sink = FanOutSink(_DataNote(args.json), JsonSink() if args.json else ConsoleSink())
    result = _train(cfg, run_dir, sink, bool(args.resume))
    if _quiet_rank():
        return 0
    report = runs.read_file(run_dir, runs.RESULTS)
    if args.json:
        print(json.dumps({"event": "results", "run_dir": str(run_dir), "reason": result.reason,
                          "step": result.step, **report}))
    else:
        print(f"{result.reason} at step {result.step}; run {run_dir}")
        if report:
            _print_report(report)
    return 0


def add_compare_init_arguments(s: argparse.ArgumentParser) -> None:
    add_finetune(s)
    s.add_argument("--seeds", type=positive_int, metavar="N",
                   help="repeat the comparison with N seeds (default: 3 under 10,000 training "
                        "rows, else 1)")


def run_compare_init(args: argparse.Namespace) -> int:
    from ..core.errors import UserError
    from ..core.objectives.finetune_setup import scratch_twin
    from ..core.training.compare import (
        baselines_of,
        compare_seeds,
        completed_pairs,
        seeds_for,
        summarize_pairs,
        verdict_of,
    )
    from ..core.training.control import RunControl

    if not args.base_run:
        raise UserError("the comparison needs the pretrained run to compare.", field="base_run")
    cfg = _finetune_config(args)
    twin = scratch_twin(cfg)
    seeds = seeds_for(cfg, args.seeds)
    claimed = _claim_compare_dirs(args, cfg.name, twin.name, seeds)
    control = RunControl()
    _install_stop_handler(control)

    def sink_for(init: str, seed: int) -> MetricsSink | None:
        if args.json:
            return None
        print(f"== fine-tuning from {init} (seed {seed}) ==", file=sys.stderr)
        return ConsoleSink()

    try:
        pairs = compare_seeds(cfg, seeds, claimed.__getitem__, sink_for, control)
    finally:
        for dirs in claimed.values():  # a side that never ran leaves no empty folder
            for run_dir in dirs:
                _drop_if_empty(run_dir)
    said, summary, baselines = verdict_of(pairs), summarize_pairs(pairs), baselines_of(pairs)
    if args.json:
        pre, scr = pairs[0]
        print(json.dumps({
            "pretrained": pre.as_dict(), "scratch": scr.as_dict(),
            "difference": {k: v["difference"] for k, v in summary.items()},
            "seeds": seeds, "summary": summary, "baselines": baselines,
            "pairs": [{"seed": seed, "pretrained": p.as_dict(), "scratch": s.as_dict()}
                      for seed, (p, s) in zip(seeds, pairs, strict=True)],
            "verdict": said.text}))
    else:
        _print_summary(summary, len(completed_pairs(pairs)))
        print_baselines(baselines)
        _print_sides(seeds, pairs)
        print(said.text)
    failed = [s for pair in pairs for s in pair if s.reason == "failed"]
    if failed:
        raise UserError(f"{failed[0].init} run failed: {failed[0].error}")
    return 0


def _claim_compare_dirs(args: argparse.Namespace, name: str, twin_name: str,
                        seeds: list[int]) -> dict[int, tuple[Path, Path]]:
    """The (pretrained, scratch) run folders of each seed, every one claimed before the first
    run starts, so that a clash fails at once: under --out as given, else new folders."""
    from ..core import runs

    claimed: dict[int, tuple[Path, Path]] = {}
    for seed in seeds:
        if args.out:
            out = Path(args.out) / (f"seed-{seed}" if len(seeds) > 1 else "")
            claimed[seed] = (runs.claim_run_dir(out / "pretrained"),
                             runs.claim_run_dir(out / "scratch"))
        else:
            tag = f"-seed{seed}" if len(seeds) > 1 else ""
            claimed[seed] = (runs.new_run_dir(runs_root(args), name + tag),
                             runs.new_run_dir(runs_root(args), twin_name + tag))
    return claimed


def _print_sides(seeds: list[int], pairs: list[tuple[InitResult, InitResult]]) -> None:
    """How each side of each seed ended: its reason, step and run folder."""
    from ..core.training.compare import NOT_STARTED

    for seed, pair in zip(seeds, pairs, strict=True):
        for side in pair:
            note = f" ({side.error})" if side.error else ""
            print(f"{side.init} (seed {seed}): did not start" if side.reason == NOT_STARTED
                  else f"{side.init} (seed {seed}): {side.reason} at step {side.step}, run "
                       f"{side.run_dir}{note}")


def _print_summary(summary: dict[str, dict[str, float]], n_seeds: int) -> None:
    """Both sides' test figures and their difference; over the `n_seeds` seeds that finished,
    mean ± sd."""
    if n_seeds == 1:
        print(f"{'':<14}{'pretrained':>12}{'scratch':>12}{'difference':>12}")
        for key, m in summary.items():
            print(f"{key:<14}{m['pretrained']:>12.4f}{m['scratch']:>12.4f}"
                  f"{m['difference']:>+12.4f}")
        return
    print(f"{'':<14}{'pretrained':>18}{'scratch':>18}{'difference':>18}   (mean ± sd over "
          f"{n_seeds} seeds; the difference paired by seed)")
    for key, m in summary.items():
        cells = [f"{m[side]:.4f} ± {m[side + '_sd']:.4f}" for side in ("pretrained", "scratch")]
        cells.append(f"{m['difference']:+.4f} ± {m['difference_sd']:.4f}")
        print(f"{key:<14}" + "".join(f"{c:>18}" for c in cells))
