"""Which fine-tuning defaults make "does pretraining help?" honest? A sweep, with baselines.

The protocol of a new user: a labeled file is cut into a held-out test part (stratified) and a
labeled part (--labeled-rows); a tiny GPT is pretrained with the app's defaults
(`lmstudio-app prepare` + `pretrain --preset tiny --max-steps N`) on the texts of everything
but the test part; then `compare-init` fine-tunes from the pretrained run and from scratch with
equal budgets on the labeled part (the engine carves its validation rows from it, 10%), and
both are scored on the test part. Every configuration is run for --seeds seeds (paired: the
same seed for both sides); the table gives the test accuracy as mean and standard deviation
over seeds, the gain (paired differences), the pretrained side's mean test macro F1, the
validation accuracy of the checkpoint chosen and the steps trained. Majority-class and TF-IDF +
logistic-regression lines are fitted on the same train/validation rows and scored on the same
test rows.

Early stopping is emulated: each run evaluates the validation split (the engine's accuracy)
and, from a wrapper objective defined here, the test split at every evaluation; a rule "stop
after P evaluations without a new best validation accuracy, keep the best checkpoint" is then
applied to the recorded curve. Within one run's step budget this is exactly what the engine
would do (the cosine schedule is the run's own), so one run scores every patience.

Finished runs are cached under --workdir (one JSON per config, init and seed), so a sweep
resumes where it stopped and `--table` alone reprints. One training process, one thread:

    OMP_NUM_THREADS=1 python bench/finetune_sweep.py tweets.csv --text-col text \\
        --label-col sentiment --encoding latin-1 --workdir /tmp/sweep-tweets \\
        --configs issue-defaults,recommended --seeds 3
    python bench/finetune_sweep.py resources/labeled/sentiment.csv --workdir /tmp/sweep-bundled \\
        --labeled-rows 0 --test-rows 150 --pretrain-corpus resources/corpus \\
        --pretrain-steps 1500 --configs all

The sweep chose the engine's fine-tuning defaults (core/presets.py FINETUNE_TRAIN, the budget
in training/budget.py, the pooling in models/heads.py default_pooling): its "recommended" row
is what a user gets on a small set and "rec-eos" from 1,000 training rows (a GPT head reading
an appended end token); the "defaults" row runs the engine's own defaults unchanged (no
override but the seed), as a check. The rows named
"engine-defaults" are the defaults before the change (300 steps, evaluation every 50).
Results and tables: bench/results/finetune_defaults.md.

It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetune_sentiment import split_rows, write_labeled  # noqa: E402

from lmstudio_app.core.config import FinetuneConfig, build_run_config  # noqa: E402
from lmstudio_app.core.data import labeled  # noqa: E402
from lmstudio_app.core.objectives import REGISTRY, scores  # noqa: E402
from lmstudio_app.core.objectives.baselines import majority, tfidf_logreg  # noqa: E402
from lmstudio_app.core.objectives.classify import ClassifyObjective  # noqa: E402
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config  # noqa: E402
from lmstudio_app.core.training.budget import resolve_budget  # noqa: E402
from lmstudio_app.core.training.compare import compare_init, headline  # noqa: E402
from lmstudio_app.core.training.sinks import MetricsSink  # noqa: E402

# ---------------------------------------------------------------------------------------------
# The configurations. Keys: pooling, learning_rate, body_lr_scale, weight_decay, dropout,
# batch_size, warmup (fraction of the budget, or None for the engine's min(100, steps // 20)),
# and a budget: "steps" (fixed) or "epochs" (ceil(epochs * train rows / batch), at least
# "min_steps"), and an
# evaluation interval: "eval_interval" (steps) or "evals_per_epoch".

ISSUE = {"pooling": "auto", "learning_rate": 5e-4, "body_lr_scale": 1.0, "weight_decay": 0.01,
         "dropout": 0.0, "batch_size": 16, "warmup": None, "steps": 800, "eval_interval": 50}
# The centre of the one-factor-at-a-time sweep (chosen after the first screening runs).
CENTRE = {"pooling": "mean", "learning_rate": 3e-4, "body_lr_scale": 1.0, "weight_decay": 0.01,
          "dropout": 0.1, "batch_size": 16, "warmup": 0.06, "epochs": 10,
          "evals_per_epoch": 2}


def _v(base: dict[str, Any], **change: Any) -> dict[str, Any]:
    out = dict(base)
    if "epochs" in change:
        out.pop("steps", None)
    if "steps" in change:
        out.pop("epochs", None)
    out.update(change)
    return out


CONFIGS: dict[str, dict[str, Any]] = {
    "engine-defaults": _v(ISSUE, steps=300),  # FINETUNE_TRAIN before the sweep
    "defaults": {"engine": True},  # FINETUNE_TRAIN now: nothing overridden but the seed
    "issue-defaults": ISSUE,  # what the issue ran: 800 steps
    "issue+mean": _v(ISSUE, pooling="mean"),
    "issue+lr3e-4": _v(ISSUE, learning_rate=3e-4),
    "centre": CENTRE,
    "c-last": _v(CENTRE, pooling="last"),
    "c-lr1e-4": _v(CENTRE, learning_rate=1e-4),
    "c-lr1e-3": _v(CENTRE, learning_rate=1e-3),
    "c-body0.5": _v(CENTRE, body_lr_scale=0.5),
    "c-drop0": _v(CENTRE, dropout=0.0),
    "c-drop0.2": _v(CENTRE, dropout=0.2),
    "c-wd0.1": _v(CENTRE, weight_decay=0.1),
    "c-warm0": _v(CENTRE, warmup=0.0),
    "c-ep5": _v(CENTRE, epochs=5),
    "c-ep20": _v(CENTRE, epochs=20),
    "c-bs32": _v(CENTRE, batch_size=32),
    "c-ep3": _v(CENTRE, epochs=3),
    "c-ep3-last": _v(CENTRE, epochs=3, pooling="last"),
    "c-ep3-lr5e-4": _v(CENTRE, epochs=3, learning_rate=5e-4),
    "c-ep3-body0.5": _v(CENTRE, epochs=3, body_lr_scale=0.5),
}
# What the sweep chose (see bench/results/finetune_defaults.md).
# 3 epochs, at least 300 steps: 3 epochs alone is 78 steps on the bundled 405 training rows.
CONFIGS["recommended"] = _v(CENTRE, epochs=3, min_steps=300, pooling="last",
                            learning_rate=5e-4, dropout=0.0)
# The budget rule's two ends: epochs alone (no minimum), and other minimums.
CONFIGS["rec-ep6"] = _v(CONFIGS["recommended"], epochs=6, min_steps=1)
CONFIGS["rec-ep10"] = _v(CONFIGS["recommended"], epochs=10, min_steps=1)
CONFIGS["rec-wd0.1"] = _v(CONFIGS["recommended"], weight_decay=0.1)
CONFIGS["rec-warm0"] = _v(CONFIGS["recommended"], warmup=0.0)
CONFIGS["rec-min150"] = _v(CONFIGS["recommended"], min_steps=150)
CONFIGS["rec-min600"] = _v(CONFIGS["recommended"], min_steps=600)
# The engine applies a fine-tuning dropout only to the model from scratch (the pretrained body
# keeps its pretraining config's dropout, 0): every row above with dropout 0.1 had it on the
# scratch side only. "both_sides" gives the pretrained side the same dropout through a copy of
# the base run whose config.json says so (same weights and tokenizer).
CONFIGS["rec-drop0.1"] = _v(CONFIGS["recommended"], dropout=0.1, both_sides=True)
# GPT-1's extract token: the text then an end token, whose state the head reads (the engine's
# pooling "eos", what "auto" gives a GPT body from 1,000 training rows).
CONFIGS["rec-eos"] = _v(CONFIGS["recommended"], pooling="eos")
PATIENCES = (None, 2, 3, 5)  # evaluations without a new best validation accuracy


# ---------------------------------------------------------------------------------------------
# Data and the pretrained run (cached in the work folder)


def setup(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Write train.csv / test.csv / unlabeled.csv, prepare and pretrain once; the split."""
    from lmstudio_app.core.data.corpus import CorpusOptions
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec
    from lmstudio_app.core.training.trainer import Trainer

    examples, _ = labeled.load_classification(
        args.file, labeled.ClassificationColumns(args.text_col, args.label_col), args.encoding)
    n_labeled = args.labeled_rows or len(examples) - args.test_rows
    train, _, test, rest = split_rows(examples, n_labeled, 0, args.test_rows, args.seed)
    train_csv, test_csv = work / "train.csv", work / "test.csv"
    if not train_csv.is_file():
        write_labeled(train_csv, train)
        write_labeled(test_csv, test)
        corpus = work / "unlabeled.csv"
        write_labeled(corpus, train + rest)  # the labels column is ignored by prepare
    base = work / "pretrain-clm"
    if not (base / "best.safetensors").is_file():
        sources = args.pretrain_corpus or [str(work / "unlabeled.csv")]
        data = prepare(PrepareConfig(sources=sources,
                                     out_dir=str(work / "data"),
                                     tokenizer=TokenizerSpec("unigram", args.vocab_size),
                                     corpus=CorpusOptions(text_field="text")))
        cfg = build_run_config("clm", "tiny", data.vocab_size,
                               {"max_steps": args.pretrain_steps, "device": "cpu"},
                               data_dir=str(data.out_dir), name="sweep-pretrain")
        t = time.perf_counter()
        res = Trainer(cfg, base, Echo("pretrain")).run()
        (work / "pretrain_time.json").write_text(json.dumps(
            {"seconds": time.perf_counter() - t, "steps": res.step,
             "best_val_loss": res.best_val_loss}))
    split, _ = labeled.load_splits(train_csv, None, test_csv)  # the engine's own carving
    return {"base": base, "train_csv": train_csv, "test_csv": test_csv, "split": split,
            "pretrain": json.loads((work / "pretrain_time.json").read_text())}


