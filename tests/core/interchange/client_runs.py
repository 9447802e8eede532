"""The runs the client suite exports (test_clients.py): GPTs over unigram, BPE and char
tokenizers of 2,000 pieces trained on the bundled corpus, a BERT, their classifiers and QA
models, an imported GPT-2 and a classifier fine-tuned from it (end-token pooling, GPT-2's one
special token as its pad). Trained long enough that their greedy choices are not near ties."""

from __future__ import annotations

from pathlib import Path

import torch

from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data import labeled
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.inference.loading import LoadedRun
from lmstudio_app.core.interchange.hf_import import import_hf
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer
from tests.conftest import AUSTEN_CANDIDATES, austen_text

PROMPT = "It is a truth universally acknowledged, that"
TEXTS = ["What a delightful evening it was, said Emma.",
         "The carriage broke down; we were\nstranded and miserable."]
QA = [("Who walked to Meryton?", "Elizabeth walked to Meryton with her sisters."),
      ("Where did Jane go?", "Jane went to Netherfield on horseback, in the rain."),
      ("What did Mr. Collins hold?", "Mr. Collins held the living of Hunsford."),
      ("Who was proud?", "Mr. Darcy was proud, and Elizabeth was prejudiced."),
      ("When did the ball begin?", "The ball began at nine, and Bingley danced twice."),
      ("What was Emma's house?", "Emma lived at Hartfield with her father."),
      ("Who married Mr. Weston?", "Miss Taylor married Mr. Weston in the autumn."),
      ("What did Anne read?", "Anne read the letter twice before she could speak."),
      ("Whom did Harriet admire?", "Harriet admired Mr. Elton above every other man."),
      ("How many daughters had Mrs. Bennet?", "Mrs. Bennet had five daughters, all unmarried.")]
PRETRAIN = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 8,
            "eval_interval": 60, "eval_batches": 1, "log_interval": 30, "sample_prompt": "",
            "max_steps": 60, "learning_rate": 3e-3}
FINETUNE = {"log_interval": 6, "batch_size": 8, "learning_rate": 2e-3, "max_steps": 6,
            "eval_interval": 6}


def corpus_lines(n: int) -> list[str]:
    """`n` non-empty lines of a novel the tokenizers were not trained on."""
    for folder in AUSTEN_CANDIDATES:
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if len(files) > 1:
            lines = files[1].read_text(encoding="utf-8").splitlines()
            return [line for line in lines if line.strip()][200:200 + n]
    raise RuntimeError("no second novel found")


def greedy_ids(loaded: LoadedRun, ids: list[int], n: int) -> list[int]:
    """The app's model's greedy continuation of `ids` (argmax at each of `n` steps)."""
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits = loaded.model(torch.tensor([out[-loaded.config.model.max_positions:]]))[0]
            out.append(int(logits[0, -1].argmax()))
    return out[len(ids):]


def _data(root: Path, kind: str) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "austen.txt").write_text(austen_text(), encoding="utf-8")
    cfg = PrepareConfig(sources=[str(corpus / "austen.txt")], out_dir=str(root / f"data-{kind}"),
                        tokenizer=TokenizerSpec(kind=kind, vocab_size=2000), val_fraction=0.1)
    return Path(prepare(cfg).out_dir)


def _train(cfg, out: Path) -> Path:
    sink = RecordingSink()
    assert Trainer(cfg, out, sink).run().reason == "completed", sink.failure
    return out


def _pretrain(data: Path, objective: str, out: Path) -> Path:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return _train(build_run_config(objective, "tiny", vocab, PRETRAIN, data_dir=str(data)), out)


def _finetune(out: Path, **fields) -> Path:
    return _train(make_finetune_config(FinetuneConfig(**fields), overrides=FINETUNE), out)


def make_client_runs(_prepared: Path, hf_gpt2: Path, root: Path) -> dict[str, Path]:
    data = {kind: _data(root, kind) for kind in ("unigram", "bpe", "char")}
    out = {"gpt": _pretrain(data["unigram"], "clm", root / "gpt"),
           "gpt-bpe": _pretrain(data["bpe"], "clm", root / "gpt-bpe"),
           "gpt-char": _pretrain(data["char"], "clm", root / "gpt-char"),
           "bert": _pretrain(data["unigram"], "mlm", root / "bert"),
           "gpt2": import_hf(hf_gpt2, root / "gpt2").out}
    sentiment, qa = str(labeled.sample_sentiment_path()), str(labeled.sample_qa_path())
    for name, base, task, extra in (("cls-gpt", "gpt", "classify", {"pooling": "eos"}),
                                    ("cls-bert", "bert", "classify", {}),
                                    ("cls-gpt2", "gpt2", "classify", {"pooling": "eos"}),
                                    ("qa", "bert", "qa-extractive", {}),
                                    ("qa-gpt", "gpt", "qa-extractive", {})):
        out[name] = _finetune(root / name, task=task, base_run=str(out[base]),
                              train_file=sentiment if task == "classify" else qa, **extra)
    return out
