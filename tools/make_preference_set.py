"""Make resources/labeled/preference.jsonl, the bundled preference set for `--task dpo`, from the
bundled question-answering set (resources/labeled/qa.jsonl).

    python tools/make_preference_set.py

Each question of qa.jsonl becomes one pair in TRL's columns: `prompt` is the question in its
context, in the generative QA task's default template ("Context: ...\\nQuestion: ...\\nAnswer:"),
`chosen` its own answer and `rejected` the answer of a question about another context, drawn
with a fixed seed (so the rejected answer does not occur in the prompt's context). The output is
the same on every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "labeled" / "qa.jsonl"
OUT = ROOT / "resources" / "labeled" / "preference.jsonl"
TEMPLATE = "Context: {context}\nQuestion: {question}\nAnswer:"
SEED = 1337


def make_pairs(rows: list[dict[str, str]], seed: int = SEED) -> list[dict[str, str]]:
    """One pair per row: its answer chosen over another context's answer."""
    rng = random.Random(seed)
    pairs = []
    for row in rows:
        others = [r["answer"] for r in rows
                  if r["context"] != row["context"] and r["answer"] not in row["context"]]
        pairs.append({"prompt": TEMPLATE.format(context=row["context"],
                                                question=row["question"]),
                      "chosen": row["answer"], "rejected": rng.choice(others)})
    return pairs


def main() -> None:
    rows = [json.loads(line) for line in SOURCE.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in make_pairs(rows))
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {len(rows)} pairs")


if __name__ == "__main__":
    main()
