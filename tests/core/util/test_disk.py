"""Storage errors in words a user can act on, from every kind of writer, and the folder lock."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import SafetensorError

from lmstudio_app.core.errors import UserError
from lmstudio_app.core.util.atomic import atomic_path, atomic_write_bytes, remove_temporaries
from lmstudio_app.core.util.disk import StorageError, describe_device, storage_error
from lmstudio_app.core.util.lock import FolderLock, process_alive


def test_library_errors_that_carry_a_full_disk_become_one_line(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    rust = SafetensorError("Error while serializing: I/O error: No space left on device "
                           "(os error 28)")
    hdf5 = OSError("Can't synchronously write data (file write failed: errno = 28, error "
                   "message = 'No space left on device')")
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")  # noqa: B904
    except RuntimeError as exc:
        torch_like = exc
    for exc in (rust, hdf5, torch_like, OSError(errno.EDQUOT, "Disk quota exceeded")):
        err = storage_error(exc, target, needed=3 << 20)
        assert isinstance(err, StorageError) and isinstance(err, UserError)
        assert isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
        message = str(err)
        assert "3.0 MiB needed" in message and describe_device(target) in message
        assert "\n" not in message and "Errno" not in message
    read_only = storage_error(OSError(errno.EROFS, "Read-only file system"), target)
    assert f"{tmp_path}: cannot write in this folder (the file system is read-only)" in \
        str(read_only)
    assert storage_error(ValueError("no errno here"), target) is None


def test_a_refused_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.pt"
    atomic_write_bytes(target, b"old")
    with pytest.raises(StorageError, match="no space left on .*10 B needed"):
        with atomic_path(target, needed=10) as tmp:
            tmp.write_bytes(b"new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]
    assert target.read_bytes() == b"old"
    (tmp_path / ".state.pt.zz.tmp").write_bytes(b"half")
    assert [p.name for p in remove_temporaries(tmp_path)] == [".state.pt.zz.tmp"]


def test_the_lock_names_its_holder_and_frees_itself_when_the_holder_dies(tmp_path: Path) -> None:
    with FolderLock(tmp_path, "run.lock", "run"):
        with pytest.raises(UserError, match=rf"in use by process {os.getpid()} on "):
            FolderLock(tmp_path, "run.lock", "run").acquire()
    assert not (tmp_path / "run.lock").exists()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from lmstudio_app.core.util.lock import FolderLock;"
        "FolderLock(sys.argv[2], 'run.lock', 'run').acquire(); print('held', flush=True);"
        "time.sleep(60)"), str(Path(__file__).resolve().parents[3]), str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"in use by process {holder.pid}"):
            FolderLock(tmp_path, "run.lock", "run").acquire()
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / "run.lock").exists()  # kill -9 left the file ...
    assert process_alive(holder.pid, socket.gethostname()) is False
    with FolderLock(tmp_path, "run.lock", "run"):  # ... but not the lock
        pass


@pytest.fixture
def tmpfs_without_inodes(tmp_path: Path):
    """A real tmpfs with room for bytes but only a handful of files (root only)."""
    mount = tmp_path / "few-inodes"
    mount.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs Linux and root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,nr_inodes=6", "tmpfs",
                           str(mount)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_no_free_inodes_is_told_apart_from_no_free_bytes(tmpfs_without_inodes: Path) -> None:
    with pytest.raises(StorageError) as caught:
        for i in range(20):
            atomic_write_bytes(tmpfs_without_inodes / f"f{i}.bin", b"x")
    message = str(caught.value)
    assert message.startswith("no free inodes on ") and "MiB free" in message
    assert "delete files" in message and "\n" not in message
    assert caught.value.errno == errno.ENOSPC
