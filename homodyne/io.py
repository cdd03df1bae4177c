"""File output helpers: every file the package writes appears atomically.

A file is written under a temporary name in its destination directory and renamed into
place only when complete, so an interrupted job never leaves a file that looks finished.
JSON is written NaN-safe: non-finite floats become ``null``.  ``sha256_file`` hashes an
input file for provenance.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from homodyne.signals import removed_if_interrupted


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception, and on SIGINT/SIGTERM once :func:`homodyne.signals.install` ran, the
    temporary file is removed and ``path`` is left untouched.  Temporary files of ``path``
    left by a writer killed hard are removed first (one writer per output folder: the
    workflow's and :mod:`homodyne.lock`'s locks).  The
    finished file gets the permissions of a plain ``open()`` (0666 less the umask), not the
    owner-only 0600 of the temporary file, so results stay readable by the group.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)  # left by a writer killed hard (SIGKILL, out of memory)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with removed_if_interrupted(tmp):  # SIGINT/SIGTERM: see homodyne.signals
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def json_safe(value):
    """Recursively convert numpy types to Python and non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON (NaN/Inf as null), atomically."""
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_npz(path: str | os.PathLike, **arrays) -> Path:
    """Write arrays to an uncompressed ``.npz``, atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return write_atomic(path, write)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so large inputs need little memory.

    Provenance records it so a result can be traced to the exact input file it came from.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
