"""This machine's memory (what training will take is training.memory's estimate)."""

from __future__ import annotations

import os


def physical_memory_bytes() -> int | None:
    """This machine's physical memory (bytes), or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None
