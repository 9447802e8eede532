"""The PyInstaller bundle (`make package`): it holds the resources and no GPU library, its CLI
trains the tiny preset on the bundled corpus, and its window opens under Xvfb.

Slow (a build takes minutes): `make test-slow`. Builds dist/lmstudio_app when it is missing or
older than its sources, else tests the one there. Steps shared with bench/bundle.py.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_bundle", ROOT / "bench" / "bundle.py")
bundle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist() -> Path:
    if bundle.stale():
        if importlib.util.find_spec("PyInstaller") is None:
            pytest.skip("PyInstaller is not installed: pip install -e '.[package]' "
                        "(make package does)")
        bundle.build()
    return bundle.DIST


def test_bundle_holds_the_resources_and_no_gpu_library(dist):
    inside = dist / "_internal" / "lmstudio_app"
    assert sorted(p.name for p in (inside / "resources" / "corpus").glob("*.txt")) == [
        "persuasion.txt", "prideprejudice.txt"]
    assert (inside / "resources" / "labeled" / "sentiment.csv").is_file()
    assert (inside / "packaging" / "lmstudio_app.desktop").is_file()
    assert len(list((inside / "packaging" / "icons" / "hicolor").glob("*/apps/*.png"))) == 8
    assert bundle.gpu_files(dist) == []
    assert not (dist / "_internal" / "torch" / "include").exists()


def test_bundle_cli_trains_the_tiny_preset_on_the_bundled_corpus(dist, tmp_path):
    seconds, out = bundle.run_demo(tmp_path, steps=5)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert str(dist / "_internal" / "lmstudio_app" / "resources" / "corpus") in out.stdout
    [run] = (tmp_path / "runs").iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["step"] == 5 and status["state"] == "completed", status
    assert json.loads((run / "config.json").read_text())["run"]["preset"] == "tiny"
    assert (run / "model.safetensors").stat().st_size > 100_000


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                    reason="needs Xvfb and xdotool (Debian: apt-get install xvfb xdotool)")
def test_bundle_opens_its_window_under_xvfb_and_quits(dist, tmp_path):
    with bundle.xvfb() as display:
        proc, window, seconds = bundle.open_window(display, tmp_path)
        if window is None:
            proc.kill()
            output = proc.communicate()[0]
            pytest.fail(f"no window after {seconds:.0f} s, exit {proc.returncode}: {output}")
        assert bundle.close_window(display, window, proc) == 0
        output = proc.stdout.read()
    assert "Traceback" not in output, output
    assert (tmp_path / ".local" / "share" / "lmstudio_app" / "lmstudio_app.log").is_file()


def test_bundle_installs_its_own_menu_entry(dist, tmp_path):
    env = bundle.clean_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([str(bundle.EXE), "--install-desktop"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    entry = (tmp_path / "data" / "applications" / "lmstudio_app.desktop").read_text()
    assert f"\nExec={bundle.EXE}\n" in entry
    icons = tmp_path / "data" / "icons" / "hicolor"
    assert (icons / "256x256" / "apps" / "lmstudio_app.png").read_bytes() == (
        dist / "_internal" / "lmstudio_app" / "packaging" / "icons" / "hicolor" / "256x256"
        / "apps" / "lmstudio_app.png").read_bytes()
