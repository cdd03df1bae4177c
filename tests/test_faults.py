"""The fault catalogue, part one: damaged intermediates and a full disk.

Each case is what a cluster does to a run (a job killed while its file was being copied, a
quota or disk filling up during a write) and checks what the user sees: one error naming the
file and how to recover, no partial file under a final name, and recovery by the documented
remedy.  The README's "Reliability" section lists the catalogue.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
from capabilities import unavailable

from homodyne import io
from homodyne.cmc import NLSQEstimate, make_shards
from homodyne.cmc.combine import read_posterior
from homodyne.cmc.sample import posterior_tree, write_tree
from homodyne.cmc.shard import read_shard
from homodyne.config import AnalysisConfig, CMCConfig
from homodyne.data import load, read_xpcs, simulate, write_xpcs
from homodyne.errors import DataFormatError
from homodyne.problem import build_problem

pytestmark = pytest.mark.faults
NAMES = ("D0", "alpha")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    path = simulate(folder / "s.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
                    phi=[0.0, 90.0], n_frames=30, dt=0.1, q=0.008, noise=0.01, seed=2)
    return load(path, q=0.008, dt=0.1)


def _filtered(data, folder: Path) -> Path:
    return write_xpcs(folder / "data" / "filtered.h5", data)


def _shard(data, folder: Path) -> Path:
    analysis = AnalysisConfig(mode="static", dt=0.1)
    problem = build_problem(data, analysis)
    sd = np.where(problem.free, 0.01 * problem.start, 0.0)
    estimate = NLSQEstimate(names=problem.names, values=problem.start, uncertainties=sd,
                            free=problem.free, covariance=np.diag(sd**2),
                            per_angle_effective=problem.scaling.effective)
    return make_shards(data, estimate, CMCConfig(shards=1), folder / "shards",
                       analysis=analysis)[0]


def _posterior(data, folder: Path) -> Path:
    draws = np.random.default_rng(1).normal(size=(2, 50, len(NAMES)))
    stats = {"diverging": np.zeros((2, 50), bool), "step_size": np.full((2, 50), 0.5)}
    attrs = {"index": 0, "n_shards": 1, "n_points": 10, "seconds": 1.0, "seed": 0,
             "mode": "static", "error": "", "fixed": json.dumps({})}
    return write_tree(folder / "posteriors" / "posterior_000.nc",
                      posterior_tree(NAMES, {"posterior": draws, "sample_stats": stats}, attrs))


INTERMEDIATES = {  # writer, reader, what the message tells the user to delete
    "filtered.h5": (_filtered, read_xpcs, "delete it and run the same command again"),
    "shard_000.h5": (_shard, read_shard, "delete the folder {parent} and run the same command"),
    "posterior_000.nc": (_posterior, read_posterior, "delete it and run the same command again"),
}


@pytest.mark.parametrize("name", list(INTERMEDIATES))
@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_intermediate_is_one_clear_error_and_remaking_it_recovers(
        tmp_path, data, name, keep):
    write, read, remedy = INTERMEDIATES[name]
    path = write(data, tmp_path)
    whole = path.read_bytes()
    path.write_bytes(whole[: int(len(whole) * keep)])  # a copy cut short
    with pytest.raises(DataFormatError) as err:
        read(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert remedy.format(parent=path.parent) in message
    # the remedy: delete, and the step that made the file makes it again
    if "folder" in remedy:
        for p in path.parent.iterdir():
            p.unlink()
        path.parent.rmdir()
    else:
        path.unlink()
    assert write(data, tmp_path) == path
    read(path)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _no_partial_file(folder: Path, name: str) -> None:
    assert not (folder / name).exists()
    assert [p.name for p in folder.iterdir()] == [], "a temporary file was left behind"


@pytest.mark.parametrize("writer", ["json", "npz", "xpcs", "netcdf"])
def test_full_disk_during_a_write_leaves_no_file(tmp_path, data, monkeypatch, writer):
    """The write fails part-way (bytes already on disk) as a full disk makes it fail."""
    folder = tmp_path / "out"
    folder.mkdir()
    if writer == "json":
        def write_text(self, text, *a, **kw):
            with open(self, "w") as fh:
                fh.write(text[: len(text) // 2])
            _enospc()
        monkeypatch.setattr(Path, "write_text", write_text)
        call, name = lambda: io.write_json(folder / "r.json", {"a": list(range(50))}), "r.json"
    elif writer == "npz":
        monkeypatch.setattr(io.np, "savez", lambda fh, **a: (fh.write(b"PK\x03\x04"), _enospc()))
        call, name = lambda: io.write_npz(folder / "r.npz", x=np.ones(3)), "r.npz"
    elif writer == "xpcs":
        real = h5py.Group.create_dataset

        def create_dataset(self, key, *a, **kw):
            if key == "c2":
                _enospc()
            return real(self, key, *a, **kw)
        monkeypatch.setattr(h5py.Group, "create_dataset", create_dataset)
        call, name = lambda: write_xpcs(folder / "filtered.h5", data), "filtered.h5"
    else:
        import xarray as xr

        monkeypatch.setattr(xr.DataTree, "to_netcdf",
                            lambda self, tmp, **kw: (Path(tmp).write_bytes(b"\x89HDF"),
                                                     _enospc()))
        call, name = (lambda: _posterior(None, folder), "posteriors/posterior_000.nc")
    with pytest.raises(OSError) as err:
        call()
    assert err.value.errno == errno.ENOSPC
    if "/" in name:
        folder = folder / Path(name).parent
        name = Path(name).name
    _no_partial_file(folder, name)


def _mount_tiny_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    name = f"homodyne-test-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", name, str(where)],
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.root
def test_really_full_disk_leaves_no_file(tmp_path):
    """The same on a real 64 kB file system (where this machine lets the tests mount one)."""
    source = simulate(tmp_path / "big.h5", mode="static", params={"D0": 1e4}, phi=[0.0, 90.0],
                      n_frames=101, dt=0.1, q=0.008, noise=0.01, seed=2)
    big = load(source, q=0.008, dt=0.1)  # 2 × 100 × 100 float64: 160 kB
    disk = tmp_path / "disk"
    if not _mount_tiny_tmpfs(disk, "64k"):
        unavailable("cannot mount a tmpfs here (the monkeypatched cases above still ran)")
    try:
        with pytest.raises(OSError):
            write_xpcs(disk / "filtered.h5", big)
        _no_partial_file(disk, "filtered.h5")
        with pytest.raises(OSError):
            io.write_npz(disk / "big.npz", x=np.ones(20_000))
        _no_partial_file(disk, "big.npz")
        with pytest.raises(OSError):
            io.write_json(disk / "big.json", {"x": list(range(20_000))})
        _no_partial_file(disk, "big.json")
    finally:
        subprocess.run(["umount", str(disk)], check=True)
