"""Make resources/chat/instructions.jsonl, the bundled instruction set, from the bundled labeled
sets (resources/labeled): every sentiment row as "What is the sentiment of: TEXT" answered by its
label, every QA row as its context and question answered by its answer, in Hugging Face's
`messages` form, shuffled with a fixed seed. Run from the repository root:

    python tools/make_instructions.py
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELED = ROOT / "resources" / "labeled"
OUT = ROOT / "resources" / "chat" / "instructions.jsonl"
SEED = 22


def conversation(user: str, assistant: str, kind: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}], "kind": kind}


def sentiment_rows() -> list[dict[str, object]]:
    with (LABELED / "sentiment.csv").open(encoding="utf-8", newline="") as f:
        return [conversation(f"What is the sentiment of: {row['text']}", row["label"],
                             "sentiment") for row in csv.DictReader(f)]


def qa_rows() -> list[dict[str, object]]:
    rows = []
    for line in (LABELED / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        qa = json.loads(line)
        rows.append(conversation(f"{qa['context']}\n\nQuestion: {qa['question']}",
                                 qa["answer"], "qa"))
    return rows


def main() -> None:
    rows = sentiment_rows() + qa_rows()
    random.Random(SEED).shuffle(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                   encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} conversations")


if __name__ == "__main__":
    main()
