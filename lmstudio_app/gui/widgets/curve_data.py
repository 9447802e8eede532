"""The numbers behind the curves, without Qt: TensorBoard's smoothing, a run's series from its
metrics events, and the x-axes a curve can be drawn against (steps, tokens seen, training time).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.runs.table import training_time

# The x-axes: (key, axis label). "time" is the training time in seconds, over resumes.
X_AXES = (("step", "step"), ("tokens", "tokens seen"), ("time", "training time (s)"))


def _recurrence(x: np.ndarray, alpha: float, prev: float) -> np.ndarray:
    """y[i] = alpha*y[i-1] + (1-alpha)*x[i] with y[-1] = prev, for finite x, vectorised by
    chunks: within one the recurrence is a scaled cumulative sum, and the chunks are short
    enough that alpha**-k stays far from float overflow."""
    out = np.empty_like(x)
    chunk = int(max(1, min(4096, 12 * math.log(10) / -math.log(alpha))))
    for lo in range(0, len(x), chunk):
        seg = x[lo:lo + chunk]
        powers = alpha ** np.arange(1, len(seg) + 1, dtype=np.float64)  # alpha^(i+1)
        out[lo:lo + len(seg)] = powers * (prev + (1 - alpha) * np.cumsum(seg / powers))
        prev = float(out[lo + len(seg) - 1])
    return out


def ema(values: np.ndarray, alpha: float, state: tuple[float, int] = (0.0, 0)
        ) -> tuple[np.ndarray, tuple[float, int]]:
    """TensorBoard's smoothing: the exponential moving average y[i] = alpha*y[i-1] +
    (1-alpha)*x[i] from y = 0, divided by 1 - alpha**n after n points (debiased), so each point
    is a weighted mean of the points so far and the first weighs no more than its share (a
    plain average started at the first point keeps that point's weight alpha**n: the line lags
    far behind a falling loss). NaN inputs carry the previous value forward; before the first
    finite value the output is NaN. `state` (the biased average and its count) continues an
    earlier call; the state after `values` is returned with the smoothed values."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(len(x), np.nan)
    finite = np.isfinite(x)
    if not finite.any():
        return out, state
    if not finite.all():  # forward-fill gaps with the last finite value
        idx = np.where(finite, np.arange(len(x)), -1)
        np.maximum.accumulate(idx, out=idx)
        x = np.where(idx >= 0, x[np.maximum(idx, 0)], np.nan)
    first = int(np.argmax(np.isfinite(x)))
    seg = x[first:]
    if alpha <= 0.0:
        out[first:] = seg
        return out, (float(seg[-1]), state[1] + len(seg))
    alpha = min(alpha, 0.9999)
    biased = _recurrence(seg, alpha, state[0])
    counts = state[1] + np.arange(1, len(seg) + 1, dtype=np.float64)
    out[first:] = biased / (1.0 - alpha ** counts)
    return out, (float(biased[-1]), state[1] + len(seg))


