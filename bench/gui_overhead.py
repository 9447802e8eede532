"""What the window costs the training loop: tokens/s from the window vs headless.

The same short run of the tiny preset on the CPU, twice each, alternating: headless (the
engine's Trainer with a recording sink, as the CLI runs it) and from the window (offscreen,
through the Train page). Prints both rates and their ratio (target: at least 0.95). The rate is
measured from the logged steps after a warm-up, with no evaluation inside the window measured.
It prints; it never asserts.

    python bench/gui_overhead.py [--steps 150] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from gui_common import sample_data, train_window
from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from lmstudio_app.core.config import build_run_config
from lmstudio_app.core.data.tokenizer import Tokenizer
from lmstudio_app.core.training.sinks import RecordingSink
from lmstudio_app.core.training.trainer import Trainer

WARMUP = 10


def overrides(steps: int) -> dict:
    return {"max_steps": steps, "eval_interval": steps, "log_interval": 1, "device": "cpu"}


def rate(steps: list[float], elapsed: list[float], tokens_per_step: int) -> float:
    """Tokens per second between the end of warm-up and the last step before the evaluation."""
    i, j = WARMUP, len(steps) - 2
    return (steps[j] - steps[i]) * tokens_per_step / (elapsed[j] - elapsed[i])


def headless(data: Path, steps: int, work: Path) -> float:
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    cfg = build_run_config("clm", "tiny", vocab, overrides(steps), data_dir=str(data))
    sink = RecordingSink()
    Trainer(cfg, Path(tempfile.mkdtemp(dir=work)), sink).run()
    tps = cfg.train.batch_size * cfg.model.block_size
    return rate([m.step for m in sink.steps], [m.elapsed_s for m in sink.steps], tps)


def windowed(app: QApplication, data: Path, steps: int, work: Path) -> float:
    home = Path(tempfile.mkdtemp(dir=work))
    window, page, _state = train_window(data, home, overrides(steps))
    rows = []
    page.session.sig_steps.connect(lambda r, _m: rows.extend(r.tolist()))
    loop = QEventLoop()
    page.session.sig_done.connect(loop.quit)
    if not page.start():
        raise SystemExit(f"cannot start: {page.start_refusal()}")
    loop.exec()
    window.close()
    cfg = page.session.config
    tps = cfg.train.batch_size * cfg.model.block_size
    return rate([r[0] for r in rows], [r[5] for r in rows], tps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    data = sample_data()
    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="lmstudio_app-overhead-"))
    cli, gui = [], []
    for _ in range(args.rounds):
        cli.append(headless(data, args.steps, work))
        gui.append(windowed(app, data, args.steps, work))
    c, g = statistics.fmean(cli), statistics.fmean(gui)
    print(f"tiny preset, CPU, {args.steps} steps x {args.rounds} rounds each")
    print(f"headless (engine/CLI): {c:,.0f} tokens/s   " + ", ".join(f"{v:,.0f}" for v in cli))
    print(f"window (offscreen):    {g:,.0f} tokens/s   " + ", ".join(f"{v:,.0f}" for v in gui))
    print(f"ratio window/headless: {g / c:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
