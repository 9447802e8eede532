"""Does the learning-rate finder's suggestion train well? The range test on the tiny preset over
the bundled corpus, beside a grid of short runs at fixed rates: prints the suggestion, each
rate's validation loss after the same budget, and whether the suggestion lies within the range
of rates that train best (those within --tolerance nats of the grid's best loss, widened to the
geometric midpoints with their neighbours). Prints figures; asserts nothing.

    python bench/lr_find_check.py [--steps 300] [--rates 1e-3,3e-3,...] [--data DIR] [--device cpu]

The data folder is prepared from resources/corpus on first use (default
/tmp/lmstudio_lr_find_check/data; kept for the next call).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmstudio_app.core.config import build_run_config  # noqa: E402
from lmstudio_app.core.data.tokenizer import Tokenizer  # noqa: E402
from lmstudio_app.core.training.lr_find import lr_find  # noqa: E402
from lmstudio_app.core.training.trainer import Trainer  # noqa: E402

GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def prepared(data: Path) -> Path:
    if not (data / "tokens.h5").is_file():
        subprocess.run([sys.executable, "-m", "lmstudio_app", "prepare",
                        str(ROOT / "resources" / "corpus"), "--out", str(data)], check=True)
    return data


def config(data: Path, lr: float, steps: int, device: str) -> object:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    return build_run_config("clm", "tiny", vocab, {
        "learning_rate": lr, "max_steps": steps, "eval_interval": steps, "device": device,
        "sample_tokens": 0, "keep_checkpoints": 0}, data_dir=str(data))


def good_range(losses: dict[float, float], tolerance: float) -> tuple[float, float]:
    """The rates within `tolerance` of the best loss, widened halfway (geometrically) to the
    next grid rate on each side."""
    best = min(losses.values())
    rates = sorted(losses)
    good = [i for i, r in enumerate(rates) if losses[r] <= best + tolerance]
    lo, hi = good[0], good[-1]
    low = math.sqrt(rates[lo] * rates[lo - 1]) if lo > 0 else rates[lo]
    high = math.sqrt(rates[hi] * rates[hi + 1]) if hi + 1 < len(rates) else rates[hi]
    return low, high


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir())
                    / "lmstudio_lr_find_check" / "data")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tolerance", type=float, default=0.05, help="nats")
    ap.add_argument("--rates", type=lambda t: tuple(float(x) for x in t.split(",")),
                    default=GRID, help="the grid, comma-separated")
    args = ap.parse_args()
    data = prepared(args.data)
    t0 = time.perf_counter()
    found = lr_find(config(data, 1e-3, args.steps, args.device))  # Lightning's defaults
    print(f"lr-find: {len(found.lr)} steps in {time.perf_counter() - t0:.0f} s, "
          f"stopped early {found.stopped_early}; suggestion {found.suggestion}", flush=True)
    losses: dict[float, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lr in args.rates:
            t0 = time.perf_counter()
            result = Trainer(config(data, lr, args.steps, args.device), Path(tmp) / f"{lr:g}").run()
            losses[lr] = result.best_val_loss if result.best_val_loss is not None else math.inf
            print(f"lr {lr:<8g} val loss after {args.steps} steps: {losses[lr]:.4f} "
                  f"({time.perf_counter() - t0:.0f} s, {result.reason})", flush=True)
    low, high = good_range(losses, args.tolerance)
    suggestion = found.suggestion if found.suggestion is not None else math.nan
    inside = low <= suggestion <= high
    print(f"best range (within {args.tolerance} nats of the best): {low:.3g} .. {high:.3g}; "
          f"suggestion {suggestion:.3g} {'inside' if inside else 'OUTSIDE'}")


if __name__ == "__main__":
    main()
