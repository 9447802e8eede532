"""What the disk refuses, in words a user can act on: a full disk (bytes, inodes, a quota, a
file size limit), a folder that cannot be written, a folder that vanished.

Every writer of the engine goes through `storage(path, needed)` (the atomic writes, the token
store, checkpoints), which turns the OSError of a failed write, or a library's error that carries
one (safetensors reports "os error 28", HDF5 "errno = 28", torch keeps the OSError as its
context), into a `StorageError`: one line naming the device or folder and what is needed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError
from .units import human_bytes

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_ERRNO_TEXT = re.compile(r"os error (\d+)|errno = (\d+)|\[Errno (\d+)\]")


class StorageError(UserError, OSError):
    """A file could not be written: no space left, a folder that is read-only or not ours, or
    a folder that no longer exists. A UserError (one line, exit 2) and an OSError (code that
    handles failed writes keeps handling these)."""

    def __init__(self, message: str, *, code: int | None = None,
                 filename: str | None = None, field: str | None = None) -> None:
        UserError.__init__(self, message, field=field)
        self.errno = code
        self.strerror = self.args[0]
        self.filename = filename

    def __str__(self) -> str:  # the message, not OSError's "[Errno N] ..."
        return str(self.args[0])


def existing_ancestor(path: str | os.PathLike[str]) -> Path:
    """`path` or its nearest folder that exists."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def mount_point(path: str | os.PathLike[str]) -> Path:
    """The mount point of the file system that holds `path`."""
    p = existing_ancestor(path)
    while not os.path.ismount(p) and p.parent != p:
        p = p.parent
    return p


def _filesystem(mount: Path) -> str | None:
    """The file system type mounted at `mount` ("ext4", "tmpfs"), from /proc/mounts."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as fh:
            found = None
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[1].replace("\\040", " ") == str(mount):
                    found = parts[2]  # the last mount at a point is the one in use
            return found
    except OSError:
        return None


def describe_device(path: str | os.PathLike[str]) -> str:
    """"/mnt/data (ext4)": where `path` is stored, for messages."""
    mount = mount_point(path)
    fs = _filesystem(mount)
    return f"{mount} ({fs})" if fs else str(mount)


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes free for this user on the file system of `path`; None when unknown."""
    try:
        return shutil.disk_usage(existing_ancestor(path)).free
    except OSError:
        return None


def free_inodes(path: str | os.PathLike[str]) -> int | None:
    """Files this user may still create on the file system of `path`; None when unknown or
    unlimited (the file system reports no inode table: btrfs, many network file systems)."""
    statvfs = getattr(os, "statvfs", None)
    if statvfs is None:
        return None
    try:
        st = statvfs(existing_ancestor(path))
    except OSError:
        return None
    return int(st.f_favail) if st.f_files else None


def errno_of(exc: BaseException | None) -> int | None:
    """The OS error number behind `exc`: its own, one named in its text (libraries written in
    Rust or C report it there), or that of the exception it was raised from."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno:
            return exc.errno
        match = _ERRNO_TEXT.search(str(exc))
        if match:
            return int(next(g for g in match.groups() if g))
        exc = exc.__cause__ or exc.__context__
    return None


def no_space(path: str | os.PathLike[str], needed: int | None,
             code: int = errno.ENOSPC) -> StorageError:
    """The full-disk error for a write of `needed` bytes (None: unknown) to `path`: bytes, a
    quota, a file size limit, or no file left to create (inodes) told apart."""
    free = free_bytes(path)
    if code == errno.ENOSPC and free_inodes(path) == 0:
        have = f" ({human_bytes(free)} free)" if free is not None else ""
        return StorageError(
            f"no free inodes on {describe_device(path)}: it has space{have} but no room for "
            f"another file (writing {Path(path).name} in {Path(path).parent}); delete files "
            "there (many small ones free the most) or choose a folder on another disk.",
            code=code, filename=str(path))
    what = {errno.EDQUOT: "disk quota exceeded on", errno.EFBIG: "file too large for"}.get(
        code, "no space left on")
    need = f"{human_bytes(needed)} needed" if needed else "more space needed"
    have = f", {human_bytes(free)} free" if free is not None else ""
    return StorageError(
        f"{what} {describe_device(path)}: {need}{have} (writing {Path(path).name} in "
        f"{Path(path).parent}); free some space or choose a folder on another disk.",
        code=code, filename=str(path))


def not_writable(path: str | os.PathLike[str], code: int = errno.EACCES) -> StorageError:
    """The error for a folder this process may not write in."""
    folder = existing_ancestor(Path(path).parent if not Path(path).is_dir() else path)
    why = "the file system is read-only" if code == errno.EROFS else "permission denied"
    return StorageError(f"{folder}: cannot write in this folder ({why}); choose another folder "
                        "or change its permissions.", code=code, filename=str(path))


def folder_gone(folder: str | os.PathLike[str]) -> StorageError:
    return StorageError(f"{folder}: the folder was deleted or moved while it was being written; "
                        "nothing more was saved there.", code=errno.ENOENT, filename=str(folder))


def storage_error(exc: BaseException, path: str | os.PathLike[str],
                  needed: int | None = None) -> StorageError | None:
    """The StorageError that `exc`, raised while writing `path`, stands for; None for errors of
    another kind (those stay as they are)."""
    if isinstance(exc, StorageError):
        return exc
    code = errno_of(exc)
    if code in NO_SPACE:
        return no_space(path, needed, code)
    if code in NOT_WRITABLE:
        return not_writable(path, code)
    if code == errno.ENOENT and not Path(path).parent.is_dir():
        return folder_gone(Path(path).parent)
    return None


@contextlib.contextmanager
def storage(path: str | os.PathLike[str], needed: int | None = None) -> Iterator[None]:
    """Turn a failed write of `path` (about `needed` bytes) into a StorageError."""
    try:
        yield
    except Exception as exc:
        err = storage_error(exc, path, needed)
        if err is None or err is exc:
            raise
        raise err from None


def ensure_space(path: str | os.PathLike[str], needed: int) -> None:
    """Refuse, before writing, a file of `needed` bytes that cannot fit where `path` goes."""
    free = free_bytes(path)
    if free is not None and free < needed:
        raise no_space(path, needed)
