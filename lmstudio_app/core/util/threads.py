"""How torch's CPU threads wait: asleep, not spinning (called before torch is imported).

By default OpenMP threads spin at every barrier. Alone on the machine that changes nothing
measurable; beside another busy process (a second training, a browser, the window's own thread)
spinning threads and the other process starve each other: measured on 2 cores, a CLI run's
tokens/s swung between 2k and 21k from one log line to the next, and 200 steps of a one-layer
model beside the window took 13 to 100 s instead of 2 s. Passive waiting gives each process its
fair share. This module imports nothing heavy, so it can run first.
"""

from __future__ import annotations

import os
import sys


def calm_cpu_threads() -> bool:
    """Ask OpenMP for passive waiting unless the user chose a policy; False when torch is
    already imported (too late: the runtime read its settings at load)."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True
