"""Model-free views (homodyne.twotime) and bad-frame masks (frames_exclude)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import DATA

from homodyne import twotime
from homodyne.config import AnalysisConfig, CMCConfig, NLSQConfig
from homodyne.data import Provenance, XPCSData, exclude_frames, read_xpcs, write_xpcs
from homodyne.data.preprocess import excluded_frames
from homodyne.errors import ConfigError
from homodyne.nlsq import fit
from homodyne.physics import compute_c2
from homodyne.problem import build_problem

Q, DT = 0.005, 0.1


def _noisy(c2: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise on the upper triangle, mirrored (as ``homodyne simulate`` does)."""
    noise = np.triu(np.random.default_rng(seed).normal(0.0, sigma, c2.shape), 1)
    return c2 + noise + np.swapaxes(noise, -1, -2)


def _static(n: int, alpha: float, d0: float = 2.0e3, d_offset: float = 0.0,
            contrast: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    t = DT * np.arange(1, n + 1, dtype=np.float64)
    c2 = np.asarray(compute_c2("static", [d0, alpha, d_offset], t, [0.0], q=Q, dt=DT,
                               contrast=contrast, offset=1.0))
    return t, c2


def test_one_time_g2_equals_the_closed_form_to_noise_level():
    """Stationary diffusion (alpha = 0): g2(τ) = 1 + β·exp(−q²Dτ) at every lag."""
    n, d, sigma = 60, 2.0e3, 0.01
    _, c2 = _static(n, 0.0, d0=d)
    tau, g2, err, count = twotime.one_time_from_two_time(_noisy(c2, sigma, 3), None, DT)
    closed = 1.0 + 0.3 * np.exp(-Q**2 * d * tau)
    assert np.allclose(tau, DT * np.arange(1, n))
    assert np.array_equal(count, np.arange(n - 1, 0, -1))
    z = (g2[0] - closed)[:-1] / err[0][:-1]  # the last lag has one pair: no error
    assert np.max(np.abs(z)) < 4.5
    assert 0.6 < np.mean(z**2) < 1.5
    assert np.isnan(err[0, -1])
    # The noiseless model reduced the same way is the closed form to rounding.
    _, exact, _, _ = twotime.one_time_from_two_time(c2[0], None, DT)
    np.testing.assert_allclose(exact, closed, rtol=1e-9)


def test_standard_error_matches_the_scatter_over_noise_seeds():
    n, sigma, seeds = 30, 0.02, 300
    _, c2 = _static(n, 0.0)
    runs = [twotime.one_time_from_two_time(_noisy(c2[0], sigma, s), None, DT)
            for s in range(seeds)]
    g2 = np.array([r[1] for r in runs])
    err = np.array([r[2] for r in runs])
    lags = slice(0, n // 2)  # lags with at least n/2 pairs
    ratio = np.mean(err[:, lags], axis=0) / np.std(g2[:, lags], axis=0, ddof=1)
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    assert abs(np.mean(ratio) - 1) < 0.04


def test_masked_pairs_are_left_out_of_the_average():
    rng = np.random.default_rng(0)
    c2 = rng.normal(1.0, 0.1, (2, 12, 12))
    keep = np.ones((12, 12), dtype=bool)
    keep[4, :] = keep[:, 4] = False
    c2_bad = c2.copy()
    c2_bad[:, 4, :] = c2_bad[:, :, 4] = 50.0
    _, g2, _, count = twotime.one_time_from_two_time(c2_bad, keep, DT)
    i, j = np.triu_indices(12, 1)
    for k in (1, 3, 7):
        pairs = [(a, b) for a, b in zip(i, j, strict=True) if b - a == k and 4 not in (a, b)]
        expected = np.mean([c2[:, a, b] for a, b in pairs], axis=0)
        np.testing.assert_allclose(g2[:, k - 1], expected, rtol=1e-12)
        assert count[k - 1] == len(pairs)


def _decay_times(alpha: float, d0: float, seed: int):
    n, windows = 100, 4
    t, c2 = _static(n, alpha, d0=d0)
    keep = np.ones((n, n), dtype=bool)
    data = twotime.ageing(_noisy(c2, 0.005, seed), keep, t, DT, windows)
    model = twotime.ageing(c2, keep, t, DT, windows)
    return data, model


def test_ageing_decay_time_rises_with_age_for_alpha_minus_half_and_is_flat_for_zero():
    slowing, model = _decay_times(-0.5, 8.0e4, 1)
    tau_d = slowing.decay_time[0]
    assert np.all(np.isfinite(tau_d)), slowing.reason
    assert np.all(np.diff(tau_d) > 0), tau_d
    assert tau_d[-1] > 1.5 * tau_d[0]
    np.testing.assert_allclose(tau_d, model.decay_time[0], rtol=0.08)  # as the model says
    # D(t) = D0·t^alpha: the local decay time 1/(q²D) grows as age^0.5.
    local = 1.0 / (Q**2 * 8.0e4 * slowing.age ** -0.5)
    np.testing.assert_allclose(tau_d[1:], local[1:], rtol=0.15)

    flat, _ = _decay_times(0.0, 4.0e4, 2)
    tau_0 = flat.decay_time[0]
    assert np.all(np.isfinite(tau_0)), flat.reason
    np.testing.assert_allclose(tau_0, 1.0 / (Q**2 * 4.0e4), rtol=0.05)  # closed form
    assert np.ptp(tau_0) / np.mean(tau_0) < 0.06


def test_an_undefined_decay_time_is_nan_with_a_reason():
    tau = DT * np.arange(1, 6)
    value, reason = twotime.decay_time(tau, np.full(5, 1.2), 1.0)
    assert math.isnan(value) and "does not fall to 1/e" in reason
    value, reason = twotime.decay_time(tau, np.full(5, 0.99), 1.0)
    assert math.isnan(value) and "no correlation above the baseline" in reason
    value, reason = twotime.decay_time(tau, np.array([np.nan] * 4 + [1.1]), 1.0)
    assert math.isnan(value) and "fewer than two lags" in reason
    lags = DT * np.arange(1, 40)
    value, reason = twotime.decay_time(lags, 1.0 + np.exp(-lags / 0.9), 1.0)
    assert reason == "" and abs(value - 0.9) < 0.01


def test_chx_one_time_equals_a_plain_numpy_diagonal_average():
    c2 = np.load(DATA / "real" / "chx_two_time.npy")
    n = c2.shape[0]
    _, g2, err, _ = twotime.one_time_from_two_time(c2, None, DT)
    plain = np.array([np.mean(np.diagonal(c2, k)) for k in range(1, n)])
    spread = np.array([np.std(np.diagonal(c2, k), ddof=1) / math.sqrt(n - k)
                       for k in range(1, n - 1)])
    np.testing.assert_allclose(g2, plain, rtol=1e-13)
    np.testing.assert_allclose(err[:-1], spread, rtol=1e-10)
    assert twotime.candidate_bad_frames(c2[None]) == []  # a clean measurement: no suggestion


def test_bad_frames_are_suggested_where_glitches_were_injected():
    n = 120
    _, c2 = _static(n, -0.3, contrast=0.2)
    c2 = _noisy(np.repeat(c2, 3, axis=0), 0.01, 5)
    c2[:, 40:43, :] *= 0.9  # a beam dump: three frames of low correlation
    c2[:, :, 40:43] *= 0.9
    c2[1, 90, :] += 0.1  # a detector glitch in one angle
    c2[1, :, 90] += 0.1
    runs = twotime.candidate_bad_frames(c2)
    assert [(a, b) for a, b, _ in runs] == [(40, 42), (90, 90)]
    excluded = np.zeros(n, dtype=bool)
    excluded[40:43] = True
    assert [(a, b) for a, b, _ in twotime.candidate_bad_frames(c2, excluded)] == [(90, 90)]


def test_frames_exclude_numbers_frames_as_the_file_does():
    # Window 11..40 of the file: frame 11 (t = 0) is dropped, fitted frame 0 is file frame 12.
    excluded = excluded_frames([[12, 13], [40, 45]], (11, 40))
    assert excluded.shape == (29,)
    assert np.flatnonzero(excluded).tolist() == [0, 1, 28]
    with pytest.raises(ConfigError, match=r"frames_exclude range \[50, 60\] lies outside"):
        excluded_frames([[50, 60]], (11, 40))
    with pytest.raises(ConfigError, match="leaves 4 of 29 frames"):
        excluded_frames([[12, 36]], (11, 40))


def _dataset(c2, t, excluded=None, sigma=0.01) -> XPCSData:
    data = XPCSData(q=Q, phi=np.array([0.0]), t=t, dt=DT, c2=c2,
                    sigma=np.array([sigma]), provenance=Provenance(frames=(1, len(t) + 1)))
    return data if excluded is None else replace(data, excluded=excluded)


def test_excluded_frames_survive_the_intermediate_file_and_leave_the_problem(tmp_path):
    t, c2 = _static(20, 0.0)
    data = exclude_frames(_dataset(c2, t), [[6, 8]])  # fitted frames 4, 5, 6
    back = read_xpcs(write_xpcs(tmp_path / "f.h5", data))
    assert np.flatnonzero(~back.frame_ok).tolist() == [4, 5, 6]
    analysis = AnalysisConfig(mode="static", dt=DT)
    full, masked = build_problem(_dataset(c2, t), analysis), build_problem(back, analysis)
    assert full.n_points == 190 and masked.n_points == 190 - (3 * 19 - 3)
    used = {(int(i), int(j)) for i, j in zip(masked.ia[masked.mask], masked.ja[masked.mask],
                                             strict=True)}
    assert not any({i, j} & {4, 5, 6} for i, j in used)
    np.testing.assert_array_equal(masked.t, t)  # the model still runs over every frame


def test_a_shard_carries_the_mask(tmp_path):
    from types import SimpleNamespace

    from homodyne.cmc import make_shards
    from homodyne.cmc.shard import merged_problem, read_shard

    t, c2 = _static(24, 0.0)
    data = replace(_dataset(_noisy(c2, 0.01, 1), t), excluded=np.arange(24) == 10)
    analysis = AnalysisConfig(mode="static", dt=DT)
    problem = build_problem(data, analysis)
    estimate = SimpleNamespace(names=problem.names, values=problem.start, free=problem.free,
                               uncertainties=0.1 * np.abs(problem.start) + 1e-3,
                               covariance=None, per_angle_effective=problem.scaling.effective)
    paths = make_shards(data, estimate, CMCConfig(shards=2), tmp_path, analysis=analysis)
    merged = merged_problem([read_shard(p) for p in paths])
    assert merged.n_points == problem.n_points == 276 - 23
    assert not np.any(merged.mask & ((merged.ia == 10) | (merged.ja == 10)))


def test_a_masked_frame_range_keeps_a_clean_fit_and_removes_the_bias_of_glitches():
    n, truth = 40, {"D0": 2.0e4, "alpha": -0.3}
    t, c2 = _static(n, truth["alpha"], d0=truth["D0"], d_offset=10.0)
    clean = _noisy(c2, 0.005, 11)
    excluded = np.zeros(n, dtype=bool)
    excluded[15:20] = True
    analysis = AnalysisConfig(mode="static", dt=DT, fixed=("D_offset",),
                              initial={"D_offset": 10.0, "D0": 1.0e4})

    def fitted(c2, mask=None):
        r = fit(_dataset(c2, t, mask, sigma=0.005), analysis, NLSQConfig(strategy="chunked"))
        assert r.success, r.message
        return {n: (v, s) for n, v, s in zip(r.names, r.values, r.uncertainties, strict=True)}

    full, masked = fitted(clean), fitted(clean, excluded)
    for name in truth:
        (a, sa), (b, sb) = full[name], masked[name]
        assert abs(a - b) < 2 * max(sa, sb), (name, a, b, sa, sb)

    glitched = clean.copy()  # a beam dump: frames 15-19 lost their speckle correlation
    lost = _noisy(np.ones_like(c2), 0.005, 12)
    glitched[:, 15:20, :], glitched[:, :, 15:20] = lost[:, 15:20, :], lost[:, :, 15:20]
    biased, repaired = fitted(glitched), fitted(glitched, excluded)
    assert max(abs(biased[k][0] - v) / full[k][1] for k, v in truth.items()) > 5
    for name, value in truth.items():
        v, s = repaired[name]
        assert abs(v - value) < 3 * s, (name, v, s)


def test_validate_suggests_bad_frames_and_checks_the_ranges(tmp_path):
    import h5py

    from homodyne.data import simulate
    from homodyne.validate import validate_data

    path = simulate(tmp_path / "g.h5", mode="static", params={"D0": 2e4, "alpha": -0.3},
                    phi=[0.0, 45.0], n_frames=60, dt=DT, q=Q, noise=0.01, seed=1)
    with h5py.File(path, "r+") as fh:  # file frames 31-33 (1-based) lose their correlation
        for matrix in fh["xpcs/twotime/correlation_map"].values():
            m = matrix[()]
            m[30:33, :] = m[:, 30:33] = 1.0
            matrix[...] = m
    entry = {"file": str(path), "q": Q}
    config = {"analysis": {"mode": "static", "dt": DT}, "datasets": [
        {"name": "raw", **entry},
        {"name": "masked", **entry, "frames_exclude": [[31, 33]]},
        {"name": "stale", **entry, "frames": [1, 20], "frames_exclude": [[31, 33]]}]}
    report = validate_data(config)
    suggestions = [w for w in report.warnings if "frames_exclude: [[31, 33]]" in w]
    assert len(suggestions) == 1 and suggestions[0].startswith("datasets[0] (raw)")
    assert report.problems == ("datasets[2].frames_exclude: " + str(path) +
                               ": frames_exclude range [31, 33] lies outside the fitted "
                               "frames 2..20; remove it or fix the numbers",)
    raw, masked = report.datasets[:2]
    assert raw.n_points - masked.n_points == 2 * (3 * 58 - 3)


def test_the_view_figures_and_greyed_pairs():
    from homodyne.plots.c2 import masked
    from homodyne.plots.twotime import ageing_figure, one_time_figure

    t, c2 = _static(30, -0.5, d0=8.0e4)
    c2 = np.repeat(c2, 3, axis=0)
    keep = np.ones((30, 30), dtype=bool)
    tau, g2, err, _ = twotime.one_time_from_two_time(c2, keep, DT)
    fig = one_time_figure(tau, [0.0, 45.0, 90.0], g2, err, g2, title="t")
    assert sum(ax.get_visible() for ax in fig.axes) == 3
    assert fig.axes[0].get_xscale() == "log"
    a = twotime.ageing(c2, keep, t, DT, 3)
    a_decay = a.decay_time.copy()
    a_decay[1, 0] = np.nan
    fig = ageing_figure(a.age, a.edges, [0.0, 45.0, 90.0], a_decay, a.decay_time, title="t")
    assert "1 undefined" in fig.axes[1].get_title()
    excluded = np.arange(30) == 7
    grey = masked(c2, excluded)
    assert np.isnan(grey[:, 7, :]).all() and np.isnan(grey[:, :, 7]).all()
    assert np.isfinite(np.delete(np.delete(grey, 7, axis=1), 7, axis=2)).all()
