"""UI latency while the window trains: how late a 10 ms heartbeat timer fires.

The window (offscreen) trains the tiny preset on the CPU; a 10 ms precise QTimer in the GUI
thread records how late each tick arrives. Prints p50, p99 and the maximum lateness (target:
p99 under 50 ms). It prints; it never asserts.

    python bench/ui_latency.py [--steps 120]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120)
    args = ap.parse_args()
    data = sample_data()
    _app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive)
    home = Path(tempfile.mkdtemp(prefix="lmstudio_app-latency-"))
    fields = {"max_steps": args.steps, "eval_interval": max(args.steps // 2, 1), "log_interval": 1}
    window, page, _state = train_window(data, home, fields)

    lateness: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            lateness.append(max(0.0, (now - last[0]) * 1000 - 10.0))
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(tick)
    done = []
    page.session.sig_done.connect(lambda run, reason: done.append(reason))
    start = time.perf_counter()
    if not page.start():
        raise SystemExit(f"cannot start: {page.error_label.text()}")
    heartbeat.start()
    loop = QEventLoop()  # the real app runs exec(); so does this
    page.session.sig_done.connect(loop.quit)
    if not done:
        loop.exec()
    heartbeat.stop()
    took = time.perf_counter() - start
    window.close()
    print(f"trained {page.session.step} steps of the tiny preset in {took:.1f} s "
          f"({page.curves.redraw_count} redraws, {len(lateness)} heartbeats)")
    print(f"heartbeat lateness: p50 {percentile(lateness, 50):.1f} ms, "
          f"p99 {percentile(lateness, 99):.1f} ms, max {max(lateness):.1f} ms, "
          f"mean {statistics.fmean(lateness):.1f} ms  (target p99 < 50 ms)")


if __name__ == "__main__":
    main()
