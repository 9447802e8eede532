"""Does our extractive QA answer questions it never saw? A held-out test with lexical baselines.

The data: cloze questions generated from the bundled corpus (resources/corpus: Pride and
Prejudice and Persuasion, public domain) by the method of the Children's Book Test's named-
entity part (Hill et al., 2016, "The Goldilocks Principle", arXiv:1511.02301), made extractive:

- the novels are cut into paragraphs (blank lines) and sentences (a regex that does not cut
  after Mr., Mrs., Dr., St.), one stream per book;
- names are the capitalised words that, in that book, appear at least 3 times inside a
  sentence and in lower case at most a tenth as often (so "Elizabeth", "Longbourn", "Kellynch"
  and not "Oh" or "Good"); titles (Mr, Mrs, Miss, Lady, Sir, Colonel, Captain, ...) are not;
- the question is a sentence of 5 to 35 words holding a name that also occurs in the sentences
  before it; that name (one picked at random when there are several) is replaced by XXXXX
  everywhere in the sentence;
- the context is the sentences just before it, taken back from the question until 50 to 90
  words (never crossing a chapter heading); the answer is the name's last occurrence in it;
- held out by position: in each book the first 70% of sentences give training questions, the
  next 10% validation and the last 20% test; a question whose context reaches over a boundary
  is dropped, so no test context was seen. The test text never enters pretraining either (MLM
  pretraining reads the first 80% of each book).

Baselines, on the same test questions:
- lexical: the context sentence with the most word overlap with the question (content words,
  lower case; ties to the later sentence), and inside it the candidate span (a capitalised
  word not starting the sentence, not a title, not in the question) nearest to an overlapping
  word; the next sentence when it has none (the sliding-window idea of Richardson et al., 2013);
- frequency: the candidate most frequent in the whole context (CBT's "maximum frequency").

Models: a tiny BERT (MLM-pretrained) or a tiny GPT (CLM-pretrained, the question first in
each window so every context token has seen it), fine-tuned for extractive QA by the engine
(compare-init: pretrained and from scratch, equal budgets), best checkpoint by validation F1.
Exact match and F1 follow SQuAD's normalisation (lmstudio_app.core.metrics).
`NAME@SEED` runs an experiment at another fine-tuning seed; an experiment run at several seeds
also gets a line with the mean and standard deviation over seeds, the paired gain over scratch
and over the lexical baseline, and the score of the seeds' models averaged (start/end
probabilities averaged per window). Experiments are
cached in --workdir:

    OMP_NUM_THREADS=1 python bench/qa_generalise.py --workdir /tmp/qa --runs all
    OMP_NUM_THREADS=1 python bench/qa_generalise.py --workdir /tmp/qa \
        --runs aug-pre3k-lr5e-4,aug-pre3k-lr5e-4@2,aug-pre3k-lr5e-4@3

Results and what they mean: bench/results/finetune_defaults.md.

It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from finetune_sweep import Echo  # noqa: E402

from lmstudio_app.core.config import FinetuneConfig, build_run_config  # noqa: E402
from lmstudio_app.core.data import labeled  # noqa: E402
from lmstudio_app.core.objectives import REGISTRY, scores  # noqa: E402
from lmstudio_app.core.objectives.encoding import best_span, pad_rows, qa_windows  # noqa: E402
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config  # noqa: E402
from lmstudio_app.core.objectives.qa_extractive import ExtractiveQAObjective  # noqa: E402
from lmstudio_app.core.training.compare import compare_init, headline  # noqa: E402

BUNDLED = [ROOT / "resources" / "corpus" / b for b in ("prideprejudice.txt", "persuasion.txt")]
BLANK = "XXXXX"
CTX_WORDS = (30, 90)  # the context: whole sentences before the question, this many words
# Training-only augmentation: the same training questions over shorter and longer contexts.
AUG_CTX_WORDS = ((15, 50), (30, 90), (50, 120))
TITLES = {"Mr", "Mrs", "Miss", "Lady", "Sir", "Colonel", "Captain", "Dr", "Admiral", "Lord",
          "Lieutenant", "Master", "Madam", "Ma'am", "Esq", "St", "I", "Chapter"}
STOP = set("""a an the and or but if of to in on at by for with from as is was were be been
being are am it its this that these those he she him her his hers they them their we us our you
your i me my not no nor so too very can could would should will shall may might must do does
did have has had what which who whom whose when where why how than then there here all any
each some such only own same other into out up down over under again once about after before
said say says mr mrs miss""".split())
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENT_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]*[A-Z])")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Dr|St|Messrs)\.$")
_CHAPTER = re.compile(r"^(chapter|volume)\b", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Generating the questions


def sentences_of(text: str) -> list[str]:
    """Sentences of a book, paragraph by paragraph; a chapter heading becomes "" (a wall)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.replace("_", "").split())
        if not para:
            continue
        if _CHAPTER.match(para) and len(para.split()) <= 4:
            out.append("")
            continue
        pieces = _SENT_END.split(para)
        merged: list[str] = []
        for p in pieces:
            if merged and _ABBREV.search(merged[-1]):
                merged[-1] += " " + p
            else:
                merged.append(p)
        out += [s.strip() for s in merged if s.strip()]
    return out


