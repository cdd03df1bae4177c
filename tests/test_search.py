"""The global search's pure parts (homodyne.search) and the data-driven start
(homodyne.initial), against closed forms and simulated data whose truth they never see."""

from __future__ import annotations

import math

import numpy as np
import pytest

from homodyne import params as registry
from homodyne import search
from homodyne.data import load, simulate
from homodyne.initial import data_start, phase_for, shear_decay

NAMES = registry.names("laminar_flow")
LO, HI = (np.array(b, dtype=float) for b in registry.bounds("laminar_flow"))
CONFIGURED = np.array(registry.defaults("laminar_flow"))
CENTER = {"D0": 2e4, "alpha": -0.4, "D_offset": 0.0, "gamma_dot_t0": 3e-3, "beta": 0.1,
          "gamma_dot_t_offset": 0.0, "phi0": 20.0}


def test_starts_begin_with_the_configured_and_the_data_driven_values():
    starts = search.draw_starts(NAMES, CONFIGURED, CENTER, LO, HI, [True] * 7, 10.0,
                                local=6, extra=2, seed=3)
    assert len(starts) == 2 + 6 + 2
    np.testing.assert_allclose(starts[0], CONFIGURED, rtol=1e-5)
    np.testing.assert_allclose(starts[1], [CENTER[n] for n in NAMES], rtol=1e-5, atol=1e-9)
    for x in starts:
        assert np.all((x > LO) & (x < HI))
    again = search.draw_starts(NAMES, CONFIGURED, CENTER, LO, HI, [True] * 7, 10.0,
                               local=6, extra=2, seed=3)
    np.testing.assert_array_equal(np.array(starts), np.array(again))


def test_local_starts_keep_the_rates_at_mid_window_within_the_factor():
    starts = search.draw_starts(NAMES, CONFIGURED, CENTER, LO, HI, [True] * 7, 10.0,
                                local=40, seed=1)[2:]
    d_mid = np.array([x[0] * 10.0 ** x[1] for x in starts])
    center = CENTER["D0"] * 10.0 ** CENTER["alpha"]
    assert np.all(np.abs(np.log(d_mid / center)) <= math.log(search.RATE_FACTOR) + 1e-9)
    assert np.ptp(d_mid) > 0  # they do spread
    alpha = np.array([x[1] for x in starts])
    assert np.all(np.abs(alpha - CENTER["alpha"]) <= search.EXPONENT_SPREAD + 1e-12)


def test_fixed_parameters_keep_their_configured_value_in_every_start():
    free = [n != "phi0" for n in NAMES]
    configured = CONFIGURED.copy()
    configured[NAMES.index("phi0")] = 7.5
    for x in search.draw_starts(NAMES, configured, CENTER, LO, HI, free, 10.0, local=5,
                                extra=3, seed=0):
        assert x[NAMES.index("phi0")] == 7.5


def test_distinct_groups_points_within_their_sigma_best_first():
    sigma = np.array([1.0, 0.1])
    points = [np.array([0.0, 0.0]), np.array([0.5, 0.05]), np.array([10.0, 0.0]),
              np.array([0.2, 5.0])]
    costs = [3.0, 2.0, 1.0, 4.0]
    assert search.distinct(points, costs, sigma) == [2, 1, 3]
    # a coordinate without a finite σ does not separate points
    assert search.distinct(points[:2], costs[:2], np.array([np.inf, 0.1])) == [1]


def _per_angle(values_c, values_o, sd, rng):
    theta = np.concatenate([values_c, values_o])
    cov = np.diag(np.full(theta.size, sd**2))
    return theta + rng.normal(0, sd, theta.size), cov


@pytest.mark.parametrize(("form", "expected"), [("constant", "shared"), ("smooth", "fourier"),
                                                ("scattered", "individual")])
def test_scaling_choice_follows_how_the_contrast_varies(form, expected):
    rng = np.random.default_rng(5)
    phi = np.sort(rng.uniform(-180, 180, 12))
    rad = np.radians(phi)
    contrast = {"constant": np.full(12, 0.3),
                "smooth": 0.3 + 0.03 * np.cos(rad) - 0.02 * np.sin(2 * rad),
                "scattered": 0.3 * (1 + rng.normal(0, 0.05, 12))}[form]
    theta, cov = _per_angle(contrast, np.full(12, 1.0), 1e-3, rng)
    chosen, why = search.choose_scaling(theta, cov, phi, fourier_order=2)
    assert chosen == expected, why
    assert "χ²" in why


def test_scaling_choice_is_individual_when_values_are_undetermined():
    theta = np.concatenate([np.full(4, 0.3), np.full(4, 1.0)])
    cov = np.eye(8) * 1e-6
    cov[0, 0] = np.inf
    assert search.choose_scaling(theta, cov, [0, 40, 90, 130], 1)[0] == "individual"


def test_shear_decay_and_its_inverse():
    phase = np.array([0.0, 1e-7, 0.3, 1.0, 2.5])
    share = shear_decay(phase)
    assert share[0] == 0.0
    np.testing.assert_allclose(share[2:], -4 * np.log(np.sin(phase[2:]) / phase[2:]))
    np.testing.assert_allclose(phase_for(share[2:]), phase[2:], rtol=1e-9)
    assert phase_for(np.array([-0.5]))[0] == 0.0


def test_data_start_reads_diffusion_and_ageing_off_static_data(tmp_path):
    truth = {"D0": 3e4, "alpha": -0.4, "D_offset": 0.0}
    path = simulate(tmp_path / "s.h5", mode="static", params=truth, phi=[0.0, 90.0],
                    n_frames=200, dt=0.05, q=0.006, contrast=0.25, noise=0.005, seed=2)
    start = data_start(load(path, q=0.006, dt=0.05), "static", 2e6)
    t_mid = 5.0
    d_mid = start["D0"] * t_mid ** start["alpha"]
    assert abs(math.log(d_mid / (truth["D0"] * t_mid ** truth["alpha"]))) < math.log(1.3)
    assert abs(start["alpha"] - truth["alpha"]) < 0.2
    assert start["D_offset"] == 0.0


def test_data_start_finds_the_flow_direction_and_shear_rate(tmp_path):
    truth = {"D0": 2e4, "alpha": 0.0, "D_offset": 0.0, "gamma_dot_t0": 2e-3, "beta": 0.0,
             "gamma_dot_t_offset": 0.0, "phi0": -22.0}
    phi = [-170.0, -120.0, -75.0, -40.0, -10.0, 15.0, 60.0, 100.0]  # asymmetric, with gaps
    path = simulate(tmp_path / "l.h5", mode="laminar_flow", params=truth, phi=phi,
                    n_frames=150, dt=0.05, q=0.006, contrast=0.25, noise=0.005, seed=4)
    start = data_start(load(path, q=0.006, dt=0.05), "laminar_flow", 2e6)
    gap = (start["phi0"] - truth["phi0"] + 90.0) % 180.0 - 90.0  # phi0 has period 180°
    assert abs(gap) < 8.0
    assert abs(math.log(start["gamma_dot_t0"] / truth["gamma_dot_t0"])) < math.log(1.5)
    assert abs(math.log(start["D0"] / truth["D0"])) < math.log(1.5)


def test_data_start_gives_nothing_for_other_models(tmp_path):
    path = simulate(tmp_path / "s.h5", mode="static", phi=[0.0], n_frames=50, dt=0.1,
                    q=0.0054, seed=1)
    assert data_start(load(path, q=0.0054, dt=0.1), "heterodyne", 2e6) == {}
