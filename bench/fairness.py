"""Fair share on the CPU: each thread policy's tokens/s alone, then two trainings at once.

For each candidate policy (bench/cpu_runs.py POLICIES: "ours" is the program's own choice),
one `lmstudio-app pretrain` alone, then two started together, alternating the candidates round
by round (A B A B) so that a change in the machine's load falls on all of them. Each of the
pair prints its tokens/s as a share of the alone figure: with two busy processes on N cores a
fair share is about 50% each, and the two shares should be close to each other.

`--neighbour nanogpt-style` makes the second training a default-policy one (OpenMP's own
spinning waits, as torch and nanoGPT run by default) instead of a copy of the candidate: the
case of a training started beside someone else's job.

It prints; it never asserts. The machine's load is printed with each round: other work on the
machine shifts every figure, so compare within one sitting.

    python bench/fairness.py [--policies ours,passive,spin] [--steps 150] [--rounds 2]
        [--neighbour same|spin] [--corpus FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from cpu_runs import DEFAULT_CORPUS, POLICIES, load, prepare_store, start_ours


def measure(policy: str, neighbour: str, data: Path, steps: int, work: Path
            ) -> tuple[float, float, float]:
    """(alone, beside, neighbour's beside) tokens/s."""
    alone = start_ours(data, steps, policy, work).tokens_per_s()
    a = start_ours(data, steps, policy, work)
    b = start_ours(data, steps, policy if neighbour == "same" else neighbour, work)
    return alone, a.tokens_per_s(), b.tokens_per_s()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default="ours",
                    help=f"comma-separated, of: {', '.join(POLICIES)}")
    ap.add_argument("--neighbour", default="same",
                    help="the second training's policy: same (a copy), or one of the policies")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--corpus", nargs="+", default=DEFAULT_CORPUS,
                    help="text files (default: the bundled sample corpus)")
    a = ap.parse_args()
    policies = a.policies.split(",")
    unknown = [p for p in [*policies, a.neighbour] if p not in POLICIES and p != "same"]
    if unknown:
        raise SystemExit(f"unknown policy {', '.join(unknown)}: choose from {', '.join(POLICIES)}")
    figures: dict[str, list[tuple[float, float, float]]] = {p: [] for p in policies}
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare_store(a.corpus, Path(tmp) / "data")
        for r in range(a.rounds):
            for p in policies:
                figures[p].append(measure(p, a.neighbour, data, a.steps, Path(tmp)))
                alone, mine, theirs = figures[p][-1]
                print(f"round {r + 1} {p:<10} alone {alone:>7,.0f}  beside: this "
                      f"{mine:>7,.0f} ({mine / alone:.0%})  neighbour {theirs:>7,.0f}  "
                      f"[{load()}]", flush=True)
    print(f"\nmedians over {a.rounds} rounds, {a.steps} steps each; neighbour: {a.neighbour}")
    print("| policy | alone tokens/s | beside: this | share | beside: neighbour |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for p, rows in figures.items():
        alone, mine, theirs = (statistics.median(c) for c in zip(*rows, strict=True))
        print(f"| {p} | {alone:,.0f} | {mine:,.0f} | {mine / alone:.0%} | {theirs:,.0f} |")


if __name__ == "__main__":
    main()
