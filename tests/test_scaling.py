"""Per-angle scaling (docs/physics.md): estimator and the four per_angle_mode layouts."""

from __future__ import annotations

import numpy as np
import pytest

from homodyne.physics import angle_scaling, compute_c2, estimate_scaling

T = 0.1 * np.arange(1, 41)
PHI5 = np.array([-60.0, -20.0, 0.0, 30.0, 75.0])
CONTRAST = np.array([0.20, 0.25, 0.30, 0.35, 0.40])
OFFSET = np.array([1.00, 1.01, 1.02, 1.03, 1.04])


def _data(phi=PHI5, contrast=CONTRAST, offset=OFFSET, noise=0.0):
    c2 = np.asarray(compute_c2("static", [3e4, 0.0, 0.0], T, phi, q=0.01, dt=0.1,
                               contrast=contrast, offset=offset))
    rng = np.random.default_rng(1)
    return c2 + noise * rng.standard_normal(c2.shape)


def test_estimator_is_exact_on_a_step_in_lag():
    """Short lags (< 10 frames) at offset + contrast, long ones at offset: no bias."""
    lag = np.abs(np.subtract.outer(np.arange(len(T)), np.arange(len(T))))
    c2 = OFFSET[:, None, None] + CONTRAST[:, None, None] * (lag < 10)
    est_c, est_o = estimate_scaling(c2, T)
    np.testing.assert_allclose(est_o, OFFSET, rtol=1e-14)
    np.testing.assert_allclose(est_c, CONTRAST, rtol=1e-12)


def test_estimator_on_decaying_data_is_a_sound_start():
    est_c, est_o = estimate_scaling(_data(noise=0.005), T)
    # Long lags have decayed; the 10th percentile of noise sits 1.28 sigma low.
    np.testing.assert_allclose(est_o, OFFSET - 1.28 * 0.005, atol=2e-3)
    # Short lags have already decayed somewhat: the ceiling sits below offset + contrast.
    assert np.all(est_c < CONTRAST) and np.all(est_c > 0.5 * CONTRAST)


def test_estimator_uses_bound_midpoints_for_small_matrices():
    small_t = T[:10]  # 45 off-diagonal points < 100
    c2 = _data()[:, :10, :10]
    est_c, est_o = estimate_scaling(c2, small_t)
    np.testing.assert_array_equal(est_c, 0.5)
    np.testing.assert_array_equal(est_o, 1.0)


def test_estimator_clips_to_bounds():
    est_c, est_o = estimate_scaling(_data(), T, contrast_bounds=(0.0, 0.22),
                                    offset_bounds=(1.0, 1.015))
    assert est_c.max() == 0.22
    assert est_o.max() == 1.015


def test_individual_is_identity():
    s = angle_scaling("individual", PHI5, _data(), T)
    assert s.effective == "individual"
    assert s.names[:2] == ("contrast_0", "contrast_1")
    assert s.n_free == 10
    theta = np.concatenate([CONTRAST, OFFSET])
    c, o = s.expand(theta)
    np.testing.assert_allclose(c, CONTRAST)
    np.testing.assert_allclose(o, OFFSET)
    assert np.all(s.lower <= s.initial) and np.all(s.initial <= s.upper)


@pytest.mark.parametrize(("n_phi", "effective"), [(2, "individual"), (3, "shared")])
def test_auto_shares_from_three_angles(n_phi, effective):
    phi = PHI5[:n_phi]
    data = _data(phi, CONTRAST[:n_phi], OFFSET[:n_phi])
    s = angle_scaling("auto", phi, data, T)
    assert s.effective == effective
    if effective == "shared":
        assert s.names == ("contrast", "offset")
        est_c, est_o = estimate_scaling(data, T)
        np.testing.assert_allclose(s.initial, [est_c.mean(), est_o.mean()])
        c, o = s.expand([0.3, 1.1])
        np.testing.assert_allclose(c, np.full(n_phi, 0.3))
        np.testing.assert_allclose(o, np.full(n_phi, 1.1))


def test_constant_holds_estimates_fixed():
    data = _data()
    s = angle_scaling("constant", PHI5, data, T)
    assert s.n_free == 0
    est_c, est_o = estimate_scaling(data, T)
    c, o = s.expand(np.zeros(0))
    np.testing.assert_allclose(c, est_c)
    np.testing.assert_allclose(o, est_o)


def test_fourier_represents_smooth_angle_dependence():
    phi = np.linspace(-180, 150, 12)
    rad = np.radians(phi)
    contrast = 0.3 + 0.05 * np.cos(rad) - 0.02 * np.sin(2 * rad)
    offset = 1.0 + 0.01 * np.sin(rad)
    s = angle_scaling("fourier", phi, _data(phi, contrast, offset), T, fourier_order=2)
    assert s.effective == "fourier"
    assert s.names[:5] == ("contrast_c0", "contrast_a1", "contrast_b1", "contrast_a2",
                           "contrast_b2")
    theta = np.array([0.3, 0.05, 0.0, 0.0, -0.02, 1.0, 0.0, 0.01, 0.0, 0.0])
    c, o = s.expand(theta)
    np.testing.assert_allclose(c, contrast, atol=1e-14)
    np.testing.assert_allclose(o, offset, atol=1e-14)
    assert s.lower[1] == -1.0 and s.upper[1] == 1.0  # ± width of the contrast bounds


def test_fourier_falls_back_to_individual_with_few_angles():
    s = angle_scaling("fourier", PHI5[:4], _data(PHI5[:4], CONTRAST[:4], OFFSET[:4]), T,
                      fourier_order=2)
    assert s.requested == "fourier"
    assert s.effective == "individual"


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="per_angle_mode 'global'"):
        angle_scaling("global", PHI5, _data(), T)
