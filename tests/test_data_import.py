"""Bare measured matrices -> APS-U files that ``load`` reads, on the two real matrices in
``tests/data/real`` and on hand-made edge cases.

Neither real file carries q, angle or frame time (see its README); these tests assume
q = 0.005 1/Å, dt = 0.1 s for the CHX matrix and q = 0.022, dt = 1 s for the yolk-plasma one.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from homodyne.data import import_matrices, load
from homodyne.errors import ConfigError, DataFormatError, DataQualityError

REAL = Path(__file__).parent / "data" / "real"  # the real matrices, see its README

CHX_Q, CHX_DT = 0.005, 0.1
YOLK_Q, YOLK_DT = 0.022, 1.0


def lag_matrix(n: int) -> np.ndarray:
    i = np.arange(n)
    return np.abs(i[:, None] - i[None, :])


def test_chx_matrix(tmp_path):
    source = REAL / "chx_two_time.npy"
    path = import_matrices(source, q=CHX_Q, dt=CHX_DT, out=tmp_path / "chx.h5")
    with h5py.File(path, "r") as fh:
        assert fh.attrs["frame_time_s"] == CHX_DT
        assert fh.attrs["imported_from"] == str(source)
    data = load(path, q=CHX_Q, dt=CHX_DT)
    assert data.c2.shape == (1, 349, 349) and data.n_frames == 349
    assert data.t[0] == CHX_DT and data.phi.tolist() == [0.0]
    assert np.isfinite(data.sigma).all() and data.sigma[0] > 0
    # the README's numbers: baseline ≈ 1.025, contrast ≈ 0.07 (decay 1/e at ~17 frames)
    c, lag = data.c2[0], lag_matrix(data.n_frames)
    baseline = np.median(c[lag > 150])
    contrast = np.mean(c[lag == 1]) - baseline
    assert baseline == pytest.approx(1.025, abs=0.005)
    assert contrast == pytest.approx(0.07, abs=0.015)
    np.testing.assert_array_equal(c, c.T)


def test_yolk_plasma_matrix_needs_a_triangle(tmp_path):
    source = REAL / "yolk_plasma_two_time.npy"
    with pytest.raises(DataQualityError, match=r"triangles differ by up to 0\.02") as err:
        import_matrices(source, q=YOLK_Q, dt=YOLK_DT, out=tmp_path / "yolk.h5")
    assert "--triangle" in str(err.value) and str(source) in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("triangle", ["upper", "lower"])
def test_yolk_plasma_matrix_one_triangle_plus_baseline(tmp_path, triangle):
    source = REAL / "yolk_plasma_two_time.npy"
    raw = np.load(source)
    path = import_matrices([source], q=YOLK_Q, dt=YOLK_DT, out=tmp_path / "yolk.h5",
                           triangle=triangle, add_baseline=1.0)
    with h5py.File(path, "r") as fh:
        stored = fh["xpcs/twotime/correlation_map/c2_00001"][()]
    np.testing.assert_array_equal(stored, stored.T)
    kept = np.triu(raw) if triangle == "upper" else np.tril(raw)
    np.testing.assert_array_equal(stored[kept != 0], kept[kept != 0] + 1.0)
    data = load(path, q=YOLK_Q, dt=YOLK_DT)
    c, lag = data.c2[0], lag_matrix(data.n_frames)
    assert data.n_frames == 49
    np.testing.assert_array_equal(c, c.T)
    assert np.median(c[lag > 30]) == pytest.approx(1.0, abs=0.05)
    assert np.isfinite(data.sigma).all()


def test_several_angles_from_arrays(tmp_path):
    i = np.arange(20)
    base = 1.0 + 0.2 * np.exp(-np.abs(i[:, None] - i[None, :]) / 5.0)
    stack = np.stack([base, base + 0.1, base + 0.2])
    path = import_matrices([stack[0], np.triu(stack[1]), np.tril(stack[2])], q=0.01, dt=0.5,
                           phi=[0, 120, 240], out=tmp_path / "three.h5")
    data = load(path, q=0.01, dt=0.5)
    np.testing.assert_array_equal(data.phi, [0.0, 120.0, -120.0])
    np.testing.assert_allclose(data.c2[:, 0, 5], stack[:, 1, 6])
    same = import_matrices(stack, q=0.01, dt=0.5, phi=[0, 120, 240], out=tmp_path / "s.h5")
    np.testing.assert_array_equal(load(same, q=0.01, dt=0.5).c2, data.c2)


@pytest.mark.parametrize(
    ("matrices", "kwargs", "error", "match"),
    [
        ([np.eye(5), np.eye(5)], {}, ConfigError, "need one angle each"),
        ([np.eye(5)], {"phi": [0, 1]}, ConfigError, "one angle per matrix"),
        ([np.eye(5)], {"phi": ["north"]}, ConfigError, "angles in degrees"),
        ([np.eye(5)], {"triangle": "both"}, ConfigError, "triangle must be"),
        ([np.eye(5)], {"add_baseline": float("inf")}, ConfigError, "add_baseline"),
        ([np.eye(5)], {"dt": 0}, ConfigError, "dt must be"),
        ([], {}, ConfigError, "no matrices"),
        ([np.ones((5, 4))], {}, DataFormatError, r"shape \(5, 4\) is not a square"),
        ([np.eye(5), np.eye(6)], {"phi": [0, 1]}, DataFormatError, "different shapes"),
        ([np.array([["a"] * 5] * 5)], {}, DataFormatError, "not a real number type"),
    ],
)
def test_invalid_input_writes_nothing(tmp_path, matrices, kwargs, error, match):
    with pytest.raises(error, match=match):
        import_matrices(matrices, **{"q": 0.01, "dt": 0.1, "out": tmp_path / "o.h5", **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_unreadable_npy(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(DataFormatError, match=r"not a NumPy \.npy array") as err:
        import_matrices(bad, q=0.01, dt=0.1, out=tmp_path / "o.h5")
    assert str(bad) in str(err.value)
    with pytest.raises(DataFormatError, match="no such file"):
        import_matrices(tmp_path / "none.npy", q=0.01, dt=0.1, out=tmp_path / "o.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy"]
