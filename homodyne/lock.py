"""One writer per output folder: ``homodyne run`` holds a lock on the folder it writes.

Two runs writing the same result files would silently overwrite each other's results (the
workflow has Snakemake's own lock; ``homodyne run`` has this one).  The lock is the file
``<folder>/.homodyne.lock``, held with ``flock`` for the life of the run and carrying the
holder's pid, host, start time and command, so a refused run can say who holds it.

``flock`` is released by the kernel when the holder exits in any way, ``kill -9``
included, so a lock left by a dead process is taken over without anyone deleting
anything.  On file systems without ``flock`` (some parallel file systems), the recorded pid
decides instead: a lock of a pid that no longer runs on this host is stale and taken over;
a lock recorded on another host is respected, and the message says how to remove it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from homodyne.errors import LockError

LOCK_NAME = ".homodyne.lock"
_NO_FLOCK = (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK, errno.EINVAL)
log = logging.getLogger(__name__)


def _holder(path: Path) -> dict:
    """The holder recorded in the lock file; ``{}`` when empty or unreadable."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _alive(pid) -> bool:
    """Whether process ``pid`` exists on this host."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(info: dict) -> str:
    """``pid 123 on host node7, started 2026-01-02T03:04:05+00:00 (homodyne run c.yaml)``."""
    if not info:
        return "a process that has not yet written its details"
    text = (f"pid {info.get('pid')} on host {info.get('host')}, "
            f"started {info.get('started')}")
    return text + (f" ({info['command']})" if info.get("command") else "")


def _refuse(folder: Path, path: Path, info: dict, *, how_to_remove: bool) -> LockError:
    advice = ("wait for it to finish, stop it, or write to another --output folder")
    if how_to_remove:
        advice += f"; if that process no longer exists, delete {path}"
    return LockError(f"{folder}: another homodyne run is writing to this output folder: "
                     f"{describe(info)}; {advice}")


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (a releasing holder unlinks it)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def acquire(folder: str | os.PathLike) -> tuple[int, Path]:
    """Take the lock on ``folder`` (created if needed); LockError naming the holder if held."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refuse(folder, path, _holder(path), how_to_remove=False) from None
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                os.close(fd)
                raise
            info = _holder(path)  # no flock here: the recorded pid decides
            if info and (info.get("host") != socket.gethostname() or _alive(info.get("pid"))):
                os.close(fd)
                raise _refuse(folder, path, info, how_to_remove=True) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous holder removed the file between open and flock
    stale = _holder(path)
    if stale:
        log.info("%s: taking over the lock left by %s (that process has ended)", folder,
                 describe(stale))
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["homodyne", *sys.argv[1:]])}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    os.fsync(fd)
    return fd, path


def release(fd: int, path: Path) -> None:
    """Remove the lock file and drop the lock (in that order, see :func:`acquire`)."""
    if _same_file(fd, path):
        path.unlink(missing_ok=True)
    os.close(fd)


@contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock on ``folder`` for the duration of the ``with`` block."""
    fd, path = acquire(folder)
    try:
        yield path
    finally:
        release(fd, path)
