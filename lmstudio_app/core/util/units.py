"""How both faces spell sizes, counts and durations: one spelling each.

Bytes use binary (IEC) units throughout, KiB = 1024 bytes, the units memory is measured in, so a
file size and a memory estimate read alike in the terminal and in the window.
"""

from __future__ import annotations

import math

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float) -> str:
    """`n` bytes as "512 B", "1.5 KiB", "23.4 GiB" (binary units, one decimal above bytes)."""
    for unit in _BYTE_UNITS:
        if abs(n) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def human_rate(bytes_per_s: float | None) -> str:
    """A throughput as "12.3 MiB/s"; "--" when unknown."""
    if not bytes_per_s or not math.isfinite(bytes_per_s):
        return "-- B/s"
    return f"{human_bytes(bytes_per_s)}/s"


def human_count(n: float) -> str:
    """A count with an SI suffix: 950, 12.3 k, 1.25 M, 3.10 B (parameters, tokens)."""
    if abs(n) >= 1e9:
        return f"{n / 1e9:.2f} B"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.2f} M"
    if abs(n) >= 1e3:
        return f"{n / 1e3:.1f} k"
    return f"{n:.0f}"


def format_duration(seconds: float | None) -> str:
    """Seconds as "mm:ss", or "h:mm:ss" from an hour on; "--:--" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(max(seconds, 0.0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