def name_set(sents: list[str]) -> set[str]:
    """Capitalised words seen >= 3 times inside sentences and lower-case <= 1/10 as often."""
    inner, lower = Counter(), Counter()
    for s in sents:
        words = _WORD.findall(s)
        for k, w in enumerate(words):
            if w[0].isupper() and k > 0:
                inner[w] += 1
            elif w.islower():
                lower[w] += 1
    return {w for w, c in inner.items()
            if c >= 3 and lower[w.lower()] * 10 <= c and w not in TITLES and len(w) > 1
            and not w.isupper()}


def make_examples(book: str, sents: list[str], names: set[str],
                  ctx_words: tuple[int, int] = CTX_WORDS) -> list[dict[str, Any]]:
    n = len(sents)
    bounds = (0.7 * n, 0.8 * n)

    def region(i: int) -> str:
        return "train" if i < bounds[0] else "val" if i < bounds[1] else "test"

    out = []
    for i, query in enumerate(sents):
        q_words = _WORD.findall(query)
        if not 5 <= len(q_words) <= 35:
            continue
        ctx: list[str] = []
        count = 0
        j = i - 1
        while j >= 0 and sents[j] and count + len(_WORD.findall(sents[j])) <= ctx_words[1]:
            count += len(_WORD.findall(sents[j]))
            ctx.insert(0, sents[j])
            j -= 1
        if count < ctx_words[0] or region(j + 1) != region(i):
            continue
        context = " ".join(ctx)
        in_context = set(_WORD.findall(context))
        # One question per name of the sentence that the context also holds.
        for answer in sorted({w for w in q_words if w in names and w in in_context}):
            question = re.sub(rf"\b{re.escape(answer)}\b", BLANK, query)
            start = [m.start() for m in re.finditer(rf"\b{re.escape(answer)}\b", context)][-1]
            out.append({"question": question, "context": context, "answer": answer,
                        "answer_start": start, "book": book, "split": region(i)})
    return out


