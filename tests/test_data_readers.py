"""Reading the two APS layouts (docs/data-formats.md), including files written with other
programs' habits.

Files here are written with raw h5py, not with homodyne's writers, so the reader is tested
against conventions it did not produce: bytes keys, float32 matrices, (1, n) tables,
unpadded keys, one-triangle matrices, legacy keys created out of alphabetical order.
Each matrix encodes its bin number b as ``10*b + pattern`` so a mix-up is visible.
"""

from __future__ import annotations

import hashlib
import logging

import h5py
import numpy as np
import pytest

from homodyne.data import load
from homodyne.data.preprocess import (
    correct_diagonal,
    full_matrix,
    longest_finite_run,
    normalise_angles,
    phi_mask,
)
from homodyne.data.readers import natural_key

F = 16
DT = 0.5


def tagged(b: int, f: int = F) -> np.ndarray:
    """Symmetric matrix of bin ``b``: 10*b plus a pattern < 1 that varies along the diagonal."""
    i = np.arange(f)
    lag, age = np.abs(i[:, None] - i[None, :]), i[:, None] + i[None, :]
    return 10.0 * b + 0.5 * np.exp(-lag / 4.0) + 0.01 * age / f


def bins_seen(c2: np.ndarray) -> list[int]:
    return [int(np.floor(m[0, 3] / 10.0)) for m in c2]


def write_aps_u(path, q_list, phi_list, bins, *, keys=None, dtype=np.float64, bytes_keys=False,
                half=None, table_shape=None, matrices=None):
    keys = keys or [f"c2_{k:05d}" for k in range(1, len(bins) + 1)]
    matrices = matrices if matrices is not None else [tagged(b) for b in bins]
    with h5py.File(path, "w") as fh:
        shape = table_shape or (-1,)
        fh["xpcs/qmap/dynamic_v_list_dim0"] = np.asarray(q_list, dtype=dtype).reshape(shape)
        fh["xpcs/qmap/dynamic_v_list_dim1"] = np.asarray(phi_list, dtype=dtype).reshape(shape)
        fh["xpcs/twotime/processed_bins"] = np.asarray(bins, dtype=np.float64)
        group = fh.create_group("xpcs/twotime/correlation_map")
        for key, m in zip(keys, matrices, strict=True):
            m = {"upper": np.triu, "lower": np.tril, None: np.asarray}[half](m)
            group.create_dataset(key.encode() if bytes_keys else key, data=m.astype(dtype))
    return path


def write_legacy(path, q_per_bin, phi_per_bin, keys, *, track_order, matrices=None):
    """``keys[k]`` is created k-th and holds bin k+1."""
    matrices = matrices if matrices is not None else [tagged(b) for b in range(1, len(keys) + 1)]
    with h5py.File(path, "w") as fh:
        fh["xpcs/dqlist"] = np.asarray(q_per_bin, dtype=np.float32).reshape(1, -1)
        fh["xpcs/dphilist"] = np.asarray(phi_per_bin, dtype=np.float32).reshape(1, -1)
        group = fh.create_group("exchange/C2T_all", track_order=track_order)
        for key, m in zip(keys, matrices, strict=True):
            group[key] = m
    return path


def test_aps_u_takes_every_angle_of_the_nearest_ring_only(tmp_path):
    q_list, phi_list = [0.003, 0.005, 0.007], [-90.0, 0.0, 90.0, 180.0]
    bins = [1, 2, 3, 4, 6, 7, 9, 10, 11, 12]  # ring 2 processed at angles 0 and 90 only
    path = write_aps_u(tmp_path / "a.h5", q_list, phi_list, bins)
    data = load(path, q=0.0051, dt=DT)
    assert data.q == 0.005
    assert bins_seen(data.c2) == [6, 7]
    np.testing.assert_array_equal(data.phi, [0.0, 90.0])
    prov = data.provenance
    assert prov.layout == "aps-u" and prov.bins == (6, 7) and prov.frames == (1, F)
    assert prov.source == str(path.resolve())
    assert prov.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_time_grid_starts_at_dt_and_drops_first_frame(tmp_path):
    path = write_aps_u(tmp_path / "a.h5", [0.005], [0.0], [1])
    data = load(path, q=0.005, dt=DT)
    np.testing.assert_array_equal(data.t, DT * np.arange(1, F))
    assert data.c2.shape == (1, F - 1, F - 1) and data.dt == DT
    expected = correct_diagonal(tagged(1)[None])[:, 1:, 1:]
    np.testing.assert_array_equal(data.c2, expected)
    assert data.c2.dtype == np.float64 and data.sigma.shape == (1,)


@pytest.mark.parametrize("pattern", ["c2_{k}", "c2_{k:05d}", "C2T_{k:03d}"])
def test_aps_u_keys_sort_naturally(tmp_path, pattern):
    # Unpadded keys sort c2_1, c2_10, c2_11, c2_12, c2_2 alphabetically: natural order fixes it.
    bins = list(range(1, 13))
    keys = [pattern.format(k=k) for k in bins]
    path = write_aps_u(tmp_path / "a.h5", [0.005], np.linspace(-165, 165, 12), bins, keys=keys)
    assert bins_seen(load(path, q=0.005, dt=DT).c2) == bins


