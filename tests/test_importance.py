"""Importance sampling as a posterior method (issue 22): known moments on a Gaussian target,
a bad proposal flagged and replaced by NUTS, exact sums over shards, one schema for both
methods.  Small static data; the production-size numbers are in benchmarks/README.md."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from homodyne import layout, results
from homodyne.cmc import combine, importance, make_shards, read_shard, sample_shard
from homodyne.cmc.density import shard_log_likelihood
from homodyne.cmc.diagnostics import posterior_table
from homodyne.config import AnalysisConfig, CMCConfig
from homodyne.data import load, simulate
from homodyne.errors import FitError
from homodyne.nlsq import fit
from homodyne.quality import cmc_verdict, importance_reasons

NUTS = {"chains": 2, "warmup": 100, "samples": 120}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """3 angles × 100 frames of static data (14,553 points) and its NLSQ fit: enough points
    for a near-Gaussian posterior, few enough for short runs."""
    folder = tmp_path_factory.mktemp("importance")
    path = simulate(folder / "s.h5", mode="static",
                    params={"D0": 1e4, "alpha": -0.5, "D_offset": 10.0},
                    phi=[0.0, 45.0, 90.0], n_frames=100, dt=0.1, q=0.0054, contrast=0.3,
                    noise=0.01, seed=3)
    data = load(path, q=0.0054, dt=0.1)
    analysis = AnalysisConfig(mode="static", dt=0.1, per_angle_mode="individual")
    return folder, data, analysis, fit(data, analysis)


def _run(folder, data, analysis, estimate, cfg, tag):
    """Shard, sample every shard and combine, as the pipeline does; the consensus result
    and the posterior files."""
    shards = make_shards(data, estimate, cfg, folder / f"shards_{tag}", analysis=analysis)
    posteriors = [sample_shard(s, cfg, folder / f"post_{tag}_{k}.nc")
                  for k, s in enumerate(shards)]
    return combine(posteriors, cfg, shards), posteriors, shards


def test_gaussian_target_gives_its_moments():
    """A Gaussian target and a proposal centred 0.3 sd off with other widths and
    correlation: the resampled draws have the target's mean and covariance."""
    mean = np.array([2.0, -1.0, 0.5])
    cov = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, -0.3], [0.0, -0.3, 0.5]])
    proposal = importance.Proposal(
        names=("a", "b", "c"), mean=mean + 0.3 * np.sqrt(np.diag(cov)),
        chol=np.linalg.cholesky(np.diag(np.diag(cov))) * importance.INFLATION,
        log_coords=np.zeros(3, bool))
    draws, log_q = proposal.draw(20_000, seed=1)
    d = draws - mean
    log_target = -0.5 * np.sum(d * np.linalg.solve(cov, d.T).T, axis=1)
    out = importance.reweigh(draws, log_q, log_target, seed=2)
    assert out.accepted and out.k_hat < 0.5, out.message
    flat = out.draws[0]
    tolerance = 4 * np.sqrt(np.diag(cov) / out.ess)  # 4 Monte Carlo standard errors
    np.testing.assert_array_less(np.abs(flat.mean(axis=0) - mean), tolerance)
    np.testing.assert_allclose(np.cov(flat, rowvar=False), cov, atol=0.12)


def test_log_coordinates_give_the_density_of_the_physical_draws():
    """A proposal drawn in log coordinates reports the density of the physical values:
    its log density integrates the Jacobian (checked against the log-normal's)."""
    proposal = importance.Proposal(names=("D0",), mean=np.array([np.log(1e4)]),
                                   chol=np.array([[0.1]]), log_coords=np.array([True]))
    x, log_q = proposal.draw(1000, seed=0)
    u = np.log(x[:, 0])
    lognormal = -0.5 * ((u - np.log(1e4)) / 0.1) ** 2 - u  # up to a constant
    np.testing.assert_allclose(log_q - lognormal, (log_q - lognormal)[0], atol=1e-9)


