"""File helpers: the input hash for provenance and all-or-nothing writes."""

from __future__ import annotations

import hashlib
import json

import pytest

from homodyne.io import sha256_file, write_atomic, write_json


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 5000  # 1.28 MB: two chunks of the default 1 MiB
    path.write_bytes(payload)
    expected = hashlib.sha256(payload).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk_size=1000) == expected


def test_failed_write_leaves_neither_file_nor_temp(tmp_path):
    def explode(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "x.h5", explode)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": None}

    def explode(tmp):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomic(path, explode)
    assert json.loads(path.read_text()) == {"a": None}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from homodyne.io import write_json

    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
