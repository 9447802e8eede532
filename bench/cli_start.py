"""How long each command takes to answer when it has nothing heavy to do.

    python bench/cli_start.py [--runs 5]

Starts the real program (the venv's `lmstudio-app`, else `python -m lmstudio_app`) in a fresh
process for `--help`, every command's `--help`, `runs` on an empty folder and an argument error
(`pretrain --max-steps x`), `--runs` times each, and prints the median and slowest wall time in
seconds and whether PyTorch was imported (`-X importtime` on one extra run). None of these needs
PyTorch or Qt, so each should answer in well under a second. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import program  # bench/startup.py: the command a user runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cases(empty: Path) -> list[list[str]]:
    from lmstudio_app.cli.main import COMMANDS

    return ([["--help"]] + [[name, "--help"] for name in COMMANDS]
            + [["runs", "--root", str(empty)], ["pretrain", "--max-steps", "x"]])


def seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(program() + argv, capture_output=True, check=False)
    return time.perf_counter() - start


def imports_torch(argv: list[str]) -> bool:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "lmstudio_app", *argv],
                         capture_output=True, text=True, check=False)
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in out.stderr.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as empty:
        print(f"{'command':<34} {'median s':>9} {'max s':>7}  torch")
        for argv in cases(Path(empty)):
            times = [seconds(argv) for _ in range(args.runs)]
            shown = " ".join("EMPTY" if a == empty else a for a in argv)
            print(f"{shown:<34} {statistics.median(times):>9.2f} {max(times):>7.2f}  "
                  f"{'yes' if imports_torch(argv) else 'no'}")


if __name__ == "__main__":
    main()
