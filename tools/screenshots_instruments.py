"""Screenshots of the learning-rate finder and the embedding projector, for the documentation.

Prepares the bundled sample corpus (2,000 pieces), trains one small GPT run on it (real
training, a few hundred steps, its metrics also written for TensorBoard), then opens the window
offscreen:

- lr_find.png: the Train page's learning-rate finder (Find… beside the learning rate) after its
  sweep: the smoothed loss against the rate, the suggestion marked;
- embeddings.png: the Playground's Embeddings tab on that run: its token embeddings by PCA
  coloured by piece type, one token chosen and its nearest neighbours listed.

    python tools/screenshots_instruments.py [--steps 400] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# screenshots (tools/, on the path as the script's folder) sets the offscreen platform and puts
# the project on the path before anything imports Qt or the app.
from screenshots import ROOT, SIZE, save, screen_state, settle, signal_list, wait_for
from screenshots_runs import SHAPE, prepare_sample

CHOSEN_PIECE = "\u2581she"


def train_run(data: Path, runs_root: Path, steps: int) -> Path:
    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.training.trainer import Trainer

    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    over = {**SHAPE, "max_steps": steps, "eval_interval": max(steps // 8, 1),
            "learning_rate": 3e-3, "report_to": "tensorboard"}
    cfg = build_run_config("clm", "tiny", vocab, over, data_dir=str(data), name="projector")
    run_dir = runs.new_run_dir(runs_root, "projector")
    result = Trainer(cfg, run_dir).run()
    if result.reason != "completed":
        raise SystemExit(f"training: {result.error}")
    print(f"trained {run_dir.name}", flush=True)
    return run_dir


def shoot_lr_find(window, state, data: Path, out: Path) -> None:
    from lmstudio_app.gui.find import button, choose

    window.show_page("Train")
    train = window.train_page
    state.sig_data_ready.emit(data)
    choose(train, "Device", "cpu")
    for key in ("n_layer", "n_head", "n_embd", "block_size", "batch_size"):
        train.set_field(key, SHAPE[key])
    settle(0.3)
    button(train, "Find…").click()
    dialog = train.form.lr_dialog
    results = signal_list(dialog.job.sig_result)
    wait_for(lambda: bool(results) and dialog.apply_button.isEnabled(), 900, "the sweep")
    dialog.resize(720, 460)
    save(dialog, out / "lr_find.png")
    dialog.reject()
    wait_for(lambda: not dialog.job.is_running(), 60, "the finder's thread")


def shoot_embeddings(window, state, run: Path, out: Path) -> None:
    from lmstudio_app.gui.pages.playground.instrument_tabs import EMBEDDINGS

    window.show_page("Playground")
    play = window.pages["Playground"]
    loaded = signal_list(play.sig_model_loaded)
    state.sig_use_run.emit(run)
    wait_for(lambda: bool(loaded), 120, "the run in the Playground")
    play.instruments.setCurrentIndex(EMBEDDINGS)
    panel = play.instruments.embeddings_panel
    panel.colour_box.setCurrentIndex(panel.colour_box.findData("type"))
    shown = signal_list(panel.sig_shown)
    panel.compute()
    wait_for(lambda: bool(shown) and panel.job is None, 300, "the projection")
    e = shown[0]
    if CHOSEN_PIECE in e.pieces:
        panel.choose(e.pieces.index(CHOSEN_PIECE))
    save(window, out / "embeddings.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400, help="steps of the run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with screen_state() as state:
        from lmstudio_app.gui.main_window import MainWindow

        data = prepare_sample(state.home)
        run = train_run(data, state.runs_root, args.steps)
        window = MainWindow(state)
        window.resize(SIZE)
        window.show()
        shoot_lr_find(window, state, data, args.out)
        shoot_embeddings(window, state, run, args.out)
        window.close()
        for p in window.pages.values():
            p.shutdown()
        settle(0.2)
    print(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
