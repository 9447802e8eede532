"""The one-folder bundle (packaging/lmstudio_app.spec): build time, size, time to window, and
the CLI's sample pipeline. Prints figures; tests/packaging/test_bundle_slow.py reuses the steps
and asserts what must hold (the window opens, the CLI trains, no CUDA library inside).

    python bench/bundle.py [--rebuild]

Needs PyInstaller (`pip install -e '.[package]'`) to build, and Xvfb and xdotool (Debian:
apt-get install xvfb xdotool) for the window. The start times are those of a machine whose page
cache may already hold the bundle's files (the build just wrote them); a first start after a
reboot reads ~750 MB from disk and takes longer on a slow disk.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "lmstudio_app.spec"
DIST = ROOT / "dist" / "lmstudio_app"
EXE = DIST / "lmstudio-app"
WINDOW_TITLE = "^lmstudio_app$"
# What a CPU bundle must not hold: CUDA, cuDNN, NCCL and other NVIDIA libraries, Triton.
GPU_FILES = re.compile(r"(^|/)(nvidia|triton)/|(^|/)lib(cuda|cudart|cublas|cudnn|cufft|curand|"
                       r"cusolver|cusparse|nccl|nvrtc|nvToolsExt|nvJitLink|torch_cuda|c10_cuda)")


def stale() -> bool:
    """Whether the bundle is missing or older than a source file it is built from."""
    if not EXE.is_file():
        return True
    built = EXE.stat().st_mtime
    packaging = ROOT / "packaging"
    sources = [SPEC, *(ROOT / "lmstudio_app").rglob("*.py"), *(ROOT / "resources").rglob("*"),
               *packaging.glob("*.desktop"), *packaging.glob("*.xml"),
               *(packaging / "icons").rglob("*")]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def build() -> float:
    """Build dist/lmstudio_app with PyInstaller (as `make package` does); seconds taken.

    Raises subprocess.CalledProcessError when PyInstaller fails (its log is on stderr).
    """
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(ROOT / "dist"), "--workpath",
                    str(ROOT / "build" / "pyinstaller"), str(SPEC)], check=True, cwd=ROOT)
    return time.perf_counter() - started


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def gpu_files(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if GPU_FILES.search(p.relative_to(folder).as_posix())]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: nothing of this Python's venv, a fresh home."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "2", **extra}


def run_demo(workdir: Path, steps: int = 5) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`lmstudio-app demo`: prepare the bundled corpus, pretrain the tiny preset, sample."""
    started = time.perf_counter()
    out = subprocess.run([str(EXE), "demo", "--workdir", str(workdir), "--max-steps",
                          str(steps)], capture_output=True, text=True, timeout=900,
                         env=clean_env(workdir), cwd=workdir)
    return time.perf_counter() - started, out


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    """A private X server on a free display number; yields its DISPLAY value."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                               "1600x1000x24", "-nolisten", "tcp"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def find_window(display: str) -> str | None:
    out = subprocess.run(["xdotool", "search", "--name", WINDOW_TITLE], capture_output=True,
                         text=True, env={"DISPLAY": display, "PATH": os.environ["PATH"]})
    ids = out.stdout.split()
    return ids[0] if ids else None


def open_window(display: str, home: Path, timeout: float = 90.0
                ) -> tuple[subprocess.Popen[str], str | None, float]:
    """Start the bundle with no arguments; (process, window id or None, seconds to window)."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(EXE)], env=clean_env(home, DISPLAY=display), cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while time.perf_counter() - started < timeout and proc.poll() is None:
        window = find_window(display)
        if window:
            return proc, window, time.perf_counter() - started
        time.sleep(0.1)
    return proc, None, time.perf_counter() - started


def close_window(display: str, window: str, proc: subprocess.Popen[str]) -> int:
    """Quit as a user does (Ctrl+Q in the window); the exit status, or -9 after a kill."""
    env = {"DISPLAY": display, "PATH": os.environ["PATH"]}
    subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "ctrl+q"], env=env,
                   capture_output=True, timeout=30)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build even when up to date")
    args = parser.parse_args()
    if args.rebuild or stale():
        print(f"build: {build():.0f} s  ({sys.executable} -m PyInstaller {SPEC.name})")
    print(f"size: {folder_bytes(DIST) / 2**20:.0f} MiB in {DIST.relative_to(ROOT)}  "
          f"(torch {folder_bytes(DIST / '_internal' / 'torch') / 2**20:.0f} MiB, "
          f"PySide6 {folder_bytes(DIST / '_internal' / 'PySide6') / 2**20:.0f} MiB); "
          f"GPU libraries inside: {len(gpu_files(DIST))}")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        seconds, out = run_demo(Path(tmp))
        print(f"cli: `lmstudio-app demo --max-steps 5` {seconds:.1f} s, exit {out.returncode}")
        if shutil.which("Xvfb") and shutil.which("xdotool"):
            with xvfb() as display:
                for label in ("first start", "second start"):
                    proc, window, seconds = open_window(display, Path(tmp))
                    status = close_window(display, window, proc) if window else proc.kill()
                    print(f"window: {label} {seconds:.1f} s to the window "
                          f"({'shown' if window else 'NOT shown'}), quit with exit {status}")
        else:
            print("window: skipped (needs Xvfb and xdotool)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
