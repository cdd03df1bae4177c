"""The consensus self-check (PSIS against the full data) and the NLSQ starting mass matrix,
on small static data without long NUTS runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import homodyne.cmc.sample as sample_module
from homodyne.cmc import make_shards, read_shard, sample_shard
from homodyne.cmc.check import K_HAT_LIMIT, full_log_posterior, self_check
from homodyne.cmc.model import coordinates, inverse_mass_matrix
from homodyne.config import AnalysisConfig, CMCConfig, NLSQConfig
from homodyne.data import load, simulate
from homodyne.nlsq import fit

K = 4


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """3 angles × 60 frames of static data (5,133 points), its NLSQ fit and K shards."""
    folder = tmp_path_factory.mktemp("check")
    path = simulate(folder / "s.h5", mode="static",
                    params={"D0": 1e4, "alpha": -0.5, "D_offset": 10.0},
                    phi=[-30.0, 0.0, 30.0], n_frames=60, dt=0.1, q=0.008, contrast=0.3,
                    noise=0.005, seed=11)
    data = load(path, q=0.008, dt=0.1)
    analysis = AnalysisConfig(mode="static", dt=0.1)
    result = fit(data, analysis, NLSQConfig())
    cfg = CMCConfig(shards=K, sample_sigma=False)
    shards = [read_shard(p) for p in make_shards(data, result, cfg, folder / "shards",
                                                 analysis=analysis)]
    return data, analysis, result, shards


def _laplace_draws(result, shift_sd=0.0, widen=1.0, n=4000, seed=0):
    """Draws ``(4, n/4, d)`` of the Gaussian at the NLSQ optimum with its covariance (the
    full-data posterior of a near-Gaussian problem), optionally widened and shifted by
    ``shift_sd`` posterior sds of D0 (the others moved with it along their correlation, so
    the shift is ``shift_sd`` in Mahalanobis distance too)."""
    free = result.free
    full_cov = result.covariance[np.ix_(free, free)]
    mean = result.values[free] + shift_sd * full_cov[:, 0] / np.sqrt(full_cov[0, 0])
    cov = full_cov * widen**2
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=(4, n // 4))


def test_full_log_posterior_is_the_sum_of_the_shard_likelihoods(fitted):
    _, _, result, shards = fitted
    names = shards[0].problem.free_names
    x = result.values[result.free][None]
    one = full_log_posterior(shards, names)(x)
    halves = [full_log_posterior([s], names)(x) for s in shards]
    prior = sum(-0.5 * ((x[0] - shards[0].prior_loc[result.free])
                        / shards[0].prior_scale_untempered[result.free]) ** 2)
    np.testing.assert_allclose(one - prior, sum(h - prior for h in halves), rtol=1e-12)
    assert full_log_posterior(shards, names)(x - 1e9)[0] == -np.inf  # outside the bounds


def test_k_hat_passes_a_correct_consensus(fitted):
    _, _, result, shards = fitted
    draws = _laplace_draws(result)
    out, check = self_check(draws, shards[0].problem.free_names, shards, seed=1)
    assert check.k_hat < K_HAT_LIMIT and check.reweighted
    assert check.ess > 0.5 * check.n_draws
    assert out.shape == draws.shape


def test_k_hat_flags_a_wrong_consensus(fitted, caplog):
    _, _, result, shards = fitted
    draws = _laplace_draws(result, shift_sd=4.0)
    out, check = self_check(draws, shards[0].problem.free_names, shards, seed=1)
    assert check.k_hat >= K_HAT_LIMIT and not check.reweighted
    assert "not a trustworthy posterior" in check.message and "cmc.shards: 1" in check.message
    assert "not a trustworthy posterior" in caplog.text
    np.testing.assert_array_equal(out, draws)  # kept, and said to be untrustworthy


def test_reweighting_moves_a_biased_consensus_towards_the_posterior(fitted):
    _, _, result, shards = fitted
    draws = _laplace_draws(result, shift_sd=0.7, widen=1.4)
    out, check = self_check(draws, shards[0].problem.free_names, shards, seed=1)
    assert check.reweighted, check.message
    sd = np.sqrt(result.covariance[0, 0])
    before = abs(draws[..., 0].mean() - result.values[0]) / sd
    after = abs(out[..., 0].mean() - result.values[0]) / sd
    assert before > 0.6 and after < 0.25, (before, after)
    assert abs(out[..., 0].std() / sd - 1.0) < 0.15  # and narrows the widened draws back


def test_starting_mass_matrix_is_the_nlsq_covariance_in_sampler_units(fitted):
    _, _, result, shards = fitted
    shard = shards[0]
    free = shard.problem.free
    _, h, _, _ = coordinates(shard)
    cov = result.covariance[np.ix_(free, free)] * K / np.outer(h, h)
    expected = np.linalg.inv(np.linalg.inv(cov) + np.diag((h / shard.prior_scale[free]) ** 2))
    np.testing.assert_allclose(inverse_mass_matrix(shard, False, True), expected, rtol=1e-10)
    with_noise = inverse_mass_matrix(shard, True, True)
    assert with_noise.shape == (len(h) + 1,) * 2 and with_noise[-1, -1] == 1.0
    np.testing.assert_allclose(inverse_mass_matrix(shard, False, False), np.diag(expected))
    corr = expected / np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    assert np.max(np.abs(corr - np.eye(len(h)))) > 0.5  # D0/alpha/D_offset correlated


def test_nuts_starts_from_the_nlsq_mass_matrix(fitted, tmp_path, monkeypatch):
    _, analysis, result, _ = fitted
    data = fitted[0]
    cfg = CMCConfig(shards=1, chains=1, warmup=3, samples=3, sample_sigma=False)
    (path,) = make_shards(data, result, cfg, tmp_path / "one", analysis=analysis)
    seen = []
    real_hmc = sample_module.hmc

    def spying_hmc(*args, **kwargs):
        init_kernel, sample_kernel = real_hmc(*args, **kwargs)

        def init(*a, **kw):
            seen.append((np.asarray(kw["inverse_mass_matrix"]), kw["adapt_mass_matrix"]))
            return init_kernel(*a, **kw)

        return init, sample_kernel

    monkeypatch.setattr(sample_module, "hmc", spying_hmc)
    sample_shard(path, cfg, tmp_path / "posterior.nc")
    ((used, adapted),) = seen
    np.testing.assert_allclose(used, inverse_mass_matrix(read_shard(path), False, True))
    assert adapted is False  # kept: short warmup windows only made it worse


def test_without_a_usable_nlsq_covariance_nuts_starts_from_the_identity(fitted):
    shard = fitted[3][0]
    bad = replace(shard, nlsq_covariance=np.full_like(shard.nlsq_covariance, np.nan))
    assert inverse_mass_matrix(bad, True, True) is None
    singular = replace(shard, nlsq_covariance=np.zeros_like(shard.nlsq_covariance))
    assert inverse_mass_matrix(singular, True, True) is None


def test_chains_start_overdispersed_around_the_nlsq_values(fitted):
    from homodyne.cmc.model import OVERDISPERSION, initial_values, soft_clip

    shard = fitted[3][0]
    starts = initial_values(shard, True, chains=4, seed=7)
    n = len(shard.problem.free_names)
    assert starts["u"].shape == (4, n) and starts["w"].shape == (4,)
    _, _, a, b = coordinates(shard)
    z = np.asarray(soft_clip(starts["u"], a, b)[0])
    np.testing.assert_allclose(z[0], 0.0, atol=1e-9)  # chain 0: the NLSQ values
    assert starts["w"][0] == 0.0
    # the others: OVERDISPERSION expected posterior sds away on average (Mahalanobis)
    cov = inverse_mass_matrix(shard, True, True)
    steps = np.column_stack([starts["u"], starts["w"]])[1:] - np.append(starts["u"][0], 0.0)
    distance = np.sqrt(np.einsum("ci,ij,cj->c", steps, np.linalg.inv(cov), steps) / (n + 1))
    assert np.all((distance > 0.3 * OVERDISPERSION) & (distance < 3 * OVERDISPERSION))
    again = initial_values(shard, True, chains=4, seed=7)
    np.testing.assert_array_equal(again["u"], starts["u"])


def test_posterior_mode_check_sees_a_posterior_away_from_the_nlsq_optimum(fitted):
    from homodyne.cmc.check import posterior_mode

    _, _, result, shards = fitted
    names = shards[0].problem.free_names
    centred = posterior_mode(_laplace_draws(result), names, shards)
    assert centred["chi2_nlsq"] == pytest.approx(result.chi2, rel=1e-9)
    assert abs(centred["delta"]) < 1.0
    away = posterior_mode(_laplace_draws(result, shift_sd=8.0), names, shards)
    assert away["delta"] > 25.0  # 8 sd along D0: about 64 χ² units worse
