"""One writer per folder: a lock file naming its holder (pid, host), checked by liveness.

The file is also locked with flock(2), which the kernel releases when its holder dies, kill -9
included: a lock left by a dead process never blocks anyone. Where flock is not available (some
network file systems) the holder's pid and host decide: a process on this host that no longer
runs (or whose pid now belongs to a younger process) holds nothing.

`process_alive(pid, host, started)` is the one liveness rule; status readers use it too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, SupportsIndex, SupportsInt

from ..errors import UserError
from .disk import storage

try:
    import fcntl
except ImportError:  # not on Windows: the pid and host decide alone
    fcntl = None  # type: ignore[assignment]


def process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None where unknown.

    Together with the pid it names one process: a pid reused by a later process differs here.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def this_process() -> dict[str, Any]:
    """{"pid", "host", "started"} of the running process."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": process_started(pid)}


def _as_pid(value: object) -> int | None:
    """`value` as a process id, or None when it is not a number (a lock file written by hand)."""
    if not isinstance(value, (str, bytes, bytearray, SupportsInt, SupportsIndex)):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def process_alive(pid: object, host: object, started: object = None) -> bool | None:
    """True or False for a process on this host; None for another host (not knowable here)."""
    if host != socket.gethostname():
        return None
    number = _as_pid(pid)
    if number is None or number <= 0:
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    if started is not None:
        now = process_started(number)
        if now is not None and now != str(started):
            return False  # the pid was reused
    return True


class FolderLock:
    """An exclusive lock on `folder`, as the file `folder/name`; a context manager.

    `acquire` raises a UserError naming the holder's pid and host when another live process
    holds it (or this process, through another FolderLock).
    """

    def __init__(self, folder: str | os.PathLike[str], name: str, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _refuse(self, holder: dict[str, Any]) -> UserError:
        pid, host = holder.get("pid", "?"), holder.get("host", "?")
        since = f" since {holder['since']}" if holder.get("since") else ""
        return UserError(
            f"{self.folder}: this {self.what} is in use by process {pid} on {host}{since}; "
            "wait for it to finish or stop it first.", field="run")

    def acquire(self) -> None:
        if self._fd is not None:
            return
        for _ in range(5):
            with storage(self.path):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not self._lock(fd):
                    continue  # the file was replaced between open and lock: try again
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return
        raise UserError(f"{self.path}: cannot take the lock (it keeps changing); try again.")

    def _lock(self, fd: int) -> bool:
        holder = _read(fd)
        flocked = False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                flocked = True
            except BlockingIOError:
                raise self._refuse(holder) from None
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
        if not flocked and holder and holder.get("pid") != os.getpid() \
                and process_alive(holder.get("pid"), holder.get("host"),
                                  holder.get("started")) is not False:
            raise self._refuse(holder)
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        data = json.dumps({**this_process(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with storage(self.path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, data.encode("utf-8") + b"\n", 0)
            os.fsync(fd)
        return True

    def release(self) -> None:
        """Give the lock up: the file goes, then the lock on it."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                self.path.unlink()
        os.close(fd)


def _read(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", errors="replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_holder(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a lock file says of its holder ({} when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return {}
    try:
        return _read(fd)
    finally:
        os.close(fd)
