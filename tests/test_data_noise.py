"""The data-only noise estimate: right size on data of known noise, and chi²/dof ≈ 1 for the
true model (so NLSQ uncertainties and the CMC likelihood are calibrated)."""

from __future__ import annotations

import numpy as np
import pytest

from homodyne.data import estimate_sigma, load, simulate
from homodyne.data.simulate import parameter_vector
from homodyne.errors import DataFormatError, DataQualityError
from homodyne.physics import compute_c2

Q, DT, N_FRAMES = 0.0054, 0.1, 120
PHI = [-30.0, 0.0, 45.0, 90.0]
CASES = {
    # decays to about a third of the contrast over the window
    "static": ("static", {"D0": 1.0e4, "alpha": 0.0, "D_offset": 10.0}),
    # ageing: the decay rate changes along the diagonal
    "static_ageing": ("static", {"D0": 3.0e4, "alpha": 0.5, "D_offset": 10.0}),
    "laminar_flow": ("laminar_flow", {"D0": 1.0e4, "alpha": 0.3, "gamma_dot_t0": 2.0e-3,
                                      "beta": 0.5, "phi0": 2.0}),
}


@pytest.mark.parametrize("noise", [0.005, 0.01, 0.02])
@pytest.mark.parametrize("case", sorted(CASES))
def test_sigma_and_reduced_chi2_on_simulated_data(tmp_path, case, noise):
    mode, params = CASES[case]
    path = simulate(tmp_path / "sim.h5", mode=mode, params=params, phi=PHI, n_frames=N_FRAMES,
                    dt=DT, q=Q, contrast=0.3, noise=noise, seed=11)
    data = load(path, q=Q, dt=DT)
    np.testing.assert_allclose(data.sigma, noise, rtol=0.10)

    _, theta = parameter_vector(mode, params)
    model = np.asarray(compute_c2(mode, theta, data.t, data.phi, q=Q, dt=DT, contrast=0.3))
    i, j = np.triu_indices(data.n_frames, k=1)
    residual = (data.c2 - model)[:, i, j] / data.sigma[:, None]
    reduced_chi2 = np.sum(residual**2) / data.n_points
    assert 0.9 <= reduced_chi2 <= 1.1


def test_white_noise_and_single_matrix():
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 0.02, (200, 200))
    c2 = 1.0 + np.triu(noise) + np.triu(noise, 1).T
    sigma = estimate_sigma(c2)
    assert sigma.shape == (1,)
    assert sigma[0] == pytest.approx(0.02, rel=0.05)


def test_robust_to_spikes_and_ignores_nonfinite():
    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 0.01, (150, 150))
    c2 = 1.0 + np.triu(noise) + np.triu(noise, 1).T
    spiky = c2.copy()
    rows, cols = rng.integers(0, 150, 40), rng.integers(0, 150, 40)
    spiky[rows, cols] += 1.0  # 40 glitches, each 100 sigma
    spiky[5, 9] = np.nan
    clean, dirty = estimate_sigma(c2[None])[0], estimate_sigma(spiky[None])[0]
    assert dirty == pytest.approx(clean, rel=0.03)


def test_shape_and_size_checks():
    with pytest.raises(DataFormatError, match=r"\(n_phi, N, N\)"):
        estimate_sigma(np.ones((2, 5, 6)))
    with pytest.raises(DataQualityError, match="at least 4 frames"):
        estimate_sigma(np.ones((1, 3, 3)))
    assert np.isnan(estimate_sigma(np.full((1, 5, 5), np.nan))[0])