class Echo(MetricsSink):
    """Prints each evaluation and keeps its figures (bench/qa_generalise.py uses it too)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.evals: list[dict[str, Any]] = []

    def evaluation(self, m) -> None:  # type: ignore[no-untyped-def]
        self.evals.append({"step": m.step, "val_loss": m.val_loss, "train_loss": m.train_loss,
                           **{k: v for k, v in m.extra.items() if isinstance(v, float)}})
        print(f"  [{self.tag}] step {m.step}: val loss {m.val_loss:.4f} "
              + " ".join(f"{k} {v:.4f}" for k, v in m.extra.items()
                         if isinstance(v, float)), flush=True)

    def failed(self, message: str) -> None:
        print(f"  [{self.tag}] FAILED: {message}", flush=True)


class TracedClassify(ClassifyObjective):
    """The engine's classification objective, also scoring the test split at each evaluation
    (for the emulated early stopping; the run's own choices still use validation only)."""

    def eval_extra(self, model: torch.nn.Module, val_loss: float) -> dict[str, float]:
        out = super().eval_extra(model, val_loss)
        test = self.split.test
        pred = self.predict(model, self.tok, self.cfg, [e.text for e in test])
        truth = [e.label for e in test]
        out["test_accuracy"] = scores.accuracy(truth, pred)
        out["test_macro_f1"] = scores.macro_f1(truth, pred, self.labels)
        return out


# ---------------------------------------------------------------------------------------------
# One configuration, one seed: compare-init with the engine, curves recorded


def budget(conf: dict[str, Any], n_train: int) -> tuple[int, int, int]:
    """(max_steps, eval_interval, warmup_steps or -1 for the engine's) for n_train rows."""
    per_epoch = math.ceil(n_train / conf["batch_size"])
    steps = conf["steps"] if "steps" in conf else max(1, round(conf["epochs"] * per_epoch))
    steps = max(steps, conf.get("min_steps", 1))  # a small set still gets a useful budget
    if "eval_interval" in conf:
        every = conf["eval_interval"]
    else:
        every = max(1, round(per_epoch / conf["evals_per_epoch"]))
    # None: the engine's default, min(100, steps // 20); a fraction: that share of the budget.
    warm = -1 if conf["warmup"] is None else round(conf["warmup"] * steps)
    return steps, every, warm


def base_with_dropout(base: Path, dropout: float) -> Path:
    """A sibling of the pretrained run folder whose config.json sets the model's dropout (the
    other files are links to the original's), so the pretrained side fine-tunes with it."""
    twin = base.with_name(f"{base.name}-dropout{dropout:g}")
    if not (twin / "config.json").is_file():
        twin.mkdir(exist_ok=True)
        for f in base.iterdir():
            if f.name != "config.json" and not (twin / f.name).exists():
                (twin / f.name).symlink_to(f.resolve())
        data = json.loads((base / "config.json").read_text())
        data["run"]["model"]["dropout"] = dropout
        (twin / "config.json").write_text(json.dumps(data, indent=2))
    return twin


def run_one(name: str, seed: int, ctx: dict[str, Any], work: Path) -> dict[str, Any]:
    out_file = work / "results" / f"{name}-{seed}.json"
    if out_file.is_file():
        return json.loads(out_file.read_text())
    conf = CONFIGS[name]
    n_train = len(ctx["split"].train)
    base = ctx["base"]
    if conf.get("both_sides"):
        base = base_with_dropout(base, conf["dropout"])
    if conf.get("engine"):  # the engine's own defaults, derived from the split as a user's
        ft = FinetuneConfig(task="classify", train_file=str(ctx["train_csv"]),
                            test_file=str(ctx["test_csv"]), base_run=str(base))
        cfg = make_finetune_config(ft, overrides={"seed": seed, "device": "cpu"},
                                   name=f"{name}-pretrained")
        resolved = resolve_budget(cfg.train, n_train)
        assert resolved.max_steps is not None and resolved.eval_interval is not None
        steps, every, warm = resolved.max_steps, resolved.eval_interval, -1
    else:
        steps, every, warm = budget(conf, n_train)
        ft = FinetuneConfig(task="classify", train_file=str(ctx["train_csv"]),
                            test_file=str(ctx["test_csv"]), base_run=str(base),
                            pooling=conf["pooling"], body_lr_scale=conf["body_lr_scale"])
        over = {"max_steps": steps, "eval_interval": every,
                "learning_rate": conf["learning_rate"], "weight_decay": conf["weight_decay"],
                "dropout": conf["dropout"], "batch_size": conf["batch_size"], "seed": seed,
                "device": "cpu", "log_interval": max(1, every // 2)}
        cfg = make_finetune_config(ft, overrides=over, name=f"{name}-pretrained")
    if warm >= 0:
        cfg.train.warmup_steps = warm
    sinks: dict[str, Echo] = {}

    def sink_for(init: str) -> Echo:
        sinks[init] = Echo(f"{name} {init} {seed}")
        return sinks[init]

    REGISTRY["classify"] = TracedClassify  # build_setup looks the class up when a run starts
    t = time.perf_counter()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    pre, scr = compare_init(cfg, (work / "runs" / f"{name}-{seed}-{stamp}-pre",
                                  work / "runs" / f"{name}-{seed}-{stamp}-scr"), sink_for)
    out = {"config": name, "seed": seed, "max_steps": steps, "eval_interval": every,
           "warmup_steps": cfg.train.warmup_steps, "seconds": time.perf_counter() - t,
           "n_train": n_train}
    for side in (pre, scr):
        out[side.init] = {"reason": side.reason, "final": headline(side.report),
                          "evals": sinks[side.init].evals if side.init in sinks else []}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(out))
    return out


# ---------------------------------------------------------------------------------------------
# Emulated early stopping and the table


def stop_at(evals: Sequence[dict[str, Any]], patience: int | None, select: str = "accuracy"
            ) -> tuple[dict[str, Any], int]:
    """(the evaluation whose weights are kept, the step training stopped at): the best value of
    `select` so far ("accuracy": highest validation accuracy, first of equals as the engine's
    strict comparison; "loss": lowest validation loss), stopping after `patience` evaluations
    without a new best."""
    def better(e: dict[str, Any], best: dict[str, Any]) -> bool:
        if select == "loss":
            return e["val_loss"] < best["val_loss"]
        return e["accuracy"] > best["accuracy"]

    best, bad = evals[0], 0
    for k, e in enumerate(evals):
        if k and better(e, best):
            best, bad = e, 0
        elif k:
            bad += 1
        if patience is not None and bad >= patience:
            return best, e["step"]
    return best, evals[-1]["step"]


def _ms(xs: Sequence[float]) -> str:
    if not xs:
        return "-"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.fmean(xs):.3f}±{sd:.3f}"


def summarize(name: str, runs: list[dict[str, Any]], patience: int | None,
              select: str = "accuracy") -> dict[str, Any]:
    row: dict[str, Any] = {"config": name, "patience": patience, "seeds": len(runs),
                           "select": select}
    for init in ("pretrained", "scratch"):
        picked = [stop_at(r[init]["evals"], patience, select) for r in runs if r[init]["evals"]]
        row[init] = [p[0]["test_accuracy"] for p in picked]
        row[init + "_f1"] = [p[0]["test_macro_f1"] for p in picked]
        row[init + "_val"] = [p[0]["accuracy"] for p in picked]
        row[init + "_steps"] = [p[1] for p in picked]
    row["gain"] = [a - b for a, b in zip(row["pretrained"], row["scratch"], strict=False)]
    row["max_steps"] = runs[0]["max_steps"]
    row["seconds"] = statistics.fmean(r["seconds"] for r in runs)
    return row


def print_table(rows: list[dict[str, Any]], baselines: dict[str, Any]) -> None:
    head = (f"{'config':<16}{'by':>5}{'pat':>4}{'n':>3}{'pretrained':>14}{'scratch':>14}"
            f"{'gain':>14}{'F1(pre)':>8}{'val(pre)':>9}{'steps pre/scr':>15}{'max':>6}"
            f"{'s/pair':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        pat = "-" if r["patience"] is None else str(r["patience"])
        steps = (f"{statistics.fmean(r['pretrained_steps']):.0f}/"
                 f"{statistics.fmean(r['scratch_steps']):.0f}")
        by = "acc" if r["select"] == "accuracy" else "loss"
        print(f"{r['config']:<16}{by:>5}{pat:>4}{r['seeds']:>3}{_ms(r['pretrained']):>14}"
              f"{_ms(r['scratch']):>14}{_ms(r['gain']):>14}"
              f"{statistics.fmean(r['pretrained_f1']):>8.3f}"
              f"{statistics.fmean(r['pretrained_val']):>9.3f}{steps:>15}{r['max_steps']:>6}"
              f"{r['seconds']:>8.0f}")
    top = baselines["majority"]  # a float in caches written before the engine's baselines
    top = top["accuracy"] if isinstance(top, dict) else top
    print(f"majority class {top:.3f}; TF-IDF + logistic regression "
          + (f"{baselines['tfidf']['accuracy']:.3f} (macro F1 {baselines['tfidf']['macro_f1']:.3f}"
             f", C={baselines['tfidf']['C']:g})" if baselines["tfidf"] else "n/a (no sklearn)"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", help="labeled .csv/.tsv/.jsonl of texts")
    p.add_argument("--text-col", default="text")
    p.add_argument("--label-col", default="label")
    p.add_argument("--encoding", default="utf-8", choices=("utf-8", "latin-1", "replace"))
    p.add_argument("--labeled-rows", type=int, default=2000,
                   help="labeled rows for fine-tuning (0: all but the test rows)")
    p.add_argument("--test-rows", type=int, default=4000)
    p.add_argument("--pretrain-steps", type=int, default=3000)
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--pretrain-corpus", nargs="*", metavar="PATH",
                   help="pretrain on these files or folders instead of the labeled texts")
    p.add_argument("--seed", type=int, default=1337, help="the split's seed")
    p.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds 1..N")
    p.add_argument("--configs", default="all", help="comma-separated names, or all")
    p.add_argument("--patience", default="all", help="comma-separated, or all (- for none)")
    p.add_argument("--select", default="accuracy", choices=("accuracy", "loss", "both"),
                   help="the validation figure that picks the kept checkpoint and stops early "
                        "(the engine today: accuracy)")
    p.add_argument("--table", action="store_true", help="only print what is cached")
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    ctx = setup(args, work)
    split = ctx["split"]
    print(f"train {len(split.train)}, val {len(split.val)}, test {len(split.test)}; "
          f"pretrained {ctx['pretrain']['steps']} steps in {ctx['pretrain']['seconds']:.0f} s "
          f"(best val loss {ctx['pretrain']['best_val_loss']:.3f})", flush=True)
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown configs: {', '.join(unknown)}")
    results: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        for seed in range(1, args.seeds + 1):
            cached = work / "results" / f"{name}-{seed}.json"
            if args.table and not cached.is_file():
                continue
            r = run_one(name, seed, ctx, work)
            results.setdefault(name, []).append(r)
            if not args.table:
                print(f"{name} seed {seed}: pretrained "
                      f"{r['pretrained']['final'].get('accuracy', float('nan')):.4f} scratch "
                      f"{r['scratch']['final'].get('accuracy', float('nan')):.4f} "
                      f"({r['seconds']:.0f} s)", flush=True)
    base_file = work / "baselines.json"
    if not base_file.is_file():
        base_file.write_text(json.dumps({"majority": majority(split.train, split.test),
                                         "tfidf": tfidf_logreg(split.train, split.val,
                                                               split.test)}))
    baselines = json.loads(base_file.read_text())
    pats: list[int | None] = list(PATIENCES) if args.patience == "all" else [
        None if x == "-" else int(x) for x in args.patience.split(",")]
    selects = ["accuracy", "loss"] if args.select == "both" else [args.select]
    rows = [summarize(n, results[n], pt, sel) for n in names if n in results
            for sel in selects for pt in pats]
    print()
    print_table(rows, baselines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
