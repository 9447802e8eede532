"""Both faces start torch with passively waiting OpenMP threads (the user's choice wins)."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = ("import os, sys; from lmstudio_app.__main__ import main; main(['runs', '--root', "
        "'no-such-folder']); import torch; print(os.environ.get('OMP_WAIT_POLICY'), "
        "'torch' in sys.modules)")


def _policy(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env_extra
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_the_command_line_sets_passive_waiting_before_torch_loads():
    assert _policy({}) == "PASSIVE True"
    assert _policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE True"
