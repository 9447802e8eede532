"""UI latency while the window works: how late a 10 ms heartbeat timer fires.

Case "train" (the default): the window (offscreen) trains the tiny preset on the CPU. Case
"views": a GPT run of the tiny preset is trained first (not measured), then the Playground's
Attention view, then its Hard tokens view, is opened and computes over it again and again for
--seconds (each computation in its background job, its result shown as it comes). A 10 ms
precise QTimer in the GUI thread records how late each tick arrives. Prints p50, p99 and the
maximum lateness (target: p99 under 50 ms). It prints; it never asserts.

    python bench/ui_latency.py [--steps 120]
    python bench/ui_latency.py --case views [--steps 60] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from gui_common import percentile, sample_data, train_window
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class Heartbeat:
    """A 10 ms precise timer in the GUI thread; `lateness` holds how late each tick came (ms)."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._last = 0.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.lateness.append(max(0.0, (now - self._last) * 1000 - 10.0))
        self._last = now

    def report(self) -> str:
        late = self.lateness
        return (f"heartbeat lateness: p50 {percentile(late, 50):.1f} ms, "
                f"p99 {percentile(late, 99):.1f} ms, max {max(late):.1f} ms, "
                f"mean {statistics.fmean(late):.1f} ms  (target p99 < 50 ms)")


def wait_for(signal: object) -> None:
    """Run the event loop (as the app's exec() does) until `signal` fires."""
    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    loop.exec()
    signal.disconnect(loop.quit)  # type: ignore[attr-defined]


def views_case(steps: int, seconds: float) -> None:
    """The heartbeat while the Attention and Hard tokens views compute over a tiny-preset run."""
    from PySide6.QtCore import QSettings

    from lmstudio_app.core import runs
    from lmstudio_app.core.config import build_run_config
    from lmstudio_app.core.data.tokenizer import Tokenizer
    from lmstudio_app.core.training.sinks import MetricsSink
    from lmstudio_app.core.training.trainer import Trainer
    from lmstudio_app.gui.main_window import MainWindow
    from lmstudio_app.gui.pages.playground.instrument_tabs import ATTENTION, HARD_TOKENS
    from lmstudio_app.gui.state import AppState

    data = sample_data()
    home = Path(tempfile.mkdtemp(prefix="lmstudio_app-latency-views-"))
    vocab = Tokenizer.load(data / "tokenizer.model").vocab_size
    cfg = build_run_config("clm", "tiny", vocab, {"max_steps": steps, "device": "cpu",
                                                  "eval_interval": steps},
                           data_dir=str(data), name="views")
    run = runs.new_run_dir(home / "runs", "views")
    Trainer(cfg, run, MetricsSink()).run()
    _app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive)
    state = AppState(QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat), home)
    window = MainWindow(state)
    window.resize(1280, 820)
    window.show()
    window.show_page("Playground")
    page = window.pages["Playground"]
    if page.model is None:
        wait_for(page.sig_model_loaded)
    tabs = page.instruments
    attention, hard = tabs.attention_panel, tabs.hard_tokens_panel
    views = (("attention", ATTENTION, attention, attention.compute, attention.sig_computed),
             ("hard tokens", HARD_TOKENS, hard, hard.score, hard.sig_scored))
    beats: dict[str, Heartbeat] = {}
    for name, index, panel, start_job, shown in views:
        tabs.setCurrentIndex(index)  # shown once, as a person opens the tab, then left open
        settle = QTimer()
        settle.setSingleShot(True)
        settle.start(300)
        wait_for(settle.timeout)
        beat = beats[name] = Heartbeat()
        beat.timer.start()
        began, jobs = time.perf_counter(), 0
        results = []
        shown.connect(results.append)
        while time.perf_counter() - began < seconds:
            start_job()
            if panel.job is None:
                raise SystemExit(f"the {name} view did not start: {panel.status.text()}")
            wait_for(panel.job.sig_finished)  # its result shown, its thread ended
            jobs += 1
        if len(results) != jobs:
            raise SystemExit(f"the {name} view failed: {panel.status.text()}")
        beat.timer.stop()
        took = time.perf_counter() - began
        print(f"{name}: {jobs} computations back to back in {took:.1f} s "
              f"({took / jobs:.2f} s each), {len(beat.lateness)} heartbeats")
        print(f"  {beat.report()}")
    window.close()
    both = Heartbeat()
    both.lateness = [x for b in beats.values() for x in b.lateness]
    print(f"{steps}-step tiny-preset GPT run, attention of {len(attention.maps.tokens)} tokens, "
          f"hard tokens of a {len(hard.scores.passage.tokens)}-token passage and 64 validation "
          "windows")
    print(f"both views: {both.report()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("train", "views"), default="train")
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps (default: 120 for train, 60 for views)")
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="views: how long each view computes, one computation after another")
    args = ap.parse_args()
    if args.case == "views":
        views_case(args.steps or 60, args.seconds)
        return
    steps = args.steps or 120
    data = sample_data()
    _app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive)
    home = Path(tempfile.mkdtemp(prefix="lmstudio_app-latency-"))
    fields = {"max_steps": steps, "eval_interval": max(steps // 2, 1), "log_interval": 1}
    window, page, _state = train_window(data, home, fields)

    beat = Heartbeat()
    done = []
    page.session.sig_done.connect(lambda run, reason: done.append(reason))
    start = time.perf_counter()
    if not page.start():
        raise SystemExit(f"cannot start: {page.start_refusal()}")
    beat.timer.start()
    loop = QEventLoop()  # the real app runs exec(); so does this
    page.session.sig_done.connect(loop.quit)
    if not done:
        loop.exec()
    beat.timer.stop()
    took = time.perf_counter() - start
    window.close()
    print(f"trained {page.session.step} steps of the tiny preset in {took:.1f} s "
          f"({page.curves.redraw_count} redraws, {len(beat.lateness)} heartbeats)")
    print(beat.report())


if __name__ == "__main__":
    main()
