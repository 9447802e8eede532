"""Screenshots of the research instruments, for the documentation.

- benchmarks.png: the Runs page with two short real GPT runs on the bundled sample corpus
  (the same settings but the learning rate), both benchmarked on the bundled sentiment_mc task
  with lm-evaluation-harness, compared in the Benchmarks section (a column per task);
- sweep.png: the Sweep page after a real grid over the learning rate from the first run's
  settings (short trials): the table of trials, pruned ones named, and their curves overlaid.

    python tools/screenshots_research.py [--steps 150] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# screenshots (tools/, on the path as the script's folder) sets the offscreen platform and puts
# the project on the path before anything imports Qt or the app.
from screenshots import ROOT, SIZE, save, screen_state, settle, wait_for
from screenshots_runs import prepare_sample, train_runs


def benchmark(run_dirs: list[Path]) -> None:
    from lmstudio_app.core.inference.benchmark import run_benchmark
    from lmstudio_app.core.inference.loading import load_run
    from lmstudio_app.core.runs.benchmarks import write_benchmark

    for run_dir in run_dirs:
        write_benchmark(run_dir, run_benchmark(load_run(run_dir), ["sentiment_mc"]))
        print(f"benchmarked {run_dir.name}", flush=True)


def shoot_benchmarks(window, state, made: list[Path], out: Path) -> None:
    window.show_page("Runs")
    page = window.pages["Runs"]
    page.refresh()
    wait_for(lambda: len(page.figures) == len(made), 60, "the runs' figures")
    page.select_runs(made)
    panel = page.benchmarks_panel
    wait_for(lambda: set(panel.paths) == set(made), 30, "the benchmarks")
    page.splitter.setSizes([430, 330])
    settle(0.3)
    save(window, out / "benchmarks.png")


def shoot_sweep(window, base: Path, out: Path, steps: int) -> None:
    window.show_page("Sweep")
    page = window.pages["Sweep"]
    page.refresh_runs()
    page.base_combo.setCurrentIndex(page.base_combo.findData(str(base)))
    page.params_edit.setPlainText("learning_rate=1e-4,3e-4,1e-3,3e-3")
    page.steps_spin.setValue(steps)
    if not page.start():
        raise SystemExit(f"the sweep did not start: {page.status.text()}")
    wait_for(lambda: page.job is None, 1200, "the sweep")
    page.split.setSizes([560, 580])
    settle(0.5)
    save(window, out / "sweep.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150, help="steps of each run")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with screen_state() as state:
        from lmstudio_app.gui.main_window import MainWindow

        data = prepare_sample(state.home)
        made = train_runs(data, state.runs_root, args.steps)
        benchmark(made)
        window = MainWindow(state)
        window.resize(SIZE)
        window.show()
        shoot_benchmarks(window, state, made, args.out)
        shoot_sweep(window, made[0], args.out, max(args.steps // 2, 20))
        window.close()
        for p in window.pages.values():
            p.shutdown()
        settle(0.2)
    print(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
