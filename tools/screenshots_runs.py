"""Screenshots of the curves' instruments and the Runs page's comparison, for the documentation.

Trains two tiny GPT runs on the bundled sample corpus (the same settings but the learning rate,
a few hundred steps each, real training; about two minutes on two CPU cores), then opens the
window offscreen:

- curves.png: the Train page showing the first run against tokens seen: the smoothed loss,
  validation points with the bits-per-byte axis on the right, and the kept checkpoints as
  diamonds (a click opens one in the Playground);
- runs_compare.png: the Runs page's table with each run's final figures, the first run's note
  and tags, and the two runs compared setting by setting.

    python tools/screenshots_runs.py [--steps 400] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# screenshots (tools/, on the path as the script's folder) sets the offscreen platform and puts
# the project on the path before anything imports Qt or the app.
from screenshots import (
    ROOT,
    SIZE,
    save,
    screen_state,
    settle,
    signal_list,
    wait_for,
)

SHAPE = {"n_layer": 2, "n_head": 4, "n_embd": 64, "block_size": 64, "batch_size": 16,
         "log_interval": 2, "sample_tokens": 24, "device": "cpu"}
RATES = (("baseline", 1e-3), ("faster-lr", 3e-3))


def prepare_sample(home: Path) -> Path:
    from lmstudio_app.core.data.prepare import PrepareConfig, prepare
    from lmstudio_app.core.data.samples import sample_corpus_files
    from lmstudio_app.core.data.tokenizer import TokenizerSpec

    cfg = PrepareConfig(sources=[str(p) for p in sample_corpus_files()],
                        out_dir=str(home / "data" / "austen"),
                        tokenizer=TokenizerSpec(kind="unigram", vocab_size=2000))
    return Path(prepare(cfg).out_dir)


def train_runs(data: Path, runs_root: Path, steps: int) -> list[Path]:
    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer

    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    made = []
    for name, lr in RATES:
        over = {**SHAPE, "max_steps": steps, "eval_interval": max(steps // 25, 1),
                "learning_rate": lr}
        cfg = build_run_config("clm", "tiny", vocab, over, data_dir=str(data), name=name)
        run_dir = runs.new_run_dir(runs_root, name)
        result = Trainer(cfg, run_dir, MetricsSink()).run()
        if result.reason != "completed":
            raise SystemExit(f"{name}: {result.error}")
        print(f"trained {run_dir.name}", flush=True)
        made.append(run_dir)
        time.sleep(1.1)  # run folders are named by the second
    runs.write_notes(made[0], "The tiny preset at its default learning rate: the reference "
                     "for the other runs.", ["baseline", "austen"])
    runs.write_notes(made[1], "Three times the learning rate: faster at first, noisier.",
                     ["lr-sweep", "austen"])
    return made


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400, help="steps of each run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()

    with screen_state() as state:
        from lmstudio_app.gui.main_window import MainWindow

        data = prepare_sample(state.home)
        first, second = train_runs(data, state.runs_root, args.steps)
        window = MainWindow(state)
        window.resize(SIZE)
        window.show()

        # The Train page: the first run's curves against tokens seen, its checkpoints marked.
        train = window.train_page
        loaded = signal_list(train.sig_history_loaded)
        state.sig_open_run.emit(first)
        wait_for(lambda: bool(loaded), 60, "the run's history")
        train.curves.set_x_axis("tokens")
        train.curves.flush()
        settle(0.5)
        x = train.curves.loss.x
        train.curves.outputs.show_readout(float(x[int(len(x) * 0.55)]))
        save(window, args.out / "curves.png")

        # The Runs page: both runs' figures, the first one's note, their settings compared.
        window.show_page("Runs")
        page = window.pages["Runs"]
        page.refresh()
        wait_for(lambda: len(page.figures) == 2, 60, "the runs' figures")
        shown = signal_list(page.sig_difference_shown)
        page.select_runs([first, second])
        page.compare_selected()
        wait_for(lambda: bool(shown), 30, "the config difference")
        page.select_run(first)  # the comparison stays below; the notes follow the selection
        page.splitter.setSizes([430, 330])
        save(window, args.out / "runs_compare.png")
        window.close()
        for p in window.pages.values():
            p.shutdown()
        settle(0.2)
    print(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