@pytest.mark.parametrize("bad", ["narrow", "shifted"])
def test_a_bad_proposal_has_a_high_k_hat_and_nuts_takes_over(fitted, bad, monkeypatch):
    """A proposal 20 times too narrow, or centred 6 posterior sd off, fails the k̂ check;
    under cmc.method auto the same job then samples with NUTS and says why."""
    folder, data, analysis, result = fitted
    monkeypatch.setattr(importance, "MIN_POINTS", 0)  # small data: let auto try it
    sd = np.sqrt(np.diag(result.covariance))
    if bad == "narrow":
        estimate = replace(result, covariance=result.covariance / 400.0)
    else:  # a proposal, and with it the NUTS start and the prior, 6 sd away in D0
        estimate = replace(result, values=result.values + 6.0 * sd * (np.arange(len(sd)) == 0))
    cfg = CMCConfig(shards=1, method="auto", **NUTS)
    consensus, _, shards = _run(folder, data, analysis, estimate, cfg, bad)
    assert read_shard(shards[0]).method == "importance"
    record = consensus.importance
    assert record["k_hat"] > record["k_hat_limit"] or record["ess"] < 100
    assert consensus.method == "nuts"
    assert "NUTS sampled the posterior instead" in record["fallback"]
    assert np.isfinite(consensus.r_hat).all()  # NUTS draws: chains, R-hat
    if bad == "narrow":  # the data, not the proposal, decide the posterior
        flat = consensus.draws.reshape(-1, consensus.draws.shape[-1])
        assert abs(flat[:, 0].mean() - result.values[0]) < 3 * sd[0]
    diagnostics = results.cmc_diagnostics(consensus, cmc_verdict(consensus))
    assert diagnostics["method"] == "nuts" and diagnostics["importance"]["fallback"]


def test_a_good_proposal_is_used_and_agrees_with_nuts(fitted, monkeypatch):
    """The same data with the NLSQ proposal: importance sampling is kept (k̂ within its
    limit) and its posterior agrees with NUTS's to within their Monte Carlo errors."""
    folder, data, analysis, result = fitted
    monkeypatch.setattr(importance, "MIN_POINTS", 0)
    by_is, _, _ = _run(folder, data, analysis, result,
                       CMCConfig(shards=1, method="auto", **NUTS), "good")
    by_nuts, _, _ = _run(folder, data, analysis, result,
                         CMCConfig(shards=1, method="nuts", **NUTS), "nuts")
    assert by_is.method == "importance" and by_is.importance["accepted"]
    assert by_is.importance["k_hat"] <= by_is.importance["k_hat_limit"]
    a = by_is.draws.reshape(-1, len(by_is.names))
    b = by_nuts.draws.reshape(-1, len(by_nuts.names))
    sd = b.std(axis=0)
    assert np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / sd) < 0.35
    np.testing.assert_allclose(a.std(axis=0) / sd, 1.0, atol=0.2)
    assert cmc_verdict(by_is)["verdict"] == "ok", cmc_verdict(by_is)


def test_shard_likelihoods_add_up_to_the_full_data_likelihood(fitted):
    """Three shards' log likelihoods at the common proposal draws sum to the one-shard
    (full-data) log likelihood at the same draws, to 1e-10; and the sharded importance
    posterior is the one-shard posterior: same weights, same draws."""
    folder, data, analysis, result = fitted
    one = CMCConfig(shards=1, method="importance", importance_draws=400)
    three = replace(one, shards=3)
    whole = read_shard(make_shards(data, result, one, folder / "sum1", analysis=analysis)[0])
    parts = [read_shard(p) for p in make_shards(data, result, three, folder / "sum3",
                                                analysis=analysis)]
    draws = whole.proposal["draws"]
    assert all(np.array_equal(p.proposal["draws"], draws) for p in parts)
    total = sum(shard_log_likelihood(p, draws) for p in parts)
    np.testing.assert_allclose(total, shard_log_likelihood(whole, draws), rtol=1e-10, atol=0)
    by_one, _, _ = _run(folder, data, analysis, result, one, "is1")
    by_three, _, _ = _run(folder, data, analysis, result, three, "is3")
    assert by_three.method == by_one.method == "importance"
    assert math.isclose(by_three.importance["k_hat"], by_one.importance["k_hat"],
                        rel_tol=1e-9)
    assert math.isclose(by_three.importance["ess"], by_one.importance["ess"], rel_tol=1e-9)
    np.testing.assert_array_equal(by_three.draws, by_one.draws)


def _keys(mapping, prefix=""):
    """Every key path of a nested mapping, with per-parameter names collapsed to ``*``."""
    out = set()
    for k, v in mapping.items():
        path = f"{prefix}{'*' if prefix.endswith(('parameters.', 'heterogeneity.')) else k}"
        out.add(path)
        if isinstance(v, dict):
            out |= _keys(v, path + ".")
    return out


