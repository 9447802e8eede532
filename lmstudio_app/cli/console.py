"""Terminal output for the command line: a one-line progress bar and a console metrics sink.

On a terminal the bar redraws in place; into a file or pipe it prints a plain line now and then.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import IO, Any

from ..core.training.sinks import EvalMetrics, MetricsSink, StepMetrics
from ..core.util.units import format_duration, human_count


class ProgressLine:
    """A single status line with a bar, redrawn at most `fps` times a second."""

    def __init__(self, stream: IO[str] | None = None, width: int = 24, fps: float = 8.0) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._min_gap = 1.0 / fps if self.tty else 5.0
        # Into a log, the first line waits a full interval: quick commands print no progress.
        self._last = 0.0 if self.tty else time.monotonic()
        self._shown = False

    def update(self, fraction: float, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._min_gap:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {fraction * 100:5.1f}% {text}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self._shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False

    def println(self, text: str) -> None:
        """Print a line above the bar."""
        self.clear()
        print(text, file=self.stream, flush=True)


class ConsoleSink(MetricsSink):
    """The pretrain command's output: a progress bar plus a line per evaluation."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.bar = ProgressLine(stream)
        self._start_step = 0

    def started(self, info: dict[str, Any]) -> None:
        self._start_step = int(info.get("start_step", 0))
        self.bar.println(
            f"run {info['run_dir']}\n"
            f"{info['objective']} {info['preset']}: {human_count(info['parameters'])} parameters "
            f"on {info['device']} ({info['dtype']}), steps {info['start_step']}->"
            f"{info['max_steps']}, {info['tokens_per_step']} tokens/step"
        )

    def step(self, m: StepMetrics) -> None:
        done = m.step - self._start_step
        remaining = m.max_steps - m.step
        eta = m.elapsed_s / done * remaining if done > 0 else None
        self.bar.update(
            m.step / m.max_steps,
            f"step {m.step}/{m.max_steps} loss {m.loss:.4f} lr {m.lr:.2e} "
            f"{m.tokens_per_s:,.0f} tok/s ETA {format_duration(eta)}",
            force=m.step == m.max_steps,
        )

    def evaluation(self, m: EvalMetrics) -> None:
        bpc = f", {m.bits_per_char:.3f} bits/char" if m.bits_per_char is not None else ""
        bpc += f", {m.val_bpb:.3f} bits/byte" if m.val_bpb is not None else ""
        self.bar.println(
            f"step {m.step}: val loss {m.val_loss:.4f} (ppl {m.val_ppl:.1f}{bpc})"
        )
        if m.sample:
            indented = "\n".join("    " + line for line in m.sample.splitlines()[:6])
            self.bar.println(f"  sample:\n{indented}")

    def message(self, text: str) -> None:
        if "\n" not in text:  # tracebacks go to log.txt only
            self.bar.println(text)

    def finished(self, step: int, reason: str) -> None:
        self.bar.clear()

    def failed(self, message: str) -> None:
        self.bar.clear()


class JsonSink(MetricsSink):
    """`--json`: one JSON object per log or evaluation line on stdout, for scripts."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _emit(self, obj: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in obj.items()}
        self.stream.write(json.dumps(clean) + "\n")
        self.stream.flush()

    def started(self, info: dict[str, Any]) -> None:
        self._emit({"event": "started", **info})

    def step(self, m: StepMetrics) -> None:
        self._emit({"event": "step", "step": m.step, "loss": m.loss, "lr": m.lr,
                    "grad_norm": m.grad_norm, "tokens_per_s": m.tokens_per_s,
                    "elapsed_s": m.elapsed_s, "tokens": m.tokens, "rss_bytes": m.rss_bytes,
                    "gpu_memory_bytes": m.gpu_memory_bytes,
                    "gpu_utilization": m.gpu_utilization})

    def evaluation(self, m: EvalMetrics) -> None:
        self._emit({"event": "eval", "step": m.step, "val_loss": m.val_loss,
                    "val_ppl": m.val_ppl, "bits_per_char": m.bits_per_char, "val_bpb": m.val_bpb,
                    **m.extra})

    def checkpoint(self, step: int, path: str, best: bool) -> None:
        self._emit({"event": "checkpoint", "step": step, "path": path, "best": best})

    def finished(self, step: int, reason: str) -> None:
        self._emit({"event": "finished", "step": step, "reason": reason})

    def failed(self, message: str) -> None:
        self._emit({"event": "failed", "message": message})
