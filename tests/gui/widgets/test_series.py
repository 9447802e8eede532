"""PeakSeries: the min/max pyramid stays exact under appends, and envelope() draws any zoom
with O(width) points that keep every extreme."""

from __future__ import annotations

import numpy as np
import pytest

from lmstudio_app.gui.widgets.series import Column, PeakSeries


def brute_levels(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    levels, k = [], 1
    while len(y) > (1 << (k - 1)):
        size = 1 << k
        starts = np.arange(0, len(y), size)
        levels.append((np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)))
        k += 1
    return levels


def assert_pyramid_exact(s: PeakSeries) -> None:
    """Every live level of the series equals the brute-force reduction of its points."""
    got = [(lo.values, hi.values) for lo, hi in s._levels if lo.n]
    want = brute_levels(s.y)
    assert len(got) == len(want)
    for (glo, ghi), (wlo, whi) in zip(got, want, strict=True):
        np.testing.assert_array_equal(glo, wlo)
        np.testing.assert_array_equal(ghi, whi)


def noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=np.float64)
    return x, (5 * np.exp(-x / n) + rng.standard_normal(n)).astype(np.float32)


def test_column_doubles_and_overwrites_its_tail():
    c = Column(capacity=2)
    c.write(0, np.arange(5))
    assert c.capacity == 8 and c.values.tolist() == [0, 1, 2, 3, 4]
    c.write(3, np.array([9]))  # a rewrite from the middle ends the column there
    assert c.values.tolist() == [0, 1, 2, 9]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4097])
def test_levels_in_uneven_appends_equal_the_brute_reduction(n):
    x, y = noisy(n)
    s = PeakSeries(capacity=4)
    rng = np.random.default_rng(n)
    i = 0
    while i < n:
        k = int(rng.integers(1, 40))
        s.append(x[i:i + k], y[i:i + k])
        i += k
    assert_pyramid_exact(s)


def test_clear_then_a_shorter_series_rebuilds_the_pyramid():
    s = PeakSeries()
    s.append(*noisy(5000))
    s.clear()
    x, y = noisy(300, seed=1)
    s.append(x, y)
    assert_pyramid_exact(s)


def test_a_short_series_is_drawn_point_for_point():
    s = PeakSeries()
    x, y = noisy(500)
    s.append(x, y)
    ex, ey = s.envelope(-np.inf, np.inf, 400)
    np.testing.assert_array_equal(ex, s.x)
    np.testing.assert_array_equal(ey, s.y)
    assert len(s.envelope(1, 1, 400)[0]) >= 1
    assert len(PeakSeries().envelope(0, 1, 100)[0]) == 0


def test_whole_series_envelope_is_width_sized_and_keeps_every_extreme():
    s = PeakSeries()
    x, y = noisy(1_000_000)
    s.append(x, y)
    ex, ey = s.envelope(-np.inf, np.inf, 1200)
    assert len(ex) <= 2 * 1200 + 1
    assert np.all(np.diff(ex) >= 0)
    assert ey.min() == s.y.min() and ey.max() == s.y.max()
    assert ex[0] == 1 and ex[-1] == 1_000_000 and ey[-1] == s.y[-1]  # the live tip is drawn
    # Each bucket's pair is its exact min and max.
    k = int(np.log2(1_000_000 / (len(ex) // 2)) + 0.5)
    size = 1 << k
    j = 37
    assert ex[2 * j] == x[j * size]
    assert ey[2 * j] == s.y[j * size:(j + 1) * size].min()
    assert ey[2 * j + 1] == s.y[j * size:(j + 1) * size].max()


def test_zoomed_envelope_is_fine_inside_the_view_and_coarse_outside():
    s = PeakSeries()
    x, y = noisy(1_000_000, seed=3)
    s.append(x, y)
    x0, x1 = 400_000.5, 400_900.5  # 900 points on 600 pixels: raw inside the view
    ex, ey = s.envelope(x0, x1, 600)
    assert np.all(np.diff(ex) >= 0)
    inside = (ex >= x0) & (ex <= x1)
    np.testing.assert_array_equal(ex[inside], x[400_000:400_900])
    assert len(ex) - inside.sum() <= 2 * 3 * 21  # O(log n) tiles off the view
    assert ey.min() == s.y.min() and ey.max() == s.y.max()  # bounds for auto-range survive
    # A wider zoom: reduced, yet every visible extreme is drawn inside the view.
    x0, x1 = 100_000.5, 300_000.5
    ex, ey = s.envelope(x0, x1, 500)
    inside = (ex >= x0 - 1) & (ex <= x1 + 1)  # the view draws one point past each edge
    assert inside.sum() <= 2 * 500 + 4
    visible = s.y[100_000:300_000]
    assert ey[inside].min() <= visible.min() and ey[inside].max() >= visible.max()


def test_off_view_tiles_never_draw_a_far_extreme_at_the_view_edge():
    s = PeakSeries()
    x, y = noisy(100_000, seed=4)
    y[99_990] = 100.0  # a spike far right of the view
    y[5] = -100.0  # and one far left
    s.append(x, y)
    x0, x1 = 40_000.5, 41_000.5
    ex, ey = s.envelope(x0, x1, 800)
    assert ey.max() == 100.0 and ey.min() == -100.0  # bounds kept
    yy = s.y
    for px, py in zip(ex.tolist(), ey.tolist(), strict=True):
        if px > x1 + 1:  # drawn right of the view: a value found between the edge and px
            seg = yy[40_999:int(px)]
        elif px < x0 - 1:
            seg = yy[int(px) - 1:40_001]
        else:
            continue
        assert seg.min() <= py <= seg.max(), (px, py)
