"""Fine-tuning: a labeled dataset, a pretrained run (or random weights of its shape) and a task.

Three tasks, each an Objective for the one training loop in trainer.py:

- classify: a linear head over the last real token (GPT) or [CLS] (BERT);
- qa-extractive: start/end logits over "[CLS] question [SEP] context [SEP]" windows (BERT);
- qa-generative: the GPT learns to continue a prompt with the answer (loss on the answer only).

Batches are drawn from a private torch.Generator saved with the run, so a resumed fine-tune
continues as if it had never stopped. The model, the tokenizer and the class names are recorded
in config.json, so `loading.load_run` rebuilds a fine-tuned model from its run folder.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import checkpoint as ckpt
from .. import runs
from ..config import (
    ARCHS_FOR_TASK,
    PRESETS,
    FinetuneConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    save_json,
    settable_fields,
)
from ..data import labeled
from ..data.tokenizer import Tokenizer
from ..errors import UserError
from ..models import build_model
from ..models.heads import build_task_model
from . import scores as metrics
from .pretrain import Setup

DATA_REPORT = "data_report.json"
IGNORE = -100
MAX_ANSWER_TOKENS = 30  # extractive answers longer than this are never proposed
GEN_ANSWER_TOKENS = 32  # generative answers are cut here
# Training settings that suit fine-tuning, over the preset's (a short run, a lower rate).
FINETUNE_TRAIN = {"max_steps": 300, "learning_rate": 5e-4, "eval_interval": 50,
                  "weight_decay": 0.01, "sample_prompt": "", "batch_size": 16}
MAX_MISTAKES, MISTAKE_CHARS = 500, 300  # results.json keeps this many misclassified texts
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_SPACE_MARK = "\u2581"

Batch = tuple[Tensor, ...]


# ---------------------------------------------------------------------------------------------
# Tokens and character spans


def char_spans(tokenizer: Tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of `text` and each token's [start, end) in characters of `text`.

    Built from the pieces: the word-boundary marker stands for one space (or a literal U+2581),
    the newline piece for one newline, and byte-fallback pieces add UTF-8 bytes until a
    character is complete; every byte piece of one character gets that character's span.
    """
    ids = tokenizer.encode(text)
    spans: list[tuple[int, int]] = []
    pos = 0
    pending = b""
    for i in ids:
        piece = tokenizer.id_to_piece(i)
        byte = _BYTE_PIECE.fullmatch(piece)
        if byte:
            pending += bytes([int(byte.group(1), 16)])
            try:
                ch = pending.decode("utf-8")
            except UnicodeDecodeError:
                spans.append((pos, pos + 1))  # part of the character starting at pos
                continue
            pending = b""
            spans.append((pos, pos + len(ch)))
            pos += len(ch)
            continue
        start = pos
        pos += len(piece)  # the marker and the newline piece are one character each
        spans.append((start, pos))
    if pos != len(text) or pending:
        raise ValueError(f"pieces cover {pos} characters of a text of {len(text)}")
    return ids, spans


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding whitespace (a token carries its leading space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def classify_ids(tokenizer: Tokenizer, text: str, arch: str, max_length: int) -> list[int]:
    """GPT: the text's tokens; BERT: [CLS] text [SEP]. Longer texts are cut at max_length."""
    if arch == "bert":
        return [tokenizer.cls_id, *tokenizer.encode(text)[:max_length - 2], tokenizer.sep_id]
    return tokenizer.encode(text)[:max_length] or [tokenizer.bos_id]


def pad_rows(rows: Sequence[Sequence[int]], pad: int) -> tuple[Tensor, Tensor]:
    """(ids, attention mask) padded on the right to the longest row."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[k, :len(r)] = 1
    return ids, mask


@dataclass
class QAWindow:
    """One "[CLS] question [SEP] context-part [SEP]" input and where its context lies."""

    ids: list[int]
    type_ids: list[int]
    ctx_start: int  # index in `ids` of the first context token
    spans: list[tuple[int, int]]  # character spans of the window's context tokens
    start: int = 0  # answer token positions in `ids`; 0 ([CLS]) when not in this window
    end: int = 0


def qa_windows(tokenizer: Tokenizer, question: str, context: str, max_length: int,
               stride: int, answer: tuple[int, int] | None = None) -> list[QAWindow]:
    """Windows over a long context, overlapping by `stride` tokens (at most half a window).

    With `answer` (character start, end) each window points at the answer's tokens, or at
    [CLS] when the answer is not wholly inside it.
    """
    q_ids = tokenizer.encode(question)[: max(1, max_length // 2)]
    ctx_ids, spans = char_spans(tokenizer, context)
    budget = max_length - len(q_ids) - 3
    if budget < 1:
        raise UserError(f"max_length={max_length} leaves no room for the context.")
    step = max(1, budget - min(stride, budget // 2))
    head = [tokenizer.cls_id, *q_ids, tokenizer.sep_id]
    a_tok: tuple[int, int] | None = None
    if answer is not None:
        s, e = answer
        first = next((k for k, (_, b) in enumerate(spans) if b > s), None)
        last = next((k for k in range(len(spans) - 1, -1, -1) if spans[k][0] < e), None)
        if first is not None and last is not None and first <= last:
            a_tok = (first, last)
    out: list[QAWindow] = []
    begin = 0
    while True:
        stop = min(begin + budget, len(ctx_ids))
        ids = head + ctx_ids[begin:stop] + [tokenizer.sep_id]
        types = [0] * len(head) + [1] * (stop - begin + 1)
        w = QAWindow(ids, types, len(head), spans[begin:stop])
        if a_tok is not None and begin <= a_tok[0] and a_tok[1] < stop:
            w.start = a_tok[0] - begin + len(head)
            w.end = a_tok[1] - begin + len(head)
        out.append(w)
        if stop >= len(ctx_ids):
            return out
        begin += step


def best_span(windows: Sequence[QAWindow], starts: Sequence[Tensor], ends: Sequence[Tensor],
              context: str, max_tokens: int = MAX_ANSWER_TOKENS) -> dict[str, Any]:
    """The best start <= end (within max_tokens) over all windows, as text of `context`."""
    best: tuple[float, int, int] | None = None
    for w, s_log, e_log in zip(windows, starts, ends, strict=True):
        n = len(w.spans)
        if n == 0:
            continue
        # Log-probabilities over the window's real positions, so windows compare.
        s = torch.log_softmax(s_log[:len(w.ids)].float(), 0)[w.ctx_start:w.ctx_start + n]
        e = torch.log_softmax(e_log[:len(w.ids)].float(), 0)[w.ctx_start:w.ctx_start + n]
        scores = s[:, None] + e[None, :]
        allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(max_tokens - 1)
        scores = scores.masked_fill(~allowed, -math.inf)
        flat = int(torch.argmax(scores))
        i, j = divmod(flat, n)
        value = float(scores[i, j])
        if best is None or value > best[0]:
            best = (value, w.spans[i][0], w.spans[j][1])
    if best is None:
        return {"answer": "", "start": 0, "end": 0, "score": 0.0}
    start, end = trim_span(context, best[1], best[2])
    return {"answer": context[start:end], "start": start, "end": end,
            "score": math.exp(best[0])}


def render_prompt(template: str, question: str, context: str | None) -> str:
    """The prompt for a generative answer; without a context, template lines naming it go."""
    if not context:
        template = "\n".join(line for line in template.split("\n") if "{context}" not in line)
    return template.format(question=question, context=context or "")


def answer_budget(max_length: int) -> int:
    """Tokens an answer (with its end piece) may take; the prompt gets the rest of the window.

    Training and generation cut the prompt the same way, so the answer starts at the positions
    the model learned it at.
    """
    return max(2, min(GEN_ANSWER_TOKENS, max_length // 4))


def prompt_ids(tokenizer: Tokenizer, prompt: str, max_length: int) -> list[int]:
    """The prompt's tokens, cut from the left (its end, "Answer:", is what matters)."""
    return tokenizer.encode(prompt)[-(max_length + 1 - answer_budget(max_length)):]


def generative_rows(tokenizer: Tokenizer, prompt: str, answer: str,
                    max_length: int) -> tuple[list[int], list[int]]:
    """Inputs and targets: prompt + " answer" + end; targets only on the answer and the end."""
    a_ids = [*tokenizer.encode(" " + answer.strip()), tokenizer.eos_id]
    a_ids = a_ids[:answer_budget(max_length)]
    p_ids = prompt_ids(tokenizer, prompt, max_length)
    seq = p_ids + a_ids
    targets = [IGNORE] * (len(p_ids) - 1) + a_ids
    return seq[:-1], targets


# ---------------------------------------------------------------------------------------------
# Batches


class ShuffledBatches:
    """Row indices in epochs of a seeded permutation; the state goes into state.pt."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0

    def next(self) -> list[int]:
        out: list[int] = []
        while len(out) < self.batch_size:
            if self.pos >= self.n:
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos = 0
            take = min(self.batch_size - len(out), self.n - self.pos)
            out += self.perm[self.pos:self.pos + take].tolist()
            self.pos += take
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(),
                "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.perm = state["perm"]
        self.pos = int(state["pos"])


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


# ---------------------------------------------------------------------------------------------
# Objectives


class _TaskObjective:
    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: labeled.Split,
                 seed: int) -> None:
        self.cfg = cfg
        self.ft: FinetuneConfig = cfg.finetune  # type: ignore[assignment]
        self.tok = tokenizer
        self.split = split
        self.max_length = self.ft.max_length or cfg.model.block_size
        self.batch_size = cfg.train.batch_size
        self.tokens_per_batch = self.batch_size * self.max_length
        self._eval_cache: list[Batch] | None = None
        self.rows = self._encode_train(split.train)
        if not self.rows:
            raise UserError(f"{self.ft.train_file}: no training examples left to learn from.")
        self.batches = ShuffledBatches(len(self.rows), self.batch_size, seed)

    def _encode_train(self, examples: list) -> list:
        raise NotImplementedError

    def _collate(self, rows: list) -> Batch:
        raise NotImplementedError

    def next_batch(self) -> Batch:
        return self._collate([self.rows[i] for i in self.batches.next()])

    def eval_batches(self) -> list[Batch]:
        if self._eval_cache is None:
            rows = self._encode_train(self.split.val) or self.rows[: self.batch_size]
            self._eval_cache = [self._collate([rows[i] for i in r])
                                for r in _chunks(len(rows), self.batch_size)]
        return self._eval_cache

    def sample(self, model: nn.Module) -> str | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches.load_state_dict(state)

    def _test_loss(self, model: nn.Module) -> float:
        rows = self._encode_train(self.split.test)
        if not rows:
            return float("nan")
        device = _device_of(model)
        total, n = 0.0, 0
        for r in _chunks(len(rows), self.batch_size):
            batch = tuple(b.to(device) for b in self._collate([rows[i] for i in r]))
            total += float(self.loss(model, batch)) * len(r)
            n += len(r)
        return total / n

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        raise NotImplementedError


class ClassifyObjective(_TaskObjective):
    """Cross-entropy on the class of each text, optionally weighted by inverse frequency."""

    best_metric = "accuracy"  # best.safetensors is the checkpoint with the best val accuracy

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, split: labeled.Split,
                 seed: int) -> None:
        self.labels = list(cfg.finetune.labels)  # type: ignore[union-attr]
        self.index = {name: k for k, name in enumerate(self.labels)}
        super().__init__(cfg, tokenizer, split, seed)
        self.weight: Tensor | None = None
        if self.ft.class_weights:
            self.weight = class_weights([e.label for e in split.train], self.labels)

    def _encode_train(self, examples: list) -> list:
        return [(classify_ids(self.tok, e.text, self.cfg.model.arch, self.max_length),
                 self.index.get(e.label, -1)) for e in examples if e.label in self.index]

    def _collate(self, rows: list) -> Batch:
        ids, mask = pad_rows([r[0] for r in rows], self.tok.pad_id)
        return ids, mask, torch.tensor([r[1] for r in rows], dtype=torch.long)

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        ids, mask, y = batch
        logits = model(ids, mask)
        w = self.weight.to(logits.device) if self.weight is not None else None
        return F.cross_entropy(logits.float(), y, weight=w)

    def _predict(self, model: nn.Module, examples: list) -> list[str]:
        texts = [e.text for e in examples]
        probs = classify_probs(model, self.tok, texts, self.cfg.model.arch, self.max_length)
        return [self.labels[int(p.argmax())] for p in probs]

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        val = self.split.val
        if not val:
            return {}
        pred = self._predict(model, val)
        truth = [e.label for e in val]
        return {"accuracy": metrics.accuracy(truth, pred),
                "macro_f1": metrics.macro_f1(truth, pred, self.labels)}

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        test = self.split.test
        pred = self._predict(model, test)
        report = metrics.classification_report([e.label for e in test], pred, self.labels)
        # The misclassified test texts (a bounded few), for a confusion matrix to show by cell.
        mistakes = [{"text": e.text[:MISTAKE_CHARS], "label": e.label, "predicted": p}
                    for e, p in zip(test, pred, strict=True) if p != e.label][:MAX_MISTAKES]
        return {"task": "classify", **report, "loss": self._test_loss(model),
                "mistakes": mistakes}


def class_weights(train_labels: Sequence[str], labels: Sequence[str]) -> Tensor:
    """Inverse label frequency, scaled so a balanced set weighs 1 per class."""
    counts = Counter(train_labels)
    n, k = len(train_labels), len(labels)
    return torch.tensor([n / (k * counts[name]) if counts[name] else 0.0 for name in labels],
                        dtype=torch.float32)


class _QAObjective(_TaskObjective):
    """Question answering scored by exact match and token F1 (SQuAD's normalisation)."""

    best_metric = "f1"
    task = ""

    def _scores(self, model: nn.Module, examples: list) -> dict[str, Any]:
        raise NotImplementedError

    def eval_extra(self, model: nn.Module, val_loss: float) -> dict[str, float]:
        if not self.split.val:
            return {}
        r = self._scores(model, self.split.val)
        return {"exact_match": r["exact_match"], "f1": r["f1"]}

    def final_report(self, model: nn.Module) -> dict[str, Any]:
        return {"task": self.task, **self._scores(model, self.split.test),
                "loss": self._test_loss(model)}


class ExtractiveQAObjective(_QAObjective):
    """Start/end cross-entropy over every window of every training example."""

    task = "qa-extractive"

    def _encode_train(self, examples: list) -> list:
        rows = []
        for e in examples:
            span = (e.answer_start, e.answer_start + len(e.answer))
            for w in qa_windows(self.tok, e.question, e.context, self.max_length,
                                self.ft.stride, span):
                rows.append(w)
        return rows

    def _collate(self, rows: list) -> Batch:
        ids, mask = pad_rows([w.ids for w in rows], self.tok.pad_id)
        types, _ = pad_rows([w.type_ids for w in rows], 0)
        starts = torch.tensor([w.start for w in rows], dtype=torch.long)
        ends = torch.tensor([w.end for w in rows], dtype=torch.long)
        return ids, mask, types, starts, ends

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        ids, mask, types, starts, ends = batch
        s, e = model(ids, mask, types)
        neg = torch.finfo(torch.float32).min
        s = s.float().masked_fill(mask == 0, neg)
        e = e.float().masked_fill(mask == 0, neg)
        return (F.cross_entropy(s, starts) + F.cross_entropy(e, ends)) / 2

    def _scores(self, model: nn.Module, examples: list) -> dict[str, Any]:
        preds = [extract_answer(model, self.tok, e.question, e.context, self.max_length,
                                self.ft.stride)["answer"] for e in examples]
        return metrics.qa_report(preds, [e.answer for e in examples])


class GenerativeQAObjective(_QAObjective):
    """Next-token loss on the answer and its end piece only; greedy answers for the scores."""

    task = "qa-generative"

    def _encode_train(self, examples: list) -> list:
        return [generative_rows(self.tok, render_prompt(self.ft.template, e.question, e.context),
                                e.answer, self.max_length) for e in examples]

    def _collate(self, rows: list) -> Batch:
        x, _ = pad_rows([r[0] for r in rows], self.tok.pad_id)
        y, _ = pad_rows([r[1] for r in rows], IGNORE)
        return x, y

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        x, y = batch
        return model(x, y)[1]

    def _scores(self, model: nn.Module, examples: list) -> dict[str, Any]:
        preds = [generate_answer(model, self.tok, self.ft.template, e.question, e.context,
                                 self.max_length)["answer"] for e in examples]
        return metrics.qa_report(preds, [e.answer for e in examples])


OBJECTIVES: dict[str, type[_TaskObjective]] = {
    "classify": ClassifyObjective, "qa-extractive": ExtractiveQAObjective,
    "qa-generative": GenerativeQAObjective,
}


# ---------------------------------------------------------------------------------------------
# Inference on a task model (used by the objectives and by predict.py)


@torch.no_grad()
def classify_probs(model: nn.Module, tokenizer: Tokenizer, texts: Sequence[str], arch: str,
                   max_length: int, batch_size: int = 32) -> list[Tensor]:
    """Class probabilities (n_labels,) for each text."""
    device = _device_of(model)
    was_training = model.training
    model.eval()
    out: list[Tensor] = []
    try:
        for r in _chunks(len(texts), batch_size):
            ids, mask = pad_rows([classify_ids(tokenizer, texts[i], arch, max_length)
                                  for i in r], tokenizer.pad_id)
            logits = model(ids.to(device), mask.to(device)).float()
            out += list(torch.softmax(logits, dim=-1).cpu())
    finally:
        model.train(was_training)
    return out


@torch.no_grad()
def extract_answer(model: nn.Module, tokenizer: Tokenizer, question: str, context: str,
                   max_length: int, stride: int) -> dict[str, Any]:
    """The best answer span of `context`: text, character start/end and its score."""
    windows = qa_windows(tokenizer, question, context, max_length, stride)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    try:
        ids, mask = pad_rows([w.ids for w in windows], tokenizer.pad_id)
        types, _ = pad_rows([w.type_ids for w in windows], 0)
        s, e = model(ids.to(device), mask.to(device), types.to(device))
    finally:
        model.train(was_training)
    # The score: P(start) * P(end) in the chosen window.
    return best_span(windows, list(s.cpu()), list(e.cpu()), context)


@torch.no_grad()
def generate_answer(model: nn.Module, tokenizer: Tokenizer, template: str, question: str,
                    context: str | None, max_length: int) -> dict[str, Any]:
    """A greedy answer to the prompt, stopped at the end piece, with its mean token probability."""
    from ..models.generate import generate

    p_ids = prompt_ids(tokenizer, render_prompt(template, question, context), max_length)
    prompt = tokenizer.decode(p_ids)
    text = "".join(generate(model, tokenizer, prompt, max_new_tokens=answer_budget(max_length),
                            temperature=0.0, top_k=None, top_p=None, seed=0, stop_at_eos=True))
    answer = text.strip()
    score = 0.0
    a_ids = tokenizer.encode(text)
    if a_ids:
        device = _device_of(model)
        seq = (p_ids + a_ids)[-model.config.max_positions:]  # type: ignore[union-attr]
        was_training = model.training
        model.eval()
        try:
            logits = model(torch.tensor([seq], device=device))[0][0].float()
        finally:
            model.train(was_training)
        n = len(a_ids)
        logp = torch.log_softmax(logits[-n - 1:-1], dim=-1)
        picked = logp[torch.arange(n), torch.tensor(seq[-n:], device=device)]
        score = float(picked.mean().exp())
    return {"answer": answer, "score": score}


# ---------------------------------------------------------------------------------------------
# Set-up


def _tokenizer_file(folder: Path, what: str) -> Path:
    path = Path(folder) / "tokenizer.model"
    if Path(folder).is_file() and Path(folder).suffix == ".model":
        return Path(folder)
    if not path.is_file():
        raise UserError(f"{folder}: no tokenizer.model here; {what} must be a run folder or a "
                        "data folder made by `lmstudio-app prepare`.")
    return path


def _read_base(base: Path) -> tuple[RunConfig, dict[str, Any]]:
    if not (base / runs.CONFIG).is_file():
        raise UserError(f"{base}: not a run folder (no config.json); --from needs a pretrained "
                        "run.")
    cfg = runs.read_config(base)
    if cfg.is_finetune:
        raise UserError(f"{base} is a fine-tuned ({cfg.objective}) run; start from a "
                        "pretraining (clm or mlm) run.")
    return cfg, runs.read_json(base / runs.CONFIG).get("data", {})


def _base_tokenizer(base: Path, recorded_sha: str | None) -> Tokenizer:
    tokenizer = Tokenizer.load(_tokenizer_file(base, "--from"))
    if recorded_sha and recorded_sha != tokenizer.sha256:
        raise UserError(
            f"{base}: tokenizer.model differs from the tokenizer this run was trained with "
            f"(sha256 {tokenizer.sha256[:12]} vs {recorded_sha[:12]} in config.json); put the "
            "run's own tokenizer.model back."
        )
    return tokenizer


def _check_vocab(tokenizer: Tokenizer, model: ModelConfig, origin: str) -> None:
    if tokenizer.vocab_size != model.vocab_size:
        raise UserError(
            f"{origin}: its tokenizer has {tokenizer.vocab_size} pieces but the model's "
            f"vocabulary is {model.vocab_size}; use the tokenizer the model was made for."
        )


def columns_of(ft: FinetuneConfig) -> labeled.ClassificationColumns | labeled.QAColumns:
    if ft.task == "classify":
        return labeled.ClassificationColumns(text=ft.text_col, label=ft.label_col)
    return labeled.QAColumns(question=ft.question_col, context=ft.context_col,
                             answer=ft.answer_col, answer_start=ft.answer_start_col or None)


def load_task_data(ft: FinetuneConfig) -> tuple[labeled.Split, dict[str, labeled.ValidationReport]]:
    """The train / validation / test split of a fine-tuning config's files."""
    return labeled.load_splits(
        ft.train_file, ft.val_file or None, ft.test_file or None, columns=columns_of(ft),
        encoding=ft.encoding, val_fraction=ft.val_fraction, test_fraction=ft.test_fraction,
        seed=ft.split_seed,
    )


def _freeze(model: nn.Module, ft: FinetuneConfig, mcfg: ModelConfig) -> list[str]:
    """Switch off gradients of the embeddings and the lowest blocks; the names frozen."""
    if ft.freeze_layers > mcfg.n_layer:
        raise UserError(f"freeze_layers={ft.freeze_layers}: the model has only {mcfg.n_layer} "
                        "layers.")
    gpt = mcfg.arch == "gpt"
    prefixes: list[str] = []
    if ft.freeze_embeddings:
        prefixes += (["transformer.wte.", "transformer.wpe."] if gpt else ["embeddings."])
    for k in range(ft.freeze_layers):
        prefixes.append(f"transformer.h.{k}." if gpt else f"encoder.layer.{k}.")
    frozen = []
    for name, p in model.named_parameters():
        bare = name.removeprefix("body.")
        if any(bare.startswith(x) for x in prefixes):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def build_finetune_setup(cfg: RunConfig, run_dir: Path, resume: bool, seed: int) -> Setup:
    """The task model (pretrained body or random of the same shape), its objective and data."""
    ft = cfg.finetune
    if ft is None:
        raise ValueError("not a fine-tuning configuration")
    run_dir = Path(run_dir)
    info: dict[str, Any] = {"task": ft.task}
    body_weights: Path | None = None
    if resume:
        tokenizer = Tokenizer.load(run_dir / runs.TOKENIZER)
    elif ft.base_run:
        base = Path(ft.base_run)
        base_cfg, base_data = _read_base(base)
        tokenizer = _base_tokenizer(base, base_data.get("tokenizer_sha256"))
        cfg.model = copy.deepcopy(base_cfg.model)
        if cfg.model.arch not in ARCHS_FOR_TASK[ft.task]:
            need = " or ".join(a.upper() for a in ARCHS_FOR_TASK[ft.task])
            raise UserError(f"{base} is a {cfg.model.arch.upper()} run; {ft.task} needs a "
                            f"{need} run.")
        body_weights = base / ckpt.BEST_WEIGHTS
        if not body_weights.is_file():
            body_weights = base / ckpt.WEIGHTS
        if not body_weights.is_file():
            raise UserError(f"{base}: no weights yet (the run has not reached a checkpoint).")
        info.update(base_run=str(base.resolve()), base_weights=body_weights.name,
                    base_objective=base_cfg.objective)
    else:
        tokenizer = Tokenizer.load(_tokenizer_file(Path(ft.tokenizer_from), "--tokenizer-from"))
        _check_vocab(tokenizer, cfg.model, ft.tokenizer_from)
        info.update(scratch=True, tokenizer_from=str(Path(ft.tokenizer_from).resolve()))
    if tokenizer.vocab_size > cfg.model.vocab_size:
        _check_vocab(tokenizer, cfg.model, ft.base_run or str(run_dir))
    max_length = ft.max_length or cfg.model.block_size
    if max_length > cfg.model.max_positions:
        raise UserError(f"max_length={max_length} is above the model's "
                        f"{cfg.model.max_positions} positions; lower it.")

    split, reports = load_task_data(ft)
    if ft.task == "classify":
        found = labeled.label_names(split.train)
        if resume and ft.labels and set(found) - set(ft.labels):
            raise UserError(f"{ft.train_file}: labels changed since the run started "
                            f"({', '.join(sorted(set(found) - set(ft.labels)))}).")
        if not resume or not ft.labels:
            ft.labels = found
        if len(ft.labels) < 2:
            raise UserError(f"{ft.train_file}: classification needs at least two labels; the "
                            f"training data has {len(ft.labels)}.")

    body = build_model(cfg.model)
    if body_weights is not None:
        ckpt.load_weights(body, body_weights)
    model = build_task_model(cfg, body)
    frozen = _freeze(model, ft, cfg.model)
    objective = OBJECTIVES[ft.task](cfg, tokenizer, split, seed)

    summary = "\n".join(r.summary() for r in reports.values())
    report = {
        "splits": dict(zip(("train", "val", "test"), split.sizes(), strict=True)),
        "files": {k: r.to_dict() for k, r in reports.items()},
        "summary": summary,
        "training_rows": len(objective.rows),
    }
    save_json(run_dir / DATA_REPORT, report)
    info.update(
        tokenizer_sha256=tokenizer.sha256, tokenizer_kind=tokenizer.kind,
        splits=report["splits"], training_rows=len(objective.rows), labels=list(ft.labels),
        skipped_rows=sum(len(r.skipped) for r in reports.values()), data_summary=summary,
        frozen_parameters=len(frozen),
    )
    scale = ft.body_lr_scale
    lr_scale: Callable[[str], float] | None = None
    if ft.task != "qa-generative" and scale != 1.0:
        def lr_scale(name: str) -> float:
            return scale if name.startswith("body.") else 1.0
    return Setup(model, objective, tokenizer, info, lr_scale)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Configurations and the pretrained-versus-scratch comparison


def make_finetune_config(
    ft: FinetuneConfig,
    *,
    preset: str = "tiny",
    arch: str | None = None,
    overrides: dict[str, Any] | None = None,
    name: str = "",
) -> RunConfig:
    """A validated RunConfig for `ft`: the base run's shape, or `preset`'s for --scratch.

    Training fields come from the preset, then FINETUNE_TRAIN, then `overrides`; model fields
    in `overrides` apply only to a model from scratch (a pretrained body has its shape).
    """
    overrides = dict(overrides or {})
    sections = settable_fields()
    if ft.base_run:
        base_cfg, _ = _read_base(Path(ft.base_run))
        model = copy.deepcopy(base_cfg.model)
        preset = base_cfg.preset
        for key in [k for k in overrides if sections[k] == "model"]:
            if key != "dropout":
                raise UserError(f"--set {key}: a pretrained model keeps its shape; only dropout "
                                "can change.")
            model.dropout = overrides.pop(key)
    else:
        if preset not in PRESETS:
            raise UserError(f"preset {preset!r}: choose one of {', '.join(PRESETS)}.")
        tok = Tokenizer.load(_tokenizer_file(Path(ft.tokenizer_from or "."), "--tokenizer-from"))
        arch = arch or ARCHS_FOR_TASK[ft.task][0]
        model_kw = {**PRESETS[preset]["model"], "arch": arch, "vocab_size": tok.vocab_size}
        for key in [k for k in overrides if sections[k] == "model"]:
            model_kw[key] = overrides.pop(key)
        model = ModelConfig(**model_kw)
    train_kw = {**PRESETS[preset]["train"], **FINETUNE_TRAIN, **overrides}
    cfg = RunConfig(data_dir="", objective=ft.task, preset=preset,
                    name=name or f"{ft.task}-{'scratch' if ft.scratch else 'pretrained'}",
                    model=model, train=TrainConfig(**train_kw), finetune=ft)
    cfg.validate()
    return cfg


def scratch_twin(cfg: RunConfig) -> RunConfig:
    """The same fine-tuning from random weights: same shape, tokenizer, seed and budget."""
    ft = cfg.finetune
    if ft is None or not ft.base_run:
        raise UserError("compare-init needs --from RUN_DIR (the pretrained run to compare).")
    twin = copy.deepcopy(cfg)
    twin.finetune.base_run = ""  # type: ignore[union-attr]
    twin.finetune.scratch = True  # type: ignore[union-attr]
    twin.finetune.tokenizer_from = ft.base_run  # type: ignore[union-attr]
    twin.finetune.labels = []  # type: ignore[union-attr]
    twin.name = cfg.name.replace("pretrained", "scratch") if "pretrained" in cfg.name \
        else f"{cfg.name}-scratch"
    twin.validate()
    return twin


@dataclass
class InitResult:
    """One side of a comparison: its run folder, how training ended and the test report."""

    init: str  # "pretrained" | "scratch"
    run_dir: Path
    reason: str
    step: int
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"init": self.init, "run_dir": str(self.run_dir), "reason": self.reason,
                "step": self.step, "report": self.report, "error": self.error}


def headline(report: dict[str, Any]) -> dict[str, float]:
    """The figures worth a column: accuracy and macro F1, or exact match and F1, and loss."""
    keys = ("accuracy", "macro_f1", "exact_match", "f1", "loss")
    return {k: report[k] for k in keys if isinstance(report.get(k), float)}


def compare_init(
    cfg_pretrained: RunConfig,
    run_dirs: tuple[Path, Path],
    sink_factory: Callable[[str], Any] | None = None,
    control: Any = None,
) -> tuple[InitResult, InitResult]:
    """Fine-tune twice with equal budgets, from the pretrained run and from scratch.

    `run_dirs` are the (pretrained, scratch) run folders; `sink_factory(init)` gives each run
    its MetricsSink. Returns both results, pretrained first; a failed side carries its error.
    """
    from ..training.trainer import Trainer

    out: list[InitResult] = []
    for init, cfg, run_dir in (("pretrained", cfg_pretrained, run_dirs[0]),
                               ("scratch", scratch_twin(cfg_pretrained), run_dirs[1])):
        if control is not None and control.stop_requested:
            break
        sink = sink_factory(init) if sink_factory else None
        result = Trainer(cfg, Path(run_dir), sink, control).run()
        status = runs.read_json(Path(run_dir) / runs.STATUS)
        out.append(InitResult(init, Path(run_dir), result.reason, result.step,
                              runs.read_json(Path(run_dir) / runs.RESULTS),
                              status.get("error") if result.reason == "failed" else None))
    if len(out) < 2:
        out.append(InitResult("scratch", Path(run_dirs[1]), "stopped", 0))
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# Scoring a finished run on a labeled file


def evaluate_examples(loaded: Any, examples: Sequence[Any]) -> dict[str, Any]:
    """Metrics of a fine-tuned run (a LoadedRun) on labeled examples."""
    cfg: RunConfig = loaded.config
    ft = cfg.finetune
    if ft is None:
        raise UserError(f"{loaded.run_dir} is a pretraining run; eval needs a fine-tuned run.")
    max_length = ft.max_length or cfg.model.block_size
    tok, model = loaded.tokenizer, loaded.model
    if ft.task == "classify":
        probs = classify_probs(model, tok, [e.text for e in examples], cfg.model.arch,
                               max_length)
        pred = [ft.labels[int(p.argmax())] for p in probs]
        truth = [e.label for e in examples]
        unknown = sorted(set(truth) - set(ft.labels))
        out = metrics.classification_report(truth, pred, ft.labels)
        if unknown:
            out["unknown_labels"] = unknown
        return {"task": ft.task, **out}
    if ft.task == "qa-extractive":
        preds = [extract_answer(model, tok, e.question, e.context, max_length,
                                ft.stride)["answer"] for e in examples]
    else:
        preds = [generate_answer(model, tok, ft.template, e.question, e.context,
                                 max_length)["answer"] for e in examples]
    return {"task": ft.task, **metrics.qa_report(preds, [e.answer for e in examples])}


def evaluate_file(loaded: Any, path: str | Path, columns: Any = None,
                  encoding: str = "utf-8") -> dict[str, Any]:
    """Load a labeled file with the run's task (columns default to the run's) and score it."""
    ft = loaded.config.finetune
    if ft is None:
        raise UserError(f"{loaded.run_dir} is a pretraining run; eval needs a fine-tuned run.")
    columns = columns or columns_of(ft)
    if ft.task == "classify":
        examples, report = labeled.load_classification(path, columns, encoding)
    else:
        examples, report = labeled.load_qa(path, columns, encoding)
    out = evaluate_examples(loaded, examples)
    out["data"] = {"path": str(path), "rows_read": report.rows_read,
                   "rows_used": report.rows_used, "skipped": len(report.skipped)}
    return out


__all__ = [
    "DATA_REPORT", "InitResult", "build_finetune_setup", "char_spans", "class_weights",
    "classify_probs", "compare_init", "evaluate_examples", "evaluate_file", "extract_answer",
    "generate_answer", "headline", "load_task_data", "make_finetune_config", "qa_windows",
    "render_prompt", "scratch_twin",
]
