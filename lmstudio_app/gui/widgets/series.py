"""Curve data for long runs: growing buffers, and a min/max pyramid so a redraw costs O(width).

A curve of a million steps cannot be re-reduced at every redraw. `PeakSeries` keeps, beside
its x/y buffers, levels of (min, max) pairs over buckets of 2, 4, 8, ... points, brought up to
date on each append in amortised O(appended). `envelope()` then returns, for the visible range
and the plot's width in pixels, one min/max pair per bucket at the finest level that has no more
buckets than pixels: the picture of peak downsampling, from O(width) work instead of O(n).
Plain numpy, no Qt.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import DTypeLike


class Column:
    """A 1-D array whose capacity doubles when full; `values` is a view of the filled part."""

    def __init__(self, capacity: int = 1024, dtype: DTypeLike = np.float32) -> None:
        self._data: np.ndarray = np.empty(max(capacity, 1), dtype=dtype)
        self.n = 0

    @property
    def capacity(self) -> int:
        return len(self._data)

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.n]

    def write(self, start: int, values: np.ndarray) -> None:
        """Overwrite from index `start` (at most n) on; the column then ends after `values`."""
        end = start + len(values)
        if end > self.capacity:
            cap = self.capacity
            while cap < end:
                cap *= 2
            grown = np.empty(cap, dtype=self._data.dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[start:end] = values
        self.n = end


class GrowingSeries:
    """x/y buffers that double their capacity when full; views are handed to the plot."""

    def __init__(self, capacity: int = 1024, dtype: type = np.float32) -> None:
        # float32 halves the memory of a long run; steps stay exact up to 2**24 and losses keep
        # 7 significant digits.
        self._x = Column(capacity, dtype)
        self._y = Column(capacity, dtype)

    @property
    def n(self) -> int:
        return self._x.n

    @property
    def capacity(self) -> int:
        return self._x.capacity

    def append(self, x: Iterable[float] | np.ndarray, y: Iterable[float] | np.ndarray) -> None:
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
        if len(xs) != len(ys):
            raise ValueError("x and y differ in length")
        n = self.n
        self._x.write(n, xs)
        self._y.write(n, ys)

    @property
    def x(self) -> np.ndarray:
        return self._x.values

    @property
    def y(self) -> np.ndarray:
        return self._y.values

    def clear(self) -> None:
        self._x.n = self._y.n = 0


class PeakSeries(GrowingSeries):
    """A GrowingSeries with a min/max pyramid for drawing it at any zoom in O(width).

    Level k (k >= 1) holds, for bucket j, the min and max of y over points [j*2**k, (j+1)*2**k).
    The x values must not decrease (steps); envelope() relies on it for its binary searches.
    """

    def __init__(self, capacity: int = 1024, dtype: type = np.float32) -> None:
        super().__init__(capacity, dtype)
        self._levels: list[tuple[Column, Column]] = []  # index 0 is level 1

    def append(self, x: Iterable[float] | np.ndarray, y: Iterable[float] | np.ndarray) -> None:
        first_changed = self.n
        super().append(x, y)
        self._update_levels(first_changed)

    def clear(self) -> None:
        super().clear()
        for lo, hi in self._levels:
            lo.n = hi.n = 0

    def level_count(self) -> int:
        return sum(1 for lo, _ in self._levels if lo.n)

    def _update_levels(self, first_changed: int) -> None:
        """Recompute the buckets whose points changed: from the bucket holding index
        `first_changed` of the level below, up every level (two children per bucket)."""
        below_lo = below_hi = self.y
        length = self.n
        k = 0
        while length > 1:
            if k == len(self._levels):
                dtype = self.y.dtype
                self._levels.append((Column(max(length // 2, 1), dtype),
                                     Column(max(length // 2, 1), dtype)))
            start = first_changed // 2
            lo_part, hi_part = below_lo[2 * start:length], below_hi[2 * start:length]
            if len(lo_part) % 2:  # a last bucket with one child: pair it with itself
                lo_part = np.append(lo_part, lo_part[-1])
                hi_part = np.append(hi_part, hi_part[-1])
            lo_col, hi_col = self._levels[k]
            lo_col.write(start, lo_part.reshape(-1, 2).min(axis=1))
            hi_col.write(start, hi_part.reshape(-1, 2).max(axis=1))
            below_lo, below_hi, length = lo_col.values, hi_col.values, lo_col.n
            first_changed = start
            k += 1
        for lo, hi in self._levels[k:]:  # levels the shorter series no longer needs
            lo.n = hi.n = 0

    def envelope(self, x0: float, x1: float, pixels: int) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw for the view [x0, x1] on a plot `pixels` wide.

        Inside the view (and one point past each edge): the raw points when there are at most
        two a pixel, otherwise one (min, max) pair per bucket with at most one bucket a pixel,
        plus the last point so the curve ends where the data ends. Outside the view: a few
        dozen buckets that tile it exactly, so the plot's data bounds (auto-range, the "A"
        button) still hold every extreme; each is drawn at its end away from the view, so no
        far extreme lands at the view's edge. x never decreases in the result.
        """
        n = self.n
        if n == 0:
            empty = np.empty(0, dtype=self.x.dtype)
            return empty, empty
        xs = self.x
        # Keys of the buffer's dtype: mixed dtypes would make numpy convert the whole buffer.
        lo, hi = np.array([x0, x1], dtype=xs.dtype)
        a = max(int(np.searchsorted(xs, lo, side="left")) - 1, 0)  # one point past each edge
        b = min(int(np.searchsorted(xs, hi, side="right")) + 1, n)
        if b <= a:
            a, b = (n - 1, n) if a >= n else (a, a + 1)
        parts = [self._tiles(0, a, at_start=True), self._reduce(a, b, max(int(pixels), 1)),
                 self._tiles(b, n, at_start=False)]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def _bucket(self, k: int, j: int) -> tuple[float, float]:
        """(min, max) of bucket j at level k (level 0: the point itself)."""
        if k == 0:
            v = float(self.y[j])
            return v, v
        lo_col, hi_col = self._levels[k - 1]
        return float(lo_col.values[j]), float(hi_col.values[j])

    def _tiles(self, a: int, b: int, at_start: bool) -> tuple[np.ndarray, np.ndarray]:
        """Points [a, b) as the fewest aligned buckets that tile them exactly (O(log n)), each
        a (min, max) pair drawn at its first point (`at_start`) or its last."""
        xs = self.x
        top = self.level_count()
        px: list[float] = []
        py: list[float] = []
        i = a
        while i < b:
            k = 0
            while k < top and i % (2 << k) == 0 and i + (2 << k) <= b:
                k += 1
            size = 1 << k
            at = float(xs[i] if at_start else xs[i + size - 1])
            px += [at, at]
            py += self._bucket(k, i >> k)
            i += size
        return np.array(px, dtype=xs.dtype), np.array(py, dtype=xs.dtype)

    def _reduce(self, a: int, b: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """Points [a, b) as they are when few, else as min/max pairs at the finest level with
        at most `buckets` buckets over the range."""
        xs, ys = self.x, self.y
        m = b - a
        if m <= 2 * buckets:
            return xs[a:b], ys[a:b]
        k = 1
        while -(-m // (1 << k)) > buckets and k < self.level_count():
            k += 1
        lo_col, hi_col = self._levels[k - 1]
        j0, j1 = a >> k, ((b - 1) >> k) + 1
        starts = np.maximum(np.arange(j0, j1) << k, a)  # a bucket starting before a is drawn at a
        x = np.repeat(xs[starts], 2)
        y = np.empty(2 * (j1 - j0), dtype=ys.dtype)
        y[0::2] = lo_col.values[j0:j1]
        y[1::2] = hi_col.values[j0:j1]
        return np.append(x, xs[b - 1]), np.append(y, ys[b - 1])