def build(work: Path, books: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Write train/val/test .jsonl, train_aug.jsonl (the training questions over the contexts
    of AUG_CTX_WORDS) and the pretraining text (first 80% of each book)."""
    parts: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": [],
                                              "train_aug": []}
    pretrain: list[str] = []
    for book in books:
        sents = sentences_of(book.read_text(encoding="utf-8-sig"))
        names = name_set(sents)
        for e in make_examples(book.name, sents, names):
            parts[e["split"]].append(e)
        seen = set()
        for words in AUG_CTX_WORDS:
            for e in make_examples(book.name, sents, names, words):
                if e["split"] == "train" and (e["question"], e["context"]) not in seen:
                    seen.add((e["question"], e["context"]))
                    parts["train_aug"].append(e)
        pretrain += [s for s in sents[: int(0.8 * len(sents))] if s]
    for name, rows in parts.items():
        with (work / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for e in rows:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    (work / "pretrain.txt").write_text("\n".join(pretrain) + "\n", encoding="utf-8")
    return parts


# ---------------------------------------------------------------------------------------------
# Baselines


def _content(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - STOP - {BLANK.lower()}


def _candidates(sentence: str, question_words: set[str]) -> list[tuple[int, str]]:
    words = _WORD.findall(sentence)
    return [(k, w) for k, w in enumerate(words)
            if k > 0 and w[0].isupper() and not w.isupper() and w not in TITLES
            and w not in question_words]


def lexical_answer(question: str, context: str) -> str:
    """Best-overlap sentence, then the candidate nearest an overlapping word."""
    q = _content(question)
    q_words = set(_WORD.findall(question))
    sents = [s for s in sentences_of(context) if s]
    ranked = sorted(range(len(sents)), key=lambda k: (len(q & _content(sents[k])), k),
                    reverse=True)
    for k in ranked:
        words = _WORD.findall(sents[k])
        cands = _candidates(sents[k], q_words)
        if not cands:
            continue
        anchors = [i for i, w in enumerate(words) if w.lower() in q]
        if not anchors:
            return cands[0][1]
        return min(cands, key=lambda c: (min(abs(c[0] - a) for a in anchors), c[0]))[1]
    return ""


def frequency_answer(question: str, context: str) -> str:
    """The candidate most frequent in the context; ties to the one mentioned last."""
    q_words = set(_WORD.findall(question))
    seen: Counter[str] = Counter()
    last: dict[str, int] = {}
    pos = 0
    for s in sentences_of(context):
        for _, w in _candidates(s, q_words):
            seen[w] += 1
            last[w] = pos
            pos += 1
    if not seen:
        return ""
    return max(seen, key=lambda w: (seen[w], last[w]))


def score(preds: list[str], rows: list[dict[str, Any]]) -> dict[str, float]:
    return scores.qa_report(preds, [r["answer"] for r in rows])


# ---------------------------------------------------------------------------------------------
# Models: MLM pretraining, then compare-init on the extractive task

# Pretraining variants: steps and model shape (tiny: 4 layers, 96 wide, 128 positions).
PRETRAIN = {
    "mlm3k": {"max_steps": 3000},
    "mlm1k": {"max_steps": 1000},
    "mlm8k": {"max_steps": 8000},
    "mlm10k": {"max_steps": 10000},
    # The tiny preset's rate (2e-3) leaves the post-LN BERT on the unigram plateau; lower:
    "mlm3k-lr5e-4": {"max_steps": 3000, "learning_rate": 5e-4},
    # 256 positions: question and context fit one window (at 128, 58% of them need two).
    "mlm3k-b256": {"max_steps": 3000, "block_size": 256},
    "mlm10k-lr5e-4": {"max_steps": 10000, "learning_rate": 5e-4},
    "mlm3k-w128": {"max_steps": 3000, "n_embd": 128},
    # 40% of the tokens masked: more predictions per step (Wettig et al., 2023, "Should You
    # Mask 15% in Masked Language Modeling?", arXiv:2202.08005); its val loss reads higher.
    "mlm3k-m40": {"max_steps": 3000, "mask_prob": 0.4},
    # A causal body instead (the tiny GPT, the app's pretraining defaults): every token is a
    # prediction, not 15%; the question comes first in each window, so context tokens see it.
    "clm3k": {"objective": "clm", "max_steps": 3000},
}
# Experiments: a pretraining variant and fine-tuning overrides (epochs: passes over the rows).
# "scratch_of": the from-scratch side is the named experiment's (same tokenizer, settings and
# seed, so the same run): only the pretrained side is trained.
RUNS: dict[str, dict[str, Any]] = {
    "base": {"pretrain": "mlm3k", "lr": 5e-4, "epochs": 8},
    "lr1e-3": {"pretrain": "mlm3k", "lr": 1e-3, "epochs": 8},
    "pre1k": {"pretrain": "mlm1k", "lr": 5e-4, "epochs": 8, "scratch_of": "base"},
    "lr2e-4": {"pretrain": "mlm3k", "lr": 2e-4, "epochs": 8},
    "drop0.1": {"pretrain": "mlm3k", "lr": 5e-4, "epochs": 8, "dropout": 0.1},
    "pre8k": {"pretrain": "mlm8k", "lr": 5e-4, "epochs": 8, "scratch_of": "base"},
    "pre10k": {"pretrain": "mlm10k", "lr": 5e-4, "epochs": 8, "scratch_of": "base"},
    "w128": {"pretrain": "mlm3k-w128", "lr": 5e-4, "epochs": 8},
    "pre3k-lr5e-4": {"pretrain": "mlm3k-lr5e-4", "lr": 5e-4, "epochs": 8, "scratch_of": "base"},
    "pre10k-lr5e-4": {"pretrain": "mlm10k-lr5e-4", "lr": 5e-4, "epochs": 8,
                      "scratch_of": "base"},
    "aug-pre3k-lr5e-4": {"pretrain": "mlm3k-lr5e-4", "lr": 5e-4, "epochs": 4, "augment": True,
                         "scratch_of": "aug"},
    "aug-pre10k-lr5e-4": {"pretrain": "mlm10k-lr5e-4", "lr": 5e-4, "epochs": 4,
                          "augment": True, "scratch_of": "aug"},
    "b256": {"pretrain": "mlm3k-b256", "lr": 5e-4, "epochs": 8},
    "aug-b256": {"pretrain": "mlm3k-b256", "lr": 5e-4, "epochs": 4, "augment": True},
    "aug": {"pretrain": "mlm3k", "lr": 5e-4, "epochs": 4, "augment": True},
    "aug-pre10k": {"pretrain": "mlm10k", "lr": 5e-4, "epochs": 4, "augment": True,
                   "scratch_of": "aug"},
    "stride32": {"pretrain": "mlm3k", "lr": 5e-4, "epochs": 8, "stride": 32},
    "aug-m40": {"pretrain": "mlm3k-m40", "lr": 5e-4, "epochs": 4, "augment": True,
                "scratch_of": "aug"},
    # GPT bodies (CLM pretraining), question first in each window.
    "gpt": {"pretrain": "clm3k", "lr": 5e-4, "epochs": 8},
    "gpt-aug": {"pretrain": "clm3k", "lr": 5e-4, "epochs": 4, "augment": True},
    # A few minutes end to end (the bundled books alone, say): a check that the script runs.
    "quick": {"pretrain": "mlm1k", "lr": 5e-4, "epochs": 2},
    # Twice the fine-tuning passes over the augmented rows (the 4-epoch run peaked at its end).
    "aug8-pre3k-lr5e-4": {"pretrain": "mlm3k-lr5e-4", "lr": 5e-4, "epochs": 8, "augment": True},
}


class TracedExtractive(ExtractiveQAObjective):
    """The engine's extractive objective, also scoring the test split at each evaluation, so
    one run shows where early stopping on validation F1 would have left the test score."""

    def eval_extra(self, model: torch.nn.Module, val_loss: float) -> dict[str, float]:
        out = super().eval_extra(model, val_loss)
        r = self.score_examples(model, self.tok, self.cfg, self.split.test)
        out.update(test_exact_match=r["exact_match"], test_f1=r["f1"])
        return out


def pretrain(work: Path, name: str) -> Path:
    from lmstudio_app.core.data.corpus import CorpusOptions
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.tokenizer import TokenizerSpec
    from lmstudio_app.core.training.trainer import Trainer

    data_dir = work / "data"
    if not (data_dir / "tokenizer.model").is_file():
        prepare(PrepareConfig(sources=[str(work / "pretrain.txt")], out_dir=str(data_dir),
                              tokenizer=TokenizerSpec("unigram", 8000),
                              corpus=CorpusOptions()))
    run = work / f"pretrain-{name}"
    if not (run / "best.safetensors").is_file():
        from lmstudio_app.core.data.tokenizer import Tokenizer

        vocab = Tokenizer.load(data_dir / "tokenizer.model").vocab_size
        spec = dict(PRETRAIN[name])
        objective = spec.pop("objective", "mlm")
        cfg = build_run_config(objective, "tiny", vocab, {**spec, "device": "cpu"},
                               data_dir=str(data_dir), name=name)
        t = time.perf_counter()
        res = Trainer(cfg, run, Echo(name)).run()
        (run / "bench_time.json").write_text(json.dumps(
            {"seconds": time.perf_counter() - t, "best_val_loss": res.best_val_loss}))
    return run


def split_name(name: str) -> tuple[str, int]:
    """"aug@2" -> ("aug", 2): an experiment of RUNS at fine-tuning seed 2 (no suffix: seed 1)."""
    base, _, seed = name.partition("@")
    return base, int(seed or 1)


def run_dirs(work: Path, name: str) -> tuple[Path, Path]:
    """The (pretrained, scratch) fine-tuning run folders of an experiment."""
    base, seed = split_name(name)
    scratch = RUNS[base].get("scratch_of") if seed == 1 else None
    return work / "runs" / f"{name}-pre", work / "runs" / f"{scratch or name}-scr"


def run_experiment(work: Path, name: str, n_train_rows: int) -> dict[str, Any]:
    out_file = work / "results" / f"{name}.json"
    if out_file.is_file():
        return json.loads(out_file.read_text())
    base_name, seed = split_name(name)
    spec = dict(RUNS[base_name])
    if seed != 1:  # a further seed trains both sides itself
        spec.pop("scratch_of", None)
    base = pretrain(work, spec["pretrain"])
    train_file = work / ("train_aug.jsonl" if spec.get("augment") else "train.jsonl")
    if spec.get("augment"):
        n_train_rows = sum(1 for _ in train_file.open(encoding="utf-8"))
    ft = FinetuneConfig(task="qa-extractive", train_file=str(train_file),
                        val_file=str(work / "val.jsonl"), test_file=str(work / "test.jsonl"),
                        answer_start_col="answer_start", base_run=str(base),
                        stride=spec.get("stride", 64))
    batch = 16
    per_epoch = -(-n_train_rows // batch)
    over = {"max_steps": spec["epochs"] * per_epoch, "eval_interval": per_epoch,
            "learning_rate": spec["lr"], "batch_size": batch, "device": "cpu",
            "dropout": spec.get("dropout", 0.0), "log_interval": 50, "seed": seed}
    cfg = make_finetune_config(ft, overrides=over, name=f"qa-{name}-pretrained")
    sinks: dict[str, Echo] = {}

    def sink_for(init: str) -> Echo:
        sinks[init] = Echo(f"{name} {init}")
        return sinks[init]

    REGISTRY["qa-extractive"] = TracedExtractive  # looked up when a run starts
    t = time.perf_counter()
    out = {"name": name, "spec": spec, "max_steps": over["max_steps"],
           "pretrain": json.loads((base / "bench_time.json").read_text())}
    if "scratch_of" in spec:
        from lmstudio_app.core.training.trainer import Trainer

        run_dir = work / "runs" / f"{name}-pre"
        res = Trainer(cfg, run_dir, sink_for("pretrained")).run()
        report = json.loads((run_dir / "results.json").read_text())
        out["pretrained"] = {"reason": res.reason, "step": res.step,
                             "test": headline(report),
                             "evals": sinks["pretrained"].evals}
        out["scratch"] = run_experiment(work, spec["scratch_of"], n_train_rows)["scratch"]
    else:
        pre, scr = compare_init(cfg, run_dirs(work, name), sink_for)
        for side in (pre, scr):
            out[side.init] = {"reason": side.reason, "step": side.step,
                              "test": headline(side.report),
                              "evals": sinks[side.init].evals if side.init in sinks else []}
    out["seconds"] = time.perf_counter() - t
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(out))
    return out


@torch.no_grad()
def ensemble_answers(dirs: list[Path], rows: list[dict[str, Any]]) -> list[str]:
    """Answers of the models in `dirs` (one task, one tokenizer) averaged: per window, the mean
    of their start and end probabilities, then the engine's best span."""
    from lmstudio_app.core.inference.loading import load_run

    loaded = [load_run(d) for d in dirs]
    tok, cfg = loaded[0].tokenizer, loaded[0].config
    max_length = cfg.finetune.max_length or cfg.model.block_size
    out = []
    for e in rows:
        windows = qa_windows(tok, e["question"], e["context"], max_length,
                             cfg.finetune.stride)
        ids, mask = pad_rows([w.ids for w in windows], tok.pad_id)
        types, _ = pad_rows([w.type_ids for w in windows], 0)
        p_start = p_end = 0.0
        for m in loaded:
            s, t = m.model(ids, mask, types)
            neg = torch.finfo(torch.float32).min
            p_start = p_start + torch.softmax(s.float().masked_fill(mask == 0, neg), -1)
            p_end = p_end + torch.softmax(t.float().masked_fill(mask == 0, neg), -1)
        out.append(best_span(windows, list(torch.log(p_start / len(loaded))),
                                      list(torch.log(p_end / len(loaded))),
                                      e["context"])["answer"])
    return out


def seed_table(work: Path, names: list[str], test: list[dict[str, Any]],
               lex: dict[str, float]) -> None:
    """Experiments run at several seeds: mean ± sd over seeds of each side, the paired gain
    over scratch and over the lexical baseline, and the seeds' averaged model (ensemble)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        if (work / "results" / f"{n}.json").is_file():
            groups.setdefault(split_name(n)[0], []).append(n)
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    if not groups:
        return
    print()
    print(f"{'over seeds (test, mean ± sd)':<34}{'n':>3}{'EM':>14}{'F1':>14}"
          f"{'F1 - scratch':>15}{'F1 - lexical':>15}{'ensemble EM/F1':>16}")

    def ms(xs: list[float]) -> str:
        return f"{statistics.fmean(xs):.3f}±{statistics.stdev(xs):.3f}"

    for base, members in groups.items():
        res = [json.loads((work / "results" / f"{n}.json").read_text()) for n in members]
        f1 = {side: [r[side]["test"]["f1"] for r in res] for side in ("pretrained", "scratch")}
        em = {side: [r[side]["test"]["exact_match"] for r in res]
              for side in ("pretrained", "scratch")}
        for k, side in enumerate(("pretrained", "scratch")):
            cache = work / "results" / f"ensemble-{base}-{side}-{len(members)}.json"
            if not cache.is_file():
                dirs = [run_dirs(work, n)[k] for n in members]
                cache.write_text(json.dumps(score(ensemble_answers(dirs, test), test)))
            ens = json.loads(cache.read_text())
            gain = (ms([a - b for a, b in zip(f1["pretrained"], f1["scratch"], strict=True)])
                    if side == "pretrained" else "")
            print(f"{base + ': ' + side:<34}{len(members):>3}{ms(em[side]):>14}{ms(f1[side]):>14}"
                  f"{gain:>15}{ms([x - lex['f1'] for x in f1[side]]):>15}"
                  f"{ens['exact_match']:>8.3f}/{ens['f1']:.3f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--runs", default="",
                   help="comma-separated experiments (NAME@SEED: at another seed), or all")
    p.add_argument("--table", action="store_true", help="only print what is cached")
    p.add_argument("--books", nargs="*", help="plain-text novels (default: the bundled two)")
    args = p.parse_args()
    torch.set_num_threads(1)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    parts = build(work, [Path(b) for b in args.books] if args.books else BUNDLED)
    print("questions: " + ", ".join(f"{k} {len(v)}" for k, v in parts.items())
          + f"; contexts {statistics.fmean(len(e['context'].split()) for e in parts['test']):.0f}"
          " words on average")
    test = parts["test"]
    for e in test[:2]:
        print(f"  e.g. Q: {e['question']}\n       A: {e['answer']}")
    lex = score([lexical_answer(e["question"], e["context"]) for e in test], test)
    freq = score([frequency_answer(e["question"], e["context"]) for e in test], test)
    rows: list[tuple[str, dict[str, Any], Any, Any]] = [
        ("lexical baseline (overlap sentence, nearest name)", lex, None, None),
        ("frequency baseline (most frequent name)", freq, None, None)]
    names = list(RUNS) if args.runs == "all" else [n for n in args.runs.split(",") if n]
    unknown = [n for n in names if split_name(n)[0] not in RUNS]
    if unknown:
        p.error(f"unknown runs: {', '.join(unknown)}")
    for name in names:
        if args.table and not (work / "results" / f"{name}.json").is_file():
            continue
        train_rows, _ = labeled.load_qa(work / "train.jsonl",
                                        labeled.QAColumns(answer_start="answer_start"))
        r = run_experiment(work, name, len(train_rows))
        rows.append((f"{name}: pretrained ({r['spec']['pretrain']})", r["pretrained"]["test"],
                     r, r["pretrained"]))
        rows.append((f"{name}: scratch", r["scratch"]["test"], r, r["scratch"]))
    print()
    print(f"{'model (test split: ' + str(len(test)) + ' questions)':<52}{'EM':>7}{'F1':>7}"
          f"{'val F1':>8}{'best@':>7}{'steps':>7}{'s/pair':>7}")
    for label, m, r, side in rows:
        extra = ""
        if r:
            best = max(side["evals"], key=lambda e: e["f1"]) if side["evals"] else {}
            extra = (f"{best.get('f1', float('nan')):>8.3f}{best.get('step', 0):>7}"
                     f"{r['max_steps']:>7}{r['seconds']:>7.0f}")
        print(f"{label:<52}{m['exact_match']:>7.3f}{m['f1']:>7.3f}{extra}")
    seed_table(work, names, test, lex)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
