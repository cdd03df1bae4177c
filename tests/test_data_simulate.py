"""Synthetic data: the loaded file equals the model on the loaded time grid, the truth file
records everything, and the same seed gives the same bytes."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

from homodyne import params as registry
from homodyne.data import load, simulate
from homodyne.data.simulate import parameter_vector, truth_path
from homodyne.errors import ConfigError
from homodyne.physics import compute_c2

Q, DT, N = 0.0054, 0.1, 40
PHI = [0.0, 60.0, 120.0]
LAMINAR = {"D0": 1.0e4, "alpha": -0.3, "gamma_dot_t0": 3.0e-3, "phi0": 1.5}


def without_diagonal(c2):
    return c2[:, ~np.eye(c2.shape[-1], dtype=bool)]


@pytest.mark.parametrize("half", [None, "upper", "lower"])
@pytest.mark.parametrize("layout", ["aps-u", "legacy"])
def test_noise_free_file_loads_as_model_on_loaded_grid(tmp_path, layout, half):
    path = simulate(tmp_path / "s.h5", mode="laminar_flow", params=LAMINAR, phi=PHI,
                    n_frames=N, dt=DT, q=Q, contrast=[0.2, 0.3, 0.4], offset=1.01, noise=0.0,
                    layout=layout, half=half)
    data = load(path, q=Q, dt=DT)
    assert data.provenance.layout == layout and data.provenance.bins == (1, 2, 3)
    _, theta = parameter_vector("laminar_flow", LAMINAR)
    model = np.asarray(compute_c2("laminar_flow", theta, data.t, data.phi, q=Q, dt=DT,
                                  contrast=[0.2, 0.3, 0.4], offset=1.01))
    np.testing.assert_allclose(without_diagonal(data.c2), without_diagonal(model), rtol=1e-12)


def test_heterodyne_mode(tmp_path):
    path = simulate(tmp_path / "h.h5", mode="heterodyne", params={"v0": 50.0, "f0": 0.3},
                    phi=[0.0, 90.0], n_frames=N, dt=DT, q=Q, noise=0.0)
    data = load(path, q=Q, dt=DT)
    _, theta = parameter_vector("heterodyne", {"v0": 50.0, "f0": 0.3})
    model = np.asarray(compute_c2("heterodyne", theta, data.t, data.phi, q=Q, dt=DT,
                                  contrast=0.3))
    np.testing.assert_allclose(without_diagonal(data.c2), without_diagonal(model), rtol=1e-12)


def test_noise_is_symmetric_and_has_the_requested_size(tmp_path):
    path = simulate(tmp_path / "s.h5", mode="static", phi=[0.0], n_frames=200, dt=DT, q=Q,
                    noise=0.02, seed=5)
    with h5py.File(path, "r") as fh:
        stored = fh["xpcs/twotime/correlation_map/c2_00001"][()]
        assert fh.attrs["frame_time_s"] == DT
    np.testing.assert_array_equal(stored, stored.T)
    model = np.asarray(compute_c2("static", registry.defaults("static"), DT * np.arange(200),
                                  [0.0], q=Q, dt=DT, contrast=0.3))[0]
    i, j = np.triu_indices(200)
    assert np.std((stored - model)[i, j]) == pytest.approx(0.02, rel=0.02)


def test_truth_file(tmp_path):
    path = simulate(tmp_path / "run1.h5", mode="static_isotropic", params=[2.0e4, 0.1, 5.0],
                    phi=[10.0], n_frames=20, dt=0.05, q=0.003, L=1.0e6, contrast=0.25,
                    offset=1.1, noise=0.004, seed=9, layout="legacy", half="lower")
    assert truth_path(path) == tmp_path / "run1.truth.json"
    truth = json.loads(truth_path(path).read_text())
    assert truth == {
        "file": "run1.h5", "mode": "static",
        "parameters": {"D0": 2.0e4, "alpha": 0.1, "D_offset": 5.0},
        "phi": [10.0], "q": 0.003, "dt": 0.05, "L": 1.0e6, "contrast": 0.25, "offset": 1.1,
        "noise": 0.004, "seed": 9, "n_frames": 20, "layout": "legacy", "half": "lower",
        "homodyne_version": truth["homodyne_version"],
    }


def test_default_parameters_fill_unspecified_names(tmp_path):
    path = simulate(tmp_path / "s.h5", mode="laminar_flow", params={"beta": 0.2}, phi=[0.0],
                    n_frames=10, dt=DT, q=Q)
    values = json.loads(truth_path(path).read_text())["parameters"]
    expected = dict(zip(registry.names("laminar_flow"), registry.defaults("laminar_flow"),
                        strict=True))
    assert values == {**expected, "beta": 0.2}


def test_same_seed_same_bytes(tmp_path):
    variants = {"aps-u": {"layout": "aps-u"}, "legacy": {"layout": "legacy", "half": "upper"}}
    base = dict(mode="laminar_flow", params=LAMINAR, phi=PHI, n_frames=N, dt=DT, q=Q, seed=42)
    first = {k: simulate(tmp_path / "a" / f"{k}.h5", **base, **v) for k, v in variants.items()}
    time.sleep(1.1)  # a stored timestamp would now differ
    for k, v in variants.items():
        second = simulate(tmp_path / "b" / f"{k}.h5", **base, **v)
        assert second.read_bytes() == first[k].read_bytes()
        assert truth_path(second).read_bytes() == truth_path(first[k]).read_bytes()
    other = simulate(tmp_path / "c" / "aps-u.h5", **{**base, "seed": 43})
    assert other.read_bytes() != first["aps-u"].read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "brownian"}, "unknown mode"),
        ({"params": {"D9": 1.0}}, "unknown parameter"),
        ({"params": [1.0, 2.0]}, "takes 3 parameters"),
        ({"params": {"D0": float("nan")}}, "finite"),
        ({"phi": [0.0, np.inf]}, "phi must be"),
        ({"phi": [[0.0], [1.0]]}, "phi must be"),
        ({"n_frames": 4}, "n_frames must be an integer >= 5"),
        ({"n_frames": 10.5}, "n_frames"),
        ({"dt": 0.0}, "dt must be"),
        ({"q": -1.0}, "q must be"),
        ({"noise": -0.1}, "noise must be"),
        ({"seed": -1}, "seed must be"),
        ({"layout": "nexus"}, "layout must be"),
        ({"half": "both"}, "half must be"),
        ({"contrast": [0.1, 0.2]}, "one per angle"),
    ],
)
def test_invalid_arguments_write_nothing(tmp_path, kwargs, match):
    base = dict(mode="static", phi=[0.0, 90.0, 180.0], n_frames=10, dt=DT, q=Q)
    with pytest.raises(ConfigError, match=match):
        simulate(tmp_path / "s.h5", **{**base, **kwargs})
    assert list(tmp_path.iterdir()) == []
