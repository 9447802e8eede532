"""Do chat replies end, and are they right? Supervised fine-tuning on the bundled instruction set.

A tiny GPT is pretrained on the bundled corpus, then tuned (task sft, ChatML added) on the
bundled instruction set (resources/chat/instructions.jsonl); the held-out test conversations
are answered greedily (at most 64 new tokens each). Printed: the share of replies that end with
the end-of-turn token within that budget (the check: at least 95%), the exact match against the
gold reply over all test conversations and over the sentiment ones alone (the label), and, for
comparison, the accuracy of a classifier (task classify) tuned from the same base with the same
budget on the bundled sentiment set. This script prints the figures; it never asserts:

    python bench/sft_chat.py [--pretrain-steps 150] [--sft-steps 300] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmstudio_app.core.config import FinetuneConfig, build_run_config
from lmstudio_app.core.data import labeled
from lmstudio_app.core.data.conversations import load_conversations
from lmstudio_app.core.data.prepare import PrepareConfig, prepare
from lmstudio_app.core.data.samples import sample_corpus
from lmstudio_app.core.data.splits import stratified_split
from lmstudio_app.core.data.tokenizer import Tokenizer, TokenizerSpec
from lmstudio_app.core.inference.chat import chat_format_of
from lmstudio_app.core.inference.loading import load_run
from lmstudio_app.core.objectives.finetune_setup import make_finetune_config
from lmstudio_app.core.objectives.sft import score_replies
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTIONS = ROOT / "resources" / "chat" / "instructions.jsonl"
MODEL = {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 256}


def _train(cfg, out: Path) -> float:
    start = time.monotonic()
    sink = RecordingSink()
    result = Trainer(cfg, out, sink).run()
    if result.reason != "completed":
        raise SystemExit(f"{out}: {result.reason} {sink.failure}")
    return time.monotonic() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain-steps", type=int, default=150)
    p.add_argument("--sft-steps", type=int, default=300)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sft_chat_"))
    data = prepare(PrepareConfig(sources=[str(sample_corpus())], out_dir=str(work / "data"),
                                 tokenizer=TokenizerSpec(kind="unigram", vocab_size=2000),
                                 val_fraction=0.05)).out_dir
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    base_cfg = build_run_config("clm", "tiny", vocab, {
        **MODEL, "batch_size": 16, "max_steps": args.pretrain_steps, "eval_interval":
        args.pretrain_steps, "sample_prompt": ""}, data_dir=str(data))
    print(f"pretrain {args.pretrain_steps} steps: {_train(base_cfg, work / 'base'):.0f} s")
    budget = {"max_steps": args.sft_steps, "eval_interval": args.sft_steps, "batch_size": 16,
              "learning_rate": 1e-3}
    ft = FinetuneConfig(task="sft", train_file=str(INSTRUCTIONS), base_run=str(work / "base"))
    seconds = _train(make_finetune_config(ft, overrides=budget), work / "sft")
    results = json.loads((work / "sft" / "results.json").read_text(encoding="utf-8"))
    print(f"sft {args.sft_steps} steps: {seconds:.0f} s")
    print(f"test conversations: {results['n']}, replies ending with the end-of-turn token "
          f"within 64 tokens: {results['end_of_turn_rate']:.1%}, exact match "
          f"{results['exact_match']:.1%}, F1 {results['f1']:.1%}")

    # The sentiment conversations of the held-out split: the label as the whole reply.
    loaded = load_run(work / "sft")
    fmt = chat_format_of(work / "sft", loaded.tokenizer)
    convs, _ = load_conversations(INSTRUCTIONS)
    # The run's own test split, carved again with its fractions and seed.
    test = stratified_split(convs, val_fraction=ft.val_fraction,
                            test_fraction=ft.test_fraction, seed=ft.split_seed).test
    sentiment = [c for c in test if c.messages[0][1].startswith("What is the sentiment of:")]
    report = score_replies(loaded.model, loaded.tokenizer, fmt, sentiment)
    print(f"sentiment conversations of the test split: {report['n']}, label exact match "
          f"{report['exact_match']:.1%}, ended {report['end_of_turn_rate']:.1%}")

    cls = FinetuneConfig(task="classify", train_file=str(labeled.sample_sentiment_path()),
                         base_run=str(work / "base"), pooling="eos")
    _train(make_finetune_config(cls, overrides=budget), work / "cls")
    acc = json.loads((work / "cls" / "results.json").read_text(encoding="utf-8"))["accuracy"]
    print(f"classifier (task classify, same base and budget) test accuracy: {acc:.1%}")


if __name__ == "__main__":
    main()
