"""Redraw cost of a million-point curve: append a few points, redraw, repaint.

A CurvesWidget (offscreen, 1200 x 700) holds 1,000,000 logged steps (loss, smoothed loss,
learning rate, throughput); then 30 times: append 100 points and time the redraw (each series
reduced to one min/max pair a pixel from its pyramid, then setData) plus a full paint of the
plots into a pixmap (grab).
Prints the median, p95 and maximum (target: under 20 ms). It prints; it never asserts.

    python bench/plot_scale.py [--points 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from gui_common import percentile
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    from lmstudio_app.gui.widgets.curves import CurvesWidget

    w = CurvesWidget()
    w.resize(1200, 700)
    w.show()
    n = args.points
    rng = np.random.default_rng(0)
    steps = np.arange(1, n + 1, dtype=np.float64)
    loss = 8.0 * np.exp(-steps / (n / 5)) + 1.5 + 0.2 * rng.standard_normal(n)
    lr = 1e-3 * (0.5 + 0.5 * np.cos(np.pi * steps / n))
    tps = 20000 + 500 * rng.standard_normal(n)
    t0 = time.perf_counter()
    w.append_steps(steps, loss, lr, tps)
    w.flush()
    w.graphics.grab()
    app.processEvents()
    first = (time.perf_counter() - t0) * 1000
    times = []
    for r in range(args.repeats):
        s = np.arange(n + r * 100 + 1, n + (r + 1) * 100 + 1, dtype=np.float64)
        w.append_steps(s, 1.5 + 0.2 * rng.standard_normal(100), np.full(100, 1e-5),
                       np.full(100, 20000.0))
        t = time.perf_counter()
        w.flush()
        w.graphics.grab()  # forces a full paint (a plain repaint() may paint nothing offscreen)
        times.append((time.perf_counter() - t) * 1000)
    print(f"{w.n_points():,} points; first full draw (append + smooth + draw) {first:.0f} ms")
    print(f"append 100 + redraw + paint: median {statistics.median(times):.1f} ms, "
          f"p95 {percentile(times, 95):.1f} ms, max {max(times):.1f} ms  (target < 20 ms)")
    w.close()


if __name__ == "__main__":
    main()