def test_natural_key_orders_digit_runs_numerically():
    keys = ["c2_10", "c2", "c2_2", "c2_02", "c2_1b", "b", "c2_1a", "c3"]
    assert sorted(keys, key=natural_key) == [
        "b", "c2", "c2_1a", "c2_1b", "c2_02", "c2_2", "c2_10", "c3",
    ]
    assert natural_key(b"c2_00003") == natural_key("c2_00003")


def test_aps_u_bytes_keys_float32_and_row_tables(tmp_path):
    bins = [1, 2, 3]
    path = write_aps_u(tmp_path / "a.h5", [0.005], [0.0, 45.0, 90.0], bins, dtype=np.float32,
                       bytes_keys=True, table_shape=(1, -1))
    data = load(path, q=0.005, dt=DT)
    assert data.c2.dtype == np.float64 and data.phi.dtype == np.float64
    assert bins_seen(data.c2) == bins
    # float32 -> float64 is exact: the off-diagonal values are the stored float32 numbers
    stored = tagged(2).astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(data.c2[1, 0, 1:], stored[1, 2:])
    assert data.q == pytest.approx(0.005, rel=1e-7)


@pytest.mark.parametrize("half", ["upper", "lower"])
def test_half_matrices_are_rebuilt(tmp_path, half):
    full = load(write_aps_u(tmp_path / "f.h5", [0.005], [0.0, 90.0], [1, 2]), q=0.005, dt=DT)
    halved = load(write_aps_u(tmp_path / "h.h5", [0.005], [0.0, 90.0], [1, 2], half=half),
                  q=0.005, dt=DT)
    np.testing.assert_array_equal(halved.c2, full.c2)


@pytest.mark.parametrize("half", ["upper", "lower"])
def test_half_detection_survives_a_frame_window(tmp_path, half):
    path = write_aps_u(tmp_path / "h.h5", [0.005], [0.0], [1], half=half)
    data = load(path, q=0.005, dt=DT, frames=(4, 12))
    np.testing.assert_array_equal(data.c2, data.c2.transpose(0, 2, 1))
    expected = correct_diagonal(tagged(1)[None, 3:12, 3:12])[:, 1:, 1:]
    np.testing.assert_allclose(data.c2, expected, rtol=0, atol=1e-12)


def test_full_matrix_leaves_full_and_diagonal_matrices_alone():
    m = tagged(1)
    assert full_matrix(m) is m
    d = np.diag(np.arange(1.0, 5.0))
    assert full_matrix(d) is d
    upper = np.triu(m)
    np.testing.assert_array_equal(full_matrix(upper), m)


def test_legacy_uses_creation_order_when_tracked(tmp_path):
    keys = ["zeta", "c2_00003", "alpha", "c2_00001", "mid"]  # bin k = k-th created
    path = write_legacy(tmp_path / "l.h5", [0.005] * 5, [0, 30, 60, 90, 120], keys,
                        track_order=True)
    data = load(path, q=0.005, dt=DT)
    assert data.provenance.layout == "legacy"
    assert bins_seen(data.c2) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(data.phi, [0, 30, 60, 90, 120])


def test_legacy_without_creation_order_falls_back_to_natural_sort(tmp_path):
    keys = [f"C2T_{k}" for k in range(1, 13)]
    phi = np.arange(12) * 30.0
    path = write_legacy(tmp_path / "l.h5", [0.005] * 12, phi, keys, track_order=False)
    data = load(path, q=0.005, dt=DT)
    assert bins_seen(data.c2) == list(range(1, 13))
    np.testing.assert_array_equal(data.phi, normalise_angles(phi))


def test_legacy_selects_one_ring_among_several(tmp_path):
    q = [0.004, 0.004, 0.006, 0.006, 0.006]
    keys = [f"c2_{k:05d}" for k in range(1, 6)]
    path = write_legacy(tmp_path / "l.h5", q, [0, 90, 0, 90, 180], keys, track_order=True)
    data = load(path, q=0.0062, dt=DT)
    assert data.provenance.bins == (3, 4, 5) and bins_seen(data.c2) == [3, 4, 5]
    assert data.q == pytest.approx(0.006, rel=1e-7)  # stored as float32


def test_frame_window_is_one_based_inclusive(tmp_path):
    path = write_aps_u(tmp_path / "a.h5", [0.005], [0.0], [1])
    data = load(path, q=0.005, dt=DT, frames=(3, 12))
    assert data.provenance.frames == (3, 12)
    np.testing.assert_array_equal(data.t, DT * np.arange(1, 10))
    window = correct_diagonal(tagged(1)[None, 2:12, 2:12])[:, 1:, 1:]
    np.testing.assert_array_equal(data.c2, window)


