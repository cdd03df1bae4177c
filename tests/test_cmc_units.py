"""CMC pieces without NUTS: consensus formula, sharding, priors, config, combine rules, files."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from homodyne import layout
from homodyne.cmc import (
    ConsensusResult,
    NLSQEstimate,
    combine,
    consensus_draws,
    make_shards,
    read_nlsq_estimate,
    read_shard,
)
from homodyne.cmc.diagnostics import ZERO_MEAN_SDS, heterogeneity, posterior_table
from homodyne.cmc.model import soft_clip, soft_clip_inverse
from homodyne.cmc.priors import prior_scale, temper
from homodyne.cmc.sample import posterior_tree, write_tree
from homodyne.cmc.shard import interleaved_rows, shard_seed
from homodyne.config import AnalysisConfig, CMCConfig, parse_config
from homodyne.data import load, simulate
from homodyne.errors import ConfigError, DataFormatError, FitError
from homodyne.problem import AUTO_MAX_POINTS, build_problem, resolve_shards
from homodyne.results import write_cmc

NAMES = ("D0", "alpha", "contrast")


def _gaussian_draws(rng, mean, cov, chains=4, draws=4000):
    return rng.multivariate_normal(mean, cov, size=(chains, draws))


def _cov(sds, corr):
    return np.asarray(corr) * np.outer(sds, sds)


# ------------------------------------------------------------------ consensus formula

def test_consensus_of_gaussian_shards_is_their_product():
    """Gaussian shards: the consensus is the normalised product, correlations included."""
    rng = np.random.default_rng(0)
    corr = [[1.0, 0.8, -0.3], [0.8, 1.0, -0.5], [-0.3, -0.5, 1.0]]
    means = [np.array([1e4, -0.5, 0.3]) + rng.normal(0, [200, 0.02, 0.002]) for _ in range(4)]
    covs = [_cov(np.array([300.0, 0.03, 0.004]) * f, corr) for f in (1.0, 1.3, 0.8, 1.1)]
    shards = [_gaussian_draws(rng, m, c) for m, c in zip(means, covs, strict=True)]
    combined = consensus_draws(shards)
    assert combined.shape == shards[0].shape
    precision = sum(np.linalg.inv(c) for c in covs)
    cov = np.linalg.inv(precision)
    mean = cov @ sum(np.linalg.inv(c) @ m for m, c in zip(means, covs, strict=True))
    flat = combined.reshape(-1, 3)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose((flat.mean(axis=0) - mean) / sd, 0.0, atol=0.05)
    np.testing.assert_allclose(np.cov(flat, rowvar=False) / np.outer(sd, sd),
                               cov / np.outer(sd, sd), atol=0.03)


def test_consensus_is_the_scott_formula_draw_by_draw():
    """Draw (c, d) is (Σ W_s)⁻¹ Σ W_s θ_s[c, d] with W_s from all chains pooled."""
    rng = np.random.default_rng(1)
    shards = [_gaussian_draws(rng, [1.0, 2.0], _cov([0.1 * k, 0.2], [[1, 0.5], [0.5, 1]]),
                              chains=3, draws=50) for k in (1, 2, 3)]
    weights = [np.linalg.inv(np.cov(s.reshape(-1, 2), rowvar=False)) for s in shards]
    expected = np.einsum("ij,cdj->cdi", np.linalg.inv(sum(weights)),
                         sum(np.einsum("ij,cdj->cdi", w, s)
                             for w, s in zip(weights, shards, strict=True)))
    np.testing.assert_allclose(consensus_draws(shards), expected, rtol=1e-10)


def test_single_shard_consensus_is_the_shard():
    draws = np.random.default_rng(2).normal(size=(2, 30, 3))
    np.testing.assert_allclose(consensus_draws([draws]), draws, rtol=1e-12)


# ------------------------------------------------------------------------ priors

def test_prior_width_is_clipped_to_one_and_fifty_percent_of_the_range():
    lower, upper = np.array([0.0, 0.0, 0.0, 0.0, -2.0]), np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    sigma = np.array([1e-6, 0.02, 10.0, np.inf, np.nan])
    scale = prior_scale(sigma, lower, upper, prior_width=5.0)
    np.testing.assert_allclose(scale, [0.01, 0.1, 0.5, 0.5, 2.0])


def test_tempering_widens_by_sqrt_k():
    np.testing.assert_allclose(temper([0.1, 2.0], 9), [0.3, 6.0])
    np.testing.assert_allclose(temper([0.1], 1), [0.1])


def test_read_nlsq_estimate(tmp_path):
    path = tmp_path / "nlsq_results.json"
    path.write_text(json.dumps({"parameters": {
        "D0": {"value": 1e4, "uncertainty": 30.0, "fixed": False},
        "alpha": {"value": -0.5, "uncertainty": None, "fixed": False},
        "D_offset": {"value": 10.0, "uncertainty": 0.0, "fixed": True}},
        "per_angle_effective": "shared"}))
    est = read_nlsq_estimate(path)
    assert est.names == ("D0", "alpha", "D_offset") and est.per_angle_effective == "shared"
    np.testing.assert_array_equal(est.values, [1e4, -0.5, 10.0])
    assert est.uncertainties[1] == math.inf
    np.testing.assert_array_equal(est.free, [True, True, False])
    with pytest.raises(FitError, match="cannot read NLSQ parameters"):
        read_nlsq_estimate(tmp_path / "missing.json")


# ------------------------------------------------------------------------ sharding

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """3 angles × 30 frames of static data, its problem and an NLSQ-like estimate."""
    folder = tmp_path_factory.mktemp("small")
    path = simulate(folder / "s.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
                    phi=[-30.0, 0.0, 30.0], n_frames=30, dt=0.1, q=0.008, noise=0.01, seed=5)
    data = load(path, q=0.008, dt=0.1)
    analysis = AnalysisConfig(mode="static", dt=0.1, fixed=("D_offset",))
    problem = build_problem(data, analysis)
    sd = np.where(problem.free, 0.01 * problem.start, 0.0)
    estimate = NLSQEstimate(names=problem.names, values=problem.start, uncertainties=sd,
                            free=problem.free, covariance=np.diag(sd**2),
                            per_angle_effective=problem.scaling.effective)
    return data, analysis, problem, estimate


def _pairs(shard):
    p = shard.problem
    return set(zip(p.ia[p.mask].tolist(), p.ja[p.mask].tolist(), strict=True))


def test_shards_are_interleaved_dense_blocks_using_every_point_once(small, tmp_path):
    data, analysis, problem, estimate = small
    cfg = CMCConfig(shards=4, seed=7)
    paths = make_shards(data, estimate, cfg, tmp_path, analysis=analysis)
    assert [p.name for p in paths] == [f"shard_{n:03d}.h5" for n in range(4)]
    shards = [read_shard(p) for p in paths]
    pairs = [_pairs(s) for s in shards]
    n_frames = data.n_frames
    assert sum(map(len, pairs)) == n_frames * (n_frames - 1) // 2 == len(set().union(*pairs))
    assert sum(s.n_points for s in shards) == problem.n_points == data.n_points
    rows = [s.problem.ia.shape[0] for s in shards]
    assert max(rows) - min(rows) <= 1 and all(s.pad_to == max(rows) for s in shards)
    for k, s in enumerate(shards):
        np.testing.assert_array_equal(s.problem.ia, problem.ia[k::4])  # strided rows
        assert s.problem.y.shape == (data.n_phi, rows[k], problem.ia.shape[1])  # every angle
        m = s.problem.mask
        np.testing.assert_array_equal(s.problem.y[:, m],
                                      data.c2[:, s.problem.ia[m], s.problem.ja[m]])
        assert s.n_shards == 4 and s.seed == shard_seed(7, s.index)
    assert len({s.seed for s in shards}) == 4


def test_shard_files_carry_the_problem_priors_and_provenance(small, tmp_path):
    data, analysis, problem, estimate = small
    paths = make_shards(data, estimate, CMCConfig(shards=3, prior_width=3.0), tmp_path,
                        analysis=analysis)
    s = read_shard(paths[1])
    k = len(paths)
    p = s.problem
    assert p.mode == "static" and p.names == problem.names and s.index == 1
    assert p.free_names == tuple(n for n in problem.names if n != "D_offset")
    np.testing.assert_array_equal(s.values, estimate.values)  # D_offset stays fixed there
    np.testing.assert_array_equal(s.nlsq_covariance, estimate.covariance)
    np.testing.assert_allclose(s.prior_scale, s.prior_scale_untempered * math.sqrt(k))
    np.testing.assert_allclose(s.prior_scale_untempered, prior_scale(
        estimate.uncertainties, problem.lower, problem.upper, 3.0))
    np.testing.assert_array_equal(s.prior_loc, estimate.values)
    for name in ("sigma", "t", "phi", "start", "lower", "upper", "free"):
        np.testing.assert_array_equal(getattr(p, name), getattr(problem, name))
    assert (p.q, p.dt, p.L) == (data.q, data.dt, analysis.L)
    assert p.scaling.names == problem.scaling.names
    assert s.provenance["sha256"] == data.provenance.sha256
    full = jnp.asarray(estimate.values)
    m = p.mask
    np.testing.assert_allclose(np.asarray(p.model(full, p.ia, p.ja))[:, m],
                               problem.model_matrix(full)[:, p.ia[m], p.ja[m]], rtol=1e-14)


def test_interleaved_rows_and_shard_count():
    parts = interleaved_rows(10, 4)
    assert [p.tolist() for p in parts] == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]
    assert resolve_shards(CMCConfig(shards=1), "laminar_flow", 10**9, 500) == 1
    assert resolve_shards(CMCConfig(), "laminar_flow", AUTO_MAX_POINTS["laminar_flow"], 9) == 1
    assert resolve_shards(CMCConfig(), "laminar_flow",
                          AUTO_MAX_POINTS["laminar_flow"] + 1, 900) == 2
    with pytest.raises(FitError, match="at most 15"):
        resolve_shards(CMCConfig(shards=16), "static", 1000, 15)


def test_fewer_shards_remove_stale_files(small, tmp_path):
    data, analysis, _, estimate = small
    many = make_shards(data, estimate, CMCConfig(shards=5), tmp_path, analysis=analysis)
    few = make_shards(data, estimate, CMCConfig(shards=1), tmp_path, analysis=analysis)
    assert len(many) == 5 and len(few) == 1
    assert sorted(tmp_path.glob("shard_*.h5")) == few
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("per_angle_mode", ["constant", "individual", "fourier"])
def test_shard_round_trip_keeps_the_scaling_layout(small, tmp_path, per_angle_mode):
    data, _, _, _ = small
    analysis = AnalysisConfig(mode="static", dt=0.1, per_angle_mode=per_angle_mode,
                              fourier_order=1)
    problem = build_problem(data, analysis)
    n = len(problem.names)
    estimate = NLSQEstimate(names=problem.names, values=problem.start,
                            uncertainties=np.full(n, np.inf), free=problem.free,
                            covariance=np.full((n, n), np.nan),
                            per_angle_effective=problem.scaling.effective)
    (path,) = make_shards(data, estimate, CMCConfig(shards=1), tmp_path, analysis=analysis)
    s = read_shard(path)
    assert s.problem.scaling.effective == problem.scaling.effective
    assert s.problem.scaling.names == problem.scaling.names
    np.testing.assert_array_equal(s.problem.scaling.basis, problem.scaling.basis)
    np.testing.assert_allclose(s.prior_scale, 0.5 * (problem.upper - problem.lower))
    full = jnp.asarray(problem.start)
    np.testing.assert_allclose(s.problem.model(full, s.problem.ia, s.problem.ja),
                               problem.model(full, problem.ia, problem.ja), rtol=1e-14)


def test_nlsq_result_of_another_config_is_refused(small, tmp_path):
    data, analysis, problem, estimate = small
    other = NLSQEstimate(names=problem.names[:-1], values=estimate.values[:-1],
                         uncertainties=estimate.uncertainties[:-1], free=estimate.free[:-1],
                         covariance=estimate.covariance[:-1, :-1],
                         per_angle_effective=estimate.per_angle_effective)
    with pytest.raises(FitError, match="refit NLSQ with the same config"):
        make_shards(data, other, CMCConfig(), tmp_path, analysis=analysis)
    nan = NLSQEstimate(names=problem.names, values=np.full(len(problem.names), np.nan),
                       uncertainties=estimate.uncertainties, free=estimate.free,
                       covariance=estimate.covariance,
                       per_angle_effective=estimate.per_angle_effective)
    with pytest.raises(FitError, match="not all finite"):
        make_shards(data, nan, CMCConfig(), tmp_path, analysis=analysis)


def test_read_shard_refuses_other_files(tmp_path):
    bad = tmp_path / "shard_000.h5"
    bad.write_bytes(b"not an HDF5 shard" * 8)
    with pytest.raises(DataFormatError, match="not an HDF5 file"):
        read_shard(bad)


# ------------------------------------------------------------------- parameterisation

def test_soft_clip_maps_the_line_onto_the_bounds():
    a, b = np.array([-3.0, -800.0]), np.array([40.0, 900.0])
    u = np.array([[-50.0, -5000.0], [0.0, 0.0], [1.5, -2.0], [60.0, 5000.0]])
    z, log_jac = soft_clip(u, a, b)
    z = np.asarray(z)
    assert np.all((z >= a) & (z <= b))
    np.testing.assert_allclose(z[1:3, 1], u[1:3, 1], atol=1e-12)  # identity far from bounds
    np.testing.assert_allclose(soft_clip_inverse(z[1:3], a, b), u[1:3], rtol=1e-9, atol=1e-9)
    slope = jax.vmap(jax.jacfwd(lambda x: soft_clip(x, a, b)[0]))(jnp.asarray(u[1:3]))
    np.testing.assert_allclose(np.log(np.diagonal(slope, axis1=1, axis2=2)), log_jac[1:3],
                               rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------------- config

def _config(**cmc):
    return {"datasets": [{"name": "a", "file": "a.h5", "q": 0.01}],
            "analysis": {"mode": "static", "dt": 0.1}, "cmc": cmc}


def test_cmc_defaults_and_overrides():
    cfg = parse_config(_config()).datasets[0].cmc
    assert cfg == CMCConfig()
    raw = _config(chains=2.0, shards=5)
    raw["datasets"][0]["cmc"] = {"seed": 3, "sample_sigma": False}
    cfg = parse_config(raw).datasets[0].cmc
    assert cfg.chains == 2 and isinstance(cfg.chains, int)
    assert (cfg.shards, cfg.seed, cfg.sample_sigma) == (5, 3, False)
    assert cfg.shards_per_job == "auto"


@pytest.mark.parametrize(("cmc", "message"), [
    ({"chain": 4}, "cmc.chain: unknown key; did you mean 'chains'?"),
    ({"chains": 0}, "cmc.chains"),
    ({"target_accept": 1.0}, "cmc.target_accept"),
    ({"shards": "big"}, "cmc.shards"),
    ({"shards": 0}, "cmc.shards"),
    ({"points_per_shard": 3000}, "cmc.points_per_shard: unknown key; valid keys here: enable,"),
    ({"shards_per_job": 0}, "cmc.shards_per_job"),
    ({"max_divergence_rate": 1.5}, "cmc.max_divergence_rate"),
    ({"prior_width": 0}, "cmc.prior_width"),
    ({"dense_mass": "yes"}, "cmc.dense_mass"),
])
def test_cmc_config_errors_name_the_key(cmc, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(_config(**cmc))


def test_dataset_cmc_override_is_validated():
    raw = _config()
    raw["datasets"][0]["cmc"] = {"warmup": -1}
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.cmc\.warmup"):
        parse_config(raw)


# ------------------------------------------------------------------- combine rules

def _posterior(path, index, draws, diverging=None, error="", names=NAMES):
    chains, n = draws.shape[:2]
    diverging = np.zeros((chains, n), bool) if diverging is None else diverging
    stats = {"diverging": diverging, "step_size": np.full((chains, n), 0.5)}
    attrs = {"index": index, "n_shards": 4, "n_points": 100, "seconds": 1.0, "seed": index,
             "mode": "static", "error": error, "fixed": json.dumps({"D_offset": 10.0})}
    groups = {"posterior": draws, "sample_stats": stats}
    return write_tree(path, posterior_tree(names, groups, attrs))


@pytest.fixture(scope="module")
def shard_files(small, tmp_path_factory):
    """Four shard files of static data whose free parameters are ``NAMES``."""
    data, _, _, _ = small
    analysis = AnalysisConfig(mode="static", dt=0.1, fixed=("D_offset", "offset"))
    problem = build_problem(data, analysis)
    sd = np.where(problem.free, 0.01 * np.abs(problem.start), 0.0)
    estimate = NLSQEstimate(names=problem.names, values=problem.start, uncertainties=sd,
                            free=problem.free, covariance=np.diag(sd**2),
                            per_angle_effective=problem.scaling.effective)
    assert problem.free_names == NAMES
    return make_shards(data, estimate, CMCConfig(shards=4), tmp_path_factory.mktemp("shards"),
                       analysis=analysis)


@pytest.fixture
def four_shards(tmp_path):
    rng = np.random.default_rng(3)
    cov = _cov([300.0, 0.03, 0.004], [[1, 0.6, 0], [0.6, 1, 0], [0, 0, 1]])
    return [_posterior(tmp_path / f"posterior_{k:03d}.nc", k,
                       _gaussian_draws(rng, [1e4, -0.5, 0.3], cov, chains=2, draws=300))
            for k in range(4)]


def test_combine_keeps_chains_and_reports_every_shard(shard_files, four_shards):
    result = combine(four_shards, CMCConfig(), shard_files)
    assert result.names == NAMES and result.draws.shape == (2, 300, 3)
    assert result.n_shards == result.n_shards_used == 4
    assert [s.index for s in result.shards] == [0, 1, 2, 3]
    assert all(s.used and s.reason is None and s.n_points == 100 for s in result.shards)
    assert result.fixed == {"D_offset": 10.0}
    assert result.r_hat.shape == (3,) and np.all(result.r_hat < 1.05)
    assert result.divergences == 0 and result.heterogeneous == ()


def test_combine_drops_bad_shards_and_says_why(shard_files, four_shards, tmp_path, caplog):
    rng = np.random.default_rng(4)
    good = rng.normal([1e4, -0.5, 0.3], [300, 0.03, 0.004], size=(2, 300, 3))
    nan = good.copy()
    nan[1, 7, 0] = np.nan
    diverging = np.zeros((2, 300), bool)
    diverging[:, :70] = True  # rate 0.233
    frozen = good.copy()
    frozen[..., 2] = 0.3
    bad = [
        _posterior(tmp_path / "posterior_004.nc", 4, nan),
        _posterior(tmp_path / "posterior_005.nc", 5, good, diverging=diverging),
        _posterior(tmp_path / "posterior_006.nc", 6, np.full_like(good, np.nan),
                   error="shard data are not finite"),
        _posterior(tmp_path / "posterior_007.nc", 7, frozen),
    ]
    with caplog.at_level(logging.WARNING):
        result = combine(four_shards + bad, CMCConfig(), shard_files)
    assert result.n_shards == 8 and result.n_shards_used == 4
    reasons = {s.index: s.reason for s in result.shards if not s.used}
    assert reasons[4] == "1 non-finite draws"
    assert reasons[5].startswith("divergence rate 0.233 > max_divergence_rate 0.1")
    assert reasons[6] == "sampling failed: shard data are not finite"
    assert "contrast never moved" in reasons[7]
    assert "shard 5 left out of the consensus" in caplog.text
    clean = combine(four_shards, CMCConfig(), shard_files)
    np.testing.assert_allclose(result.draws, clean.draws)
    lenient = combine(four_shards + bad[1:2], CMCConfig(max_divergence_rate=0.3), shard_files)
    assert lenient.n_shards_used == 5 and lenient.divergences == 140


def test_combine_without_usable_shards_is_an_error(shard_files, tmp_path):
    path = _posterior(tmp_path / "posterior_000.nc", 0, np.full((2, 10, 3), np.nan),
                      error="no data")
    with pytest.raises(FitError, match=r"no usable shard posterior.*shard 0: sampling failed"):
        combine([path], CMCConfig(), shard_files)
    with pytest.raises(FitError, match="no shard posterior files"):
        combine([], CMCConfig(), shard_files)


def test_combine_refuses_posteriors_of_different_runs(shard_files, four_shards, tmp_path):
    other = _posterior(tmp_path / "posterior_009.nc", 9,
                       np.random.default_rng(0).normal(size=(2, 300, 2)), names=NAMES[:2])
    with pytest.raises(FitError, match="different runs or settings"):
        combine([*four_shards, other], CMCConfig(), shard_files)


def test_combine_warns_on_heterogeneous_shards(shard_files, tmp_path, caplog):
    rng = np.random.default_rng(5)
    sd = np.array([300.0, 0.03, 0.004])
    paths = [_posterior(tmp_path / f"posterior_{k:03d}.nc", k,
                        rng.normal([1e4 * (1 + k), -0.5, 0.3], sd, size=(2, 200, 3)))
             for k in range(3)]
    with caplog.at_level(logging.WARNING):
        result = combine(paths, CMCConfig(), shard_files)
    assert result.heterogeneous == ("D0",)
    assert result.heterogeneity["D0"] == pytest.approx(0.5, abs=0.01)
    assert "heterogeneity_cv" in caplog.text


def test_heterogeneity_of_a_near_zero_parameter_is_judged_by_posterior_sd():
    rng = np.random.default_rng(6)
    means = rng.normal(0.0, 1.0, size=(200, 1))  # shards agree within their sd of 1
    cv = heterogeneity(means, np.ones((200, 1)))
    assert cv[0] == pytest.approx(1.0 / ZERO_MEAN_SDS, rel=0.15)
    far = heterogeneity(np.array([[100.0], [110.0]]), np.ones((2, 1)))
    assert far[0] == pytest.approx(np.std([100, 110], ddof=1) / 105)
    assert np.isnan(heterogeneity(np.ones((1, 2)), np.ones((1, 2)))).all()


def test_posterior_table_is_the_mean_sd_and_shortest_94_percent_interval():
    """Against the definition: the HDI is the shortest interval of the sorted pooled draws
    holding 94 % of them."""
    draws = np.random.default_rng(4).gamma(2.0, size=(2, 500, 1))  # skewed: HDI not central
    [row] = posterior_table(("x",), draws).values()
    flat = np.sort(draws.ravel())
    inside = int(np.floor(0.94 * len(flat)))
    widths = flat[inside:] - flat[:len(flat) - inside]
    k = int(np.argmin(widths))
    assert (row["hdi_3"], row["hdi_97"]) == (flat[k], flat[k + inside])
    assert row["mean"] == pytest.approx(flat.mean())
    assert row["sd"] == pytest.approx(np.std(flat, ddof=1))


# ------------------------------------------------------------------------ outputs

def _write_cmc(out, result, settings):
    """:func:`write_cmc` with the table and verdict the combine step hands it."""
    return write_cmc(out, result, table=posterior_table(result.names, result.draws),
                     verdict={"verdict": "ok", "reasons": []}, settings=settings)


def test_write_cmc_writes_the_four_files_atomically(shard_files, four_shards, tmp_path):
    result = combine(four_shards[:1], CMCConfig(), shard_files)
    out = layout.dataset(tmp_path, "d")
    paths = _write_cmc(out, result, {"cmc_nuts": {"samples": 300}})
    assert [str(p) for p in paths] == [
        out.cmc_parameters, out.cmc_diagnostics, out.cmc_npz, out.cmc_netcdf]
    params = json.loads(Path(out.cmc_parameters).read_text())
    assert params["settings"] == {"cmc_nuts": {"samples": 300}}
    assert set(params["parameters"]) == set(NAMES)
    assert set(params["parameters"]["D0"]) == {"mean", "sd", "hdi_3", "hdi_97"}
    for key in ("n_shards", "n_shards_used", "chains", "draws", "mode", "timestamp", "version"):
        assert key in params, key
    d0 = params["parameters"]["D0"]
    assert d0["hdi_3"] < d0["mean"] < d0["hdi_97"]
    diag = json.loads(Path(out.cmc_diagnostics).read_text())
    assert set(diag["overall"]) == {"r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences",
                                    "divergence_rate"}
    assert set(diag["shards"][0]) >= {"index", "used", "reason", "n_points", "r_hat_max",
                                      "ess_bulk_min", "divergences", "seconds"}
    assert diag["heterogeneity"] == {n: None for n in NAMES}  # one shard: NaN -> null
    npz = np.load(out.cmc_npz)
    assert npz["draws"].shape == (2, 300, 3) and tuple(npz["names"]) == NAMES
    assert npz["shard_means"].shape == npz["shard_sds"].shape == (1, 3)
    import xarray as xr

    with xr.open_datatree(out.cmc_netcdf, engine="netcdf4") as tree:
        np.testing.assert_array_equal(tree["posterior"]["alpha"].values, result.draws[..., 1])
    assert not list(tmp_path.rglob("*.tmp"))


def test_failed_write_leaves_no_file(shard_files, four_shards, tmp_path, monkeypatch):
    """The NetCDF writer itself fails half-way (bytes on disk, then an error, as on a full
    disk): the real write path of write_cmc leaves neither the file nor a temporary."""
    import xarray as xr

    result = combine(four_shards[:2], CMCConfig(), shard_files)

    def half_then_fail(self, target, **kwargs):
        Path(target).write_bytes(b"\x89HDF half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        _write_cmc(layout.dataset(tmp_path, "d"), result, {})
    assert not Path(layout.dataset(tmp_path, "d").cmc_netcdf).exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_consensus_result_properties(shard_files, four_shards):
    result = combine(four_shards, CMCConfig(), shard_files)
    assert isinstance(result, ConsensusResult)
    assert (result.chains, result.draws_per_chain) == (2, 300)


def test_combine_without_shard_files_says_it_did_not_check(shard_files, four_shards):
    checked = combine(four_shards, CMCConfig(), shard_files)
    unchecked = combine(four_shards, CMCConfig())
    assert "k-hat" in checked.check.message or "zero at every" in checked.check.message
    assert np.isnan(unchecked.check.k_hat)
    assert unchecked.check.message == "not checked: no shard files given"
    assert not unchecked.check.reweighted