def finite_view(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points whose y is finite (a curve is never handed NaN or infinity)."""
    ok = np.isfinite(y)
    if ok.all():
        return x, y
    return x[ok], y[ok]


def arrays_from_events(events: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Step and eval series from metrics.jsonl events (null values become NaN; "time" is the
    training time over resumes, runs.table.training_time).

    Plain numpy work: run it in a background job for a long run, then call load_arrays."""

    def num(v: Any) -> float:
        return float(v) if isinstance(v, (int, float)) else math.nan

    steps = [e for e in events if e.get("kind") == "step"]
    evals = [e for e in events if e.get("kind") == "eval"]
    return {
        "step": np.array([num(e.get("step")) for e in steps]),
        "loss": np.array([num(e.get("loss")) for e in steps]),
        "lr": np.array([num(e.get("lr")) for e in steps]),
        "tokens_per_s": np.array([num(e.get("tokens_per_s")) for e in steps]),
        "tokens": np.array([num(e.get("tokens")) for e in steps]),
        "time": np.array(training_time(num(e.get("elapsed_s")) for e in steps)),
        "eval_step": np.array([num(e.get("step")) for e in evals]),
        "val_loss": np.array([num(e.get("val_loss")) for e in evals]),
        "val_bpb": np.array([num(e.get("val_bpb")) for e in evals]),
    }




def _nearest(xs: np.ndarray, x: float) -> int:
    """Index of the value of the sorted array `xs` nearest to x."""
    i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
    if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
        i -= 1
    return i


def _fmt(v: float) -> str:
    return f"{v:.4f}" if math.isfinite(v) else "–"


def _csv_value(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return ""
    return f"{v:.7g}"  # the buffers are float32: 7 significant digits


class AxisMap:
    """Tokens seen and training time at each logged step, to draw a curve against either.

    Steps between or beyond the logged ones are placed by linear interpolation (an evaluation
    can come between two log points, before the next one is known: extrapolated from the last
    two). `time` adds the stretches of a resumed run (each process counts from 0)."""

    def __init__(self) -> None:
        self.step = np.zeros(0)
        self.values: dict[str, np.ndarray] = {"tokens": np.zeros(0), "time": np.zeros(0)}
        self._time_state = (0.0, 0.0)  # (offset, last elapsed) of training_time

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def append(self, steps: np.ndarray, tokens: np.ndarray | None,
               elapsed: np.ndarray | None) -> None:
        steps = np.asarray(steps, dtype=np.float64)
        if tokens is None:
            tokens = np.full(len(steps), np.nan)
        if elapsed is None:
            elapsed = np.full(len(steps), np.nan)
        offset, last = self._time_state
        time = []
        for value in np.asarray(elapsed, dtype=np.float64):
            if math.isfinite(value):
                if value < last:
                    offset += last
                last = value
            time.append(offset + value)
        self._time_state = (offset, last)
        self.step = np.concatenate([self.step, steps])
        self.values["tokens"] = np.concatenate([self.values["tokens"],
                                                np.asarray(tokens, dtype=np.float64)])
        self.values["time"] = np.concatenate([self.values["time"], np.asarray(time)])

    def has(self, mode: str) -> bool:
        """Whether the logged steps say where they are on this axis (old runs lack tokens)."""
        return mode == "step" or bool(np.isfinite(self.values[mode]).any())

    def map(self, steps: Any, mode: str) -> np.ndarray:
        """Positions of `steps` on the `mode` axis (NaN where nothing is known)."""
        return place(np.asarray(steps, dtype=np.float64), self.step, self.values.get(mode),
                     mode)


def place(steps: np.ndarray, known_steps: np.ndarray, known: np.ndarray | None,
          mode: str) -> np.ndarray:
    """`steps` on the `mode` axis, from the values `known` at `known_steps` (see AxisMap)."""
    if mode == "step":
        return steps
    assert known is not None
    ok = np.isfinite(known)
    xs, ys = known_steps[ok], known[ok]
    if len(xs) == 0:
        return np.full(len(steps), np.nan)
    if len(xs) == 1:  # one point: through the origin (0 tokens, 0 s at step 0)
        return steps * (ys[0] / xs[0]) if xs[0] else np.full(len(steps), ys[0])
    out: np.ndarray = np.interp(steps, xs, ys)
    rate = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if xs[-1] != xs[-2] else 0.0
    beyond = steps > xs[-1]
    out[beyond] = ys[-1] + (steps[beyond] - xs[-1]) * rate
    return out


def x_values(arrays: dict[str, np.ndarray], steps: np.ndarray, mode: str) -> np.ndarray:
    """`steps` of a run read from disk (arrays_from_events) on the `mode` axis."""
    known = arrays.get(mode) if mode != "step" else None
    return place(np.asarray(steps, dtype=np.float64), arrays["step"],
                 known if known is not None else np.full(len(arrays["step"]), np.nan), mode)