def test_phi_ranges_filter_after_normalisation(tmp_path):
    phi = [0.0, 90.0, 175.0, 185.0, 270.0, -180.0]
    path = write_aps_u(tmp_path / "a.h5", [0.005], phi, list(range(1, 7)))
    data = load(path, q=0.005, dt=DT, phi_ranges=[[170, -170], [-95, -85]])
    np.testing.assert_array_equal(data.phi, [175.0, -175.0, -90.0, 180.0])
    assert data.provenance.bins == (3, 4, 5, 6)


def test_normalise_angles_maps_into_half_open_interval():
    got = normalise_angles([-180.0, 180.0, 190.0, -190.0, 360.0, 540.0, -1e-9, -180.0 + 1e-9])
    np.testing.assert_allclose(got, [180.0, 180.0, -170.0, 170.0, 0.0, 180.0, -1e-9,
                                     -180.0 + 1e-9], rtol=0, atol=1e-12)
    assert np.all((got > -180.0) & (got <= 180.0))


@pytest.mark.parametrize(
    ("ranges", "kept"),
    [
        (None, [-170.0, -90.0, 0.0, 45.0, 180.0]),
        ([], [-170.0, -90.0, 0.0, 45.0, 180.0]),
        ([[0, 45]], [0.0, 45.0]),  # inclusive ends
        ([[170, -170]], [-170.0, 180.0]),  # min > max wraps through ±180
        ([[350, 370]], [0.0]),  # any degrees, normalised
        ([[-180, -90]], [-170.0, -90.0, 180.0]),  # -180 is 180
        ([[-180, 180]], [-170.0, -90.0, 0.0, 45.0, 180.0]),  # a full turn keeps everything
        ([[0, 10], [40, 50]], [0.0, 45.0]),  # union
        ([[44.9999995, 44.9999995]], [45.0]),  # float32-sized slack
    ],
)
def test_phi_mask(ranges, kept):
    phi = np.array([-170.0, -90.0, 0.0, 45.0, 180.0])
    np.testing.assert_array_equal(phi[phi_mask(phi, ranges)], kept)


def test_correct_diagonal_uses_neighbour_mean():
    m = np.arange(16.0).reshape(4, 4)
    m = m + m.T
    out = correct_diagonal(m[None])[0]
    np.testing.assert_array_equal(np.diag(out), [m[0, 1], (m[1, 2] + m[1, 0]) / 2,
                                                 (m[2, 3] + m[2, 1]) / 2, m[3, 2]])
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(out[off], m[off])


def test_longest_finite_run():
    c2 = np.ones((2, 10, 10))
    c2[1, 3, 5] = np.nan  # frames 3 and 5 are bad
    assert longest_finite_run(c2) == (4, 10)  # [4, 10) holds 5 but not 3
    c2[0, 8, 8] = np.inf  # frame 8 alone is bad
    assert longest_finite_run(c2) == (0, 5)  # [0, 5) holds 3 but not 5; ties: earliest
    c2[:, :, 1] = np.nan  # a whole bad frame poisons every row, yet only frame 1 must go
    assert longest_finite_run(c2) == (4, 8)
    assert longest_finite_run(np.full((1, 3, 3), np.nan)) == (0, 0)


def test_mask_nonfinite_keeps_longest_finite_run(tmp_path, caplog):
    matrices = [tagged(1), tagged(2)]
    matrices[1][4, :] = np.nan
    matrices[1][:, 4] = np.nan
    path = write_aps_u(tmp_path / "a.h5", [0.005], [0.0, 90.0], [1, 2], matrices=matrices)
    with caplog.at_level(logging.WARNING, logger="homodyne.data.loader"):
        data = load(path, q=0.005, dt=DT, mask_nonfinite=True)
    assert data.provenance.frames == (6, F)  # frames 6..16 (0-based 5..15) avoid frame 5
    assert data.c2.shape == (2, F - 6, F - 6) and np.isfinite(data.c2).all()
    np.testing.assert_array_equal(data.t, DT * np.arange(1, F - 5))
    np.testing.assert_array_equal(data.c2[0], correct_diagonal(tagged(1)[None, 5:, 5:])[0, 1:, 1:])
    assert "dropped 5 of 16 frames" in caplog.text


def test_select_angles_keeps_ranges_and_bins(tmp_path):
    from homodyne.data import select_angles, simulate
    from homodyne.errors import DataQualityError

    path = simulate(tmp_path / "sel.h5", mode="static", phi=[-170.0, -10.0, 0.0, 45.0, 175.0],
                    n_frames=12, dt=0.1, q=0.005, noise=0.0, seed=0)
    data = load(path, q=0.005, dt=0.1)
    kept = select_angles(data, [[-15, 5], [170, -165]])
    np.testing.assert_array_equal(kept.phi, [-170.0, -10.0, 0.0, 175.0])
    np.testing.assert_array_equal(kept.c2, data.c2[[0, 1, 2, 4]])
    np.testing.assert_array_equal(kept.sigma, data.sigma[[0, 1, 2, 4]])
    assert kept.provenance.bins == tuple(data.provenance.bins[k] for k in (0, 1, 2, 4))
    with pytest.raises(DataQualityError, match=r"no angle at q = 0\.005 lies in phi_ranges"):
        select_angles(data, [[100, 120]])
