"""The thread policy: the runtime's default waits unless the user chose, and a governor that
gives torch the cores other work leaves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lmstudio_app.core.util.threads import (
    USER_CHOICES,
    ThreadGovernor,
    busy_elsewhere,
    runnable_elsewhere,
)

CODE = ("import os, sys; from lmstudio_app.__main__ import main; main(['runs', '--root', "
        "'no-such-folder']); import torch; print(os.environ.get('OMP_WAIT_POLICY'), "
        "'torch' in sys.modules)")
LINUX = Path("/proc/loadavg").is_file()
SPIN = "import time\nend = time.time() + 60\nwhile time.time() < end: pass"


def _clean_env() -> dict[str, str]:
    """The environment without thread variables (the test session sets OMP_NUM_THREADS)."""
    return {k: v for k, v in os.environ.items() if k not in USER_CHOICES}


def _policy(env_extra: dict[str, str]) -> str:
    env = _clean_env() | env_extra
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Invalid value" not in out.stderr  # a blank policy never reaches the runtime
    return out.stdout.strip().splitlines()[-1]


def test_the_users_choice_wins_and_a_blank_policy_never_reaches_the_runtime():
    assert _policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE True"
    assert _policy({"OMP_WAIT_POLICY": "", "OMP_NUM_THREADS": "1"}) == "None True"


@pytest.mark.skipif(not LINUX, reason="the load is read from /proc (Linux)")
def test_beside_busy_processes_the_command_line_waits_passively():
    busy = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert busy_elsewhere()
        assert _policy({}) == "PASSIVE True"
    finally:
        for p in busy:
            p.kill()
            p.wait()


def test_the_target_is_the_cores_other_work_leaves_never_below_one():
    g = ThreadGovernor(cores=4)
    g.most = 4
    assert [g.target(x) for x in (0, 0.4, 1, 2.6, 3, 9)] == [4, 4, 3, 1, 1, 1]
    g.most = 2  # never more than torch started with
    assert g.target(0) == 2


def test_a_thread_variable_set_by_the_user_turns_the_governor_off(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    before = torch.get_num_threads()
    g = ThreadGovernor(every=1)
    assert not g.enabled
    assert g.tick() == before and torch.get_num_threads() == before


GOVERN = """
import time, torch
from lmstudio_app.core.util.threads import ThreadGovernor
torch.set_num_threads(2)
g = ThreadGovernor(every=8, cores=2)
for _ in range(40):
    g.tick(); time.sleep(0.01)
print(g.enabled, g.threads, torch.get_num_threads())
"""


@pytest.mark.skipif(not LINUX, reason="the load is read from /proc (Linux)")
def test_beside_two_busy_processes_torch_gets_one_thread():
    env = _clean_env()
    busy = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert runnable_elsewhere(1) is not None and runnable_elsewhere(1) >= 1
        out = subprocess.run([sys.executable, "-c", GOVERN], capture_output=True, text=True,
                             env=env, timeout=120)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "1", "1"]