def test_both_methods_write_the_same_schema(fitted, tmp_path):
    """The CMC result files of importance sampling and of NUTS hold the same keys, arrays
    and variables (only the numbers and the method differ)."""
    folder, data, analysis, result = fitted
    files = {}
    for method in ("importance", "nuts"):
        cfg = CMCConfig(shards=1, method=method, importance_draws=400, **NUTS)
        consensus, _, _ = _run(folder, data, analysis, result, cfg, f"schema_{method}")
        out = layout.dataset(tmp_path / method, "s")
        results.write_cmc(out, consensus, table=posterior_table(consensus.names,
                                                                consensus.draws),
                          verdict=cmc_verdict(consensus), settings={})
        files[method] = out
    imp, nuts = files["importance"], files["nuts"]
    for name in ("cmc_parameters", "cmc_diagnostics"):
        a = json.loads(Path(getattr(imp, name)).read_text())
        b = json.loads(Path(getattr(nuts, name)).read_text())
        assert ({k for k in _keys(a) if not k.startswith("importance.")}
                == {k for k in _keys(b) if not k.startswith("importance.")}), name
    with np.load(imp.cmc_npz) as a, np.load(nuts.cmc_npz) as b:
        assert set(a.files) == set(b.files)
        assert a["draws"].ndim == b["draws"].ndim == 3
    import xarray as xr

    with xr.open_datatree(imp.cmc_netcdf) as a, xr.open_datatree(nuts.cmc_netcdf) as b:
        assert set(a.children) == set(b.children)
        assert set(a["posterior"].data_vars) == set(b["posterior"].data_vars)


def test_method_choice():
    """auto: importance from MIN_POINTS on unless there is no proposal, else NUTS with the
    reason; importance without a proposal is an error naming the remedy."""
    from homodyne.problem import choose_method

    auto = CMCConfig(method="auto")
    big, small = importance.MIN_POINTS, importance.MIN_POINTS - 1
    assert choose_method(auto, big)[0] == "importance"
    method, why = choose_method(auto, small)
    assert method == "nuts" and "fewer than" in why
    method, why = choose_method(auto, big, "the NLSQ covariance is not finite")
    assert method == "nuts" and "not finite" in why
    assert choose_method(CMCConfig(method="nuts"), big)[0] == "nuts"
    assert choose_method(CMCConfig(method="importance"), small)[0] == "importance"
    with pytest.raises(FitError, match=r"cmc\.method to auto or nuts"):
        choose_method(CMCConfig(method="importance"), big, "no covariance")


def test_an_unusable_covariance_gives_no_proposal():
    names, values = ("D0", "alpha"), np.array([1e4, -0.5])
    args = (np.array([1.0, 1.0]), np.array([100.0, -2.0]), False, 1.0, 100)
    assert isinstance(importance.build_proposal(names, values, np.full((2, 2), np.nan),
                                                *args), str)
    assert isinstance(importance.build_proposal(names, values, np.ones((2, 2)), *args), str)
    ok = importance.build_proposal(names, values, np.diag([1e4, 1e-4]), *args)
    assert isinstance(ok, importance.Proposal)
    assert list(ok.log_coords) == [True, False]  # D0's lower bound is positive: log


@pytest.mark.parametrize("record, check, severity", [
    ({"k_hat": 0.9, "k_hat_limit": 0.7, "ess": 500.0}, "importance", "failed"),
    ({"k_hat": 0.3, "k_hat_limit": 0.7, "ess": 40.0}, "importance", "warning"),
    ({"k_hat": 0.3, "k_hat_limit": 0.7, "ess": 900.0}, None, None),
])
def test_importance_reasons(record, check, severity):
    found = importance_reasons(record)
    assert [(r["check"], r["severity"]) for r in found] == (
        [(check, severity)] if check else [])


def test_k_hat_limit_depends_on_the_draws():
    assert importance.k_hat_limit(1000) == pytest.approx(1 - 1 / 3)
    assert importance.k_hat_limit(100_000) == importance.K_HAT_MAX


@pytest.mark.parametrize("min_points, expected", [(10_000, "importance"), (20_000, "nuts")])
def test_validate_predicts_the_method_the_shard_step_chooses(fitted, tmp_path, monkeypatch,
                                                             min_points, expected):
    """``homodyne validate`` names the posterior method of the run (14,553 points here, on
    either side of the threshold) and the shard step, given the NLSQ fit, chooses it."""
    import yaml

    from homodyne.validate import validate

    folder, data, analysis, result = fitted
    monkeypatch.setattr(importance, "MIN_POINTS", min_points)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "datasets": [{"name": "s", "file": str(folder / "s.h5"), "q": 0.0054}],
        "analysis": {"mode": "static", "dt": 0.1, "per_angle_mode": "individual"}}))
    report = validate(config)
    (row,) = report.datasets
    assert row.n_points == result.n_points and row.method == expected
    assert ("importance*" in report.table()) is (expected == "importance")
    (path,) = make_shards(data, result, CMCConfig(), tmp_path / "shards", analysis=analysis)
    assert read_shard(path).method == expected
