"""The intermediate XPCSData file: exact round trip, provenance readable as plain HDF5
attributes, foreign files refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import homodyne
from homodyne.data import Provenance, XPCSData, load, read_xpcs, simulate, write_xpcs
from homodyne.errors import DataFormatError


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = simulate(tmp_path_factory.mktemp("raw") / "raw.h5", mode="static", phi=[-45.0, 30.0],
                    n_frames=30, dt=0.2, q=0.004, noise=0.01, seed=1)
    return load(path, q=0.004, dt=0.2, frames=(3, 30), phi_ranges=[[-90, 90]])


def assert_same(a: XPCSData, b: XPCSData) -> None:
    for name in ("phi", "t", "c2", "sigma"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.float64 and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), name  # bit for bit
    assert (a.q, a.dt, a.provenance) == (b.q, b.dt, b.provenance)


def test_round_trip_is_exact(tmp_path, loaded):
    path = write_xpcs(tmp_path / "loaded.h5", loaded)
    assert_same(read_xpcs(path), loaded)
    assert [p.name for p in tmp_path.iterdir()] == ["loaded.h5"]  # no temp file left


def test_provenance_is_in_plain_attributes(tmp_path, loaded):
    path = write_xpcs(tmp_path / "loaded.h5", loaded)
    with h5py.File(path, "r") as fh:
        a = fh.attrs
        assert a["format"] == "homodyne-xpcs" and a["homodyne_version"] == homodyne.__version__
        assert a["source"] == loaded.provenance.source and a["layout"] == "aps-u"
        assert a["sha256"] == loaded.provenance.sha256 and len(a["sha256"]) == 64
        assert a["q"] == 0.004 and a["dt"] == 0.2
        np.testing.assert_array_equal(a["phi"], [-45.0, 30.0])
        np.testing.assert_array_equal(a["bins"], [1, 2])
        np.testing.assert_array_equal(a["frames"], [3, 30])


def test_round_trip_of_a_hand_made_container(tmp_path):
    rng = np.random.default_rng(0)
    data = XPCSData(q=0.1 / 3, phi=np.array([180.0]), t=np.arange(1, 5) / 7.0, dt=1 / 7.0,
                    c2=rng.normal(1.0, 0.1, (1, 4, 4)), sigma=np.array([np.pi]))
    assert data.provenance == Provenance()
    assert_same(read_xpcs(write_xpcs(tmp_path / "x.h5", data)), data)


def test_overwrites_existing_file(tmp_path, loaded):
    path = tmp_path / "x.h5"
    path.write_text("old")
    write_xpcs(path, loaded)
    assert_same(read_xpcs(path), loaded)


def test_raw_aps_file_is_not_an_intermediate_file(tmp_path):
    raw = simulate(tmp_path / "raw.h5", mode="static", phi=[0.0], n_frames=10, dt=0.1, q=0.005)
    with pytest.raises(DataFormatError, match="not a homodyne XPCSData file") as err:
        read_xpcs(raw)
    assert str(raw) in str(err.value) and "homodyne.data.load" in str(err.value)


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        read_xpcs(tmp_path / "gone.h5")
    (tmp_path / "notes.h5").write_text("hello")
    with pytest.raises(DataFormatError, match="not an HDF5 file"):
        read_xpcs(tmp_path / "notes.h5")


def test_damaged_file(tmp_path, loaded):
    path = write_xpcs(tmp_path / "x.h5", loaded)
    with h5py.File(path, "a") as fh:
        del fh["sigma"]
        del fh.attrs["frames"]
    with pytest.raises(DataFormatError, match="lacks sigma, frames"):
        read_xpcs(path)


def test_inconsistent_shapes_and_newer_version(tmp_path, loaded):
    path = write_xpcs(tmp_path / "x.h5", loaded)
    with h5py.File(path, "a") as fh:
        del fh["t"]
        fh["t"] = np.arange(3.0)
    with pytest.raises(DataFormatError, match="inconsistent XPCSData arrays"):
        read_xpcs(path)
    with h5py.File(path, "a") as fh:
        fh.attrs["format_version"] = 99
    with pytest.raises(DataFormatError, match="upgrade homodyne"):
        read_xpcs(path)
