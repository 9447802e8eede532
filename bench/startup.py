"""Time to the window's first frame: the real `lmstudio-app`, launched as a user launches it.

    python bench/startup.py [--runs 3] [--watch 6]

Each run starts the installed program (the venv's `lmstudio-app`, else `python -m lmstudio_app`)
with a fresh home and XDG folders (a first start: the bundled corpus listed on the Data page),
then once more on the same home (a second start: settings restored). The program, told by
LMSTUDIO_APP_STARTUP_PROBE (gui/startup_probe.py), prints when its main window first painted,
when the engine (PyTorch) finished loading in the background, and the longest stall of its event
loop over `--watch` seconds after the first frame; then it quits. Times count from the moment
the process is spawned. Uses $DISPLAY when set, else its own Xvfb (Debian: apt-get install
xvfb), else Qt's offscreen platform. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def program() -> list[str]:
    """The command a user runs: the entry point installed beside this Python, else -m."""
    exe = Path(sys.executable).with_name("lmstudio-app")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "lmstudio_app"]


@contextlib.contextmanager
def display() -> Iterator[dict[str, str]]:
    """Environment for a screen: the current one, a private Xvfb, or offscreen."""
    if os.environ.get("DISPLAY"):
        yield {}
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        print("no DISPLAY and no Xvfb: measuring on Qt's offscreen platform")
        yield {"QT_QPA_PLATFORM": "offscreen"}
        return
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], pass_fds=(write,),
                            stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    try:
        yield {"DISPLAY": f":{number}"}
    finally:
        proc.terminate()
        proc.wait(10)


def start_once(home: Path, screen: dict[str, str], watch: float) -> dict[str, float]:
    """Spawn the program on `home`; its figures in seconds (stall in milliseconds)."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(screen)
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "LMSTUDIO_APP_STARTUP_PROBE": str(watch)})
    spawned = time.time()
    out = subprocess.run(program(), env=env, capture_output=True, text=True,
                         timeout=120 + watch).stdout
    figures = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "startup":
            figures[parts[1]] = float(parts[2])
    result = {}
    if "first_frame_epoch" in figures:
        result["first_frame_s"] = figures["first_frame_epoch"] - spawned
    if "engine_ready_epoch" in figures:
        result["engine_ready_s"] = figures["engine_ready_epoch"] - spawned
    if "max_stall_ms" in figures:
        result["max_stall_ms"] = figures["max_stall_ms"]
    if figures.get("max_stall_end_epoch"):
        result["stall_ended_s"] = figures["max_stall_end_epoch"] - spawned
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watch", type=float, default=6.0,
                        help="seconds to watch the event loop after the first frame")
    args = parser.parse_args()
    print(f"program: {' '.join(program())}")
    rows: dict[str, list[dict[str, float]]] = {"first start": [], "second start": []}
    with display() as screen:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="lmstudio_app-startup-") as tmp:
                home = Path(tmp)
                rows["first start"].append(start_once(home, screen, args.watch))
                rows["second start"].append(start_once(home, screen, args.watch))
    for name, results in rows.items():
        print(f"{name} ({len(results)} runs, median):")
        for key, unit, scale in (("first_frame_s", "s", 1), ("engine_ready_s", "s", 1),
                                 ("max_stall_ms", "ms", 1), ("stall_ended_s", "s", 1)):
            values = [r[key] for r in results if key in r]
            if not values:
                print(f"  {key:<15} not reported")
                continue
            print(f"  {key:<15} {statistics.median(values) * scale:8.2f} {unit}   "
                  f"(min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
