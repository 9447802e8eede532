"""The app's home folder: one rule for the window and the command line."""

from __future__ import annotations

import sys

import pytest

from lmstudio_app.core.util.home import HOME_ENV, default_home, default_runs_root


def test_the_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "elsewhere"
    assert default_runs_root() == tmp_path / "elsewhere" / "runs"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG is the Linux rule")
def test_xdg_data_home_then_local_share(monkeypatch, tmp_path):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "lmstudio_app"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec: absolute only
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_home() == tmp_path / ".local" / "share" / "lmstudio_app"
