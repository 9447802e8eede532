"""Atomic file writes: write to a temporary name in the same folder, fsync, then os.replace.

A crash at any moment leaves either the old file or the new one, never half of one. A failed
write (a full disk, a read-only folder) is a StorageError naming the device or folder. Temporary
files follow one pattern (".NAME.XXXXXXXX.tmp"), so a later start can remove the ones a killed
process left (`remove_temporaries`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .disk import storage

TEMP_SUFFIX = ".tmp"


def new_temporary(path: str | os.PathLike[str]) -> Path:
    """An empty temporary file beside `path` (same folder, so os.replace is atomic), with the
    permissions a plain open() would give."""
    target = Path(path)
    with storage(target):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX,
                                   dir=target.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private (0600)
    return Path(tmp)


def is_temporary(path: Path) -> bool:
    """A temporary file of this module's pattern."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files a killed writer left in `folder`; the paths removed.

    Call it only while no other process writes in the folder (under the folder's lock).
    """
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if is_temporary(entry) and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
    return removed


def fsync_file(path: str | os.PathLike[str]) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in `folder` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, needed: int | None = None,
                parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it vanishes.

    `needed` (bytes, when known) sizes the message of a full disk. `parents=False` refuses to
    create a missing folder (a run folder deleted under a running job is not re-created).
    """
    target = Path(path)
    if parents:
        with storage(target, needed):
            target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = new_temporary(target)
    try:
        with storage(target, needed):
            yield tmp_path
            fsync_file(tmp_path)
            os.replace(tmp_path, target)
            fsync_dir(target.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       parents: bool = True) -> None:
    with atomic_path(path, needed=len(data), parents=parents) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, parents: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), parents=parents)


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, parents: bool = True) -> None:
    """JSON, indented for a person, written atomically."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n", parents=parents)
