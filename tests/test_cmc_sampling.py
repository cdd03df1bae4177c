"""CMC with real NUTS runs (small): consensus against full-data NUTS, correlations, a
corrupted shard, seeded draws, prior tempering, and ``homodyne run --method cmc``.

Every run shares one JAX compilation cache, so each distinct program compiles once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jax
import numpy as np
import pytest
import xarray as xr
import yaml
from jax.experimental.compilation_cache import compilation_cache

from homodyne import layout
from homodyne.cli import main
from homodyne.cmc import combine, consensus_draws, make_shards, read_shard, sample_shard
from homodyne.cmc.combine import read_posterior
from homodyne.cmc.shard import write_shard
from homodyne.config import AnalysisConfig, CMCConfig, NLSQConfig
from homodyne.data import load, simulate
from homodyne.nlsq import fit

K = 4
SIM = dict(mode="static", params={"D0": 1e4, "alpha": -0.5, "D_offset": 10.0},
           phi=[-30.0, 0.0, 30.0], n_frames=100, dt=0.1, q=0.008, contrast=0.3, noise=0.005,
           seed=11)
NUTS = dict(chains=2, warmup=300, samples=400, seed=5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One compilation cache for the module; JAX's previous cache settings restored after."""
    saved = {k: getattr(jax.config, k) for k in (
        "jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes")}
    yield tmp_path_factory.mktemp("jax_cache")
    for key, value in saved.items():
        jax.config.update(key, value)
    compilation_cache.reset_cache()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmc_data")
    path = simulate(folder / "static.h5", **SIM)
    data = load(path, q=SIM["q"], dt=SIM["dt"])
    analysis = AnalysisConfig(mode="static", dt=SIM["dt"])
    return path, data, analysis, fit(data, analysis, NLSQConfig())


def _sample_all(shards, cfg, folder, cache):
    return [sample_shard(s, cfg, folder / f"posterior_{k:03d}.nc", cache_dir=cache)
            for k, s in enumerate(shards)]


@pytest.fixture(scope="module")
def runs(dataset, cache, tmp_path_factory):
    """Full-data NUTS (one shard) and the K-shard consensus of the same data."""
    _, data, analysis, nlsq = dataset
    folder = tmp_path_factory.mktemp("cmc_runs")
    full_cfg = CMCConfig(shards=1, **NUTS)
    (full_shard,) = make_shards(data, nlsq, full_cfg, folder / "full", analysis=analysis)
    full_file = sample_shard(full_shard, full_cfg, folder / "full.nc", cache_dir=cache)
    one = combine([full_file], full_cfg, [full_shard])
    cfg = CMCConfig(shards=K, **NUTS)
    shards = make_shards(data, nlsq, cfg, folder / "shards", analysis=analysis)
    assert len(shards) == K
    posteriors = _sample_all(shards, cfg, folder / "posteriors", cache)
    return read_posterior(full_file), combine(posteriors, cfg, shards), cfg, shards, \
        posteriors, one


def test_one_shard_is_full_data_nuts_unchanged(runs):
    """shard -> nuts -> combine with one shard returns full-data NUTS's draws, bit for bit."""
    full, *_, one = runs
    assert one.n_shards == 1 and one.names == full.names
    np.testing.assert_array_equal(one.draws, full.draws)
    assert not one.check.reweighted and "one shard" in one.check.message


def test_consensus_reports_its_psis_check(runs):
    _, consensus, *_ = runs
    check = consensus.check
    assert np.isfinite(check.k_hat) and check.n_draws == consensus.draws[..., 0].size
    assert check.reweighted == (check.k_hat < 0.7)


def test_consensus_matches_full_data_nuts(runs):
    full, consensus, *_ = runs
    assert consensus.names == full.names
    assert consensus.n_shards_used == K
    flat_full = full.draws.reshape(-1, len(full.names))
    flat = consensus.draws.reshape(-1, len(full.names))
    sd_full = flat_full.std(axis=0)
    shift = np.abs(flat.mean(axis=0) - flat_full.mean(axis=0)) / sd_full
    ratio = flat.std(axis=0) / sd_full
    for name, s, r in zip(full.names, shift, ratio, strict=True):
        assert s < 0.5, f"{name}: consensus mean {s:.2f} posterior sd from full NUTS"
        assert abs(r - 1) < 0.3, f"{name}: consensus sd / full sd = {r:.2f}"
    assert consensus.draws.shape == (NUTS["chains"], NUTS["samples"], len(full.names))
    assert np.max(consensus.r_hat) < 1.05


def test_correlations_survive_the_consensus(runs):
    full, consensus, *_ = runs
    corr_full = np.corrcoef(full.draws.reshape(-1, len(full.names)), rowvar=False)
    corr = np.corrcoef(consensus.draws.reshape(-1, len(full.names)), rowvar=False)
    strong = [(a, b) for a in range(len(full.names)) for b in range(a)
              if abs(corr_full[a, b]) > 0.7]
    names = [(full.names[a], full.names[b]) for a, b in strong]
    assert ("D_offset", "alpha") in names and ("offset", "contrast") in names
    for (a, b), pair in zip(strong, names, strict=True):
        assert np.sign(corr[a, b]) == np.sign(corr_full[a, b]), pair
        assert abs(corr[a, b] - corr_full[a, b]) < 0.15, (pair, corr[a, b], corr_full[a, b])


def test_corrupted_shard_is_dropped_and_reported(runs, tmp_path, cache):
    _, _, cfg, shards, posteriors, _ = runs
    bad = read_shard(shards[1])
    y = bad.problem.y.copy()
    y[:, ::7] = np.nan
    corrupted = write_shard(tmp_path / "shard_001.h5",
                            replace(bad, problem=replace(bad.problem, y=y)))
    out = sample_shard(corrupted, cfg, tmp_path / "posterior_001.nc", cache_dir=cache)
    result = combine([posteriors[0], out, *posteriors[2:]], cfg, shards)
    assert result.n_shards == K and result.n_shards_used == K - 1
    (dropped,) = [s for s in result.shards if not s.used]
    assert dropped.index == 1
    assert dropped.reason.startswith("sampling failed: shard data are not finite")
    assert np.all(np.isfinite(result.draws))


def test_same_seed_gives_identical_draws(runs, tmp_path, cache):
    _, _, cfg, shards, posteriors, _ = runs
    again = sample_shard(shards[0], cfg, tmp_path / "again.nc", cache_dir=cache)
    np.testing.assert_array_equal(read_posterior(again).draws,
                                  read_posterior(posteriors[0]).draws)
    assert not np.array_equal(read_posterior(posteriors[0]).draws,
                              read_posterior(posteriors[1]).draws)
    with xr.open_datatree(again, engine="netcdf4") as tree:
        assert tree.attrs["index"] == 0 and tree.attrs["seed"] == read_shard(shards[0]).seed
        assert tree.attrs["n_points"] == read_shard(shards[0]).n_points
        assert tree.attrs["seconds"] > 0 and tree.attrs["error"] == ""
        stats = tree["sample_stats"]
        for key in ("diverging", "tree_depth", "step_size", "n_steps", "acceptance_rate"):
            assert stats[key].shape == (NUTS["chains"], NUTS["samples"]), key


def test_prior_is_counted_once_across_shards(dataset, tmp_path, cache):
    """Shards without information return their tempered priors; the consensus of K of them
    has the untempered prior sd, not one √K narrower."""
    _, data, analysis, nlsq = dataset
    flat_data = replace(data, sigma=np.full(data.n_phi, 1e3))
    cfg = CMCConfig(shards=K, sample_sigma=False, prior_width=1.0, **NUTS)
    shards = make_shards(flat_data, nlsq, cfg, tmp_path / "shards", analysis=analysis)
    result = combine(_sample_all(shards, cfg, tmp_path, cache), cfg, shards)
    shard = read_shard(shards[0])
    free = shard.problem.free
    prior_sd = shard.prior_scale_untempered[free]
    distance = np.minimum(shard.values - shard.problem.lower,
                          shard.problem.upper - shard.values)[free]
    assert np.all(distance > 4 * shard.prior_scale[free])  # truncation negligible
    consensus = consensus_draws([read_posterior(p).draws for p in
                                 sorted(tmp_path.glob("posterior_*.nc"))])
    ratio = consensus.reshape(-1, len(result.names)).std(axis=0) / prior_sd
    np.testing.assert_allclose(ratio, 1.0, atol=0.15)


def test_run_method_cmc_writes_the_four_outputs(dataset, tmp_path, cache):
    path = dataset[0]
    config = {"datasets": [{"name": "demo", "file": str(path), "q": SIM["q"]}],
              "analysis": {"mode": "static", "dt": SIM["dt"]},
              "cmc": {"shards": K, **NUTS}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "results"
    assert main(["run", str(tmp_path / "config.yaml"), "--method", "cmc", "--output", str(out),
                 "--jax-cache", str(cache)]) == 0
    res = out / "demo"
    files = layout.dataset(out, "demo")
    for name in (files.cmc_parameters, files.cmc_diagnostics, files.cmc_npz, files.cmc_netcdf):
        assert Path(name).stat().st_size > 0, name
    assert sorted(p.name for p in (res / "cmc/shards").iterdir()) == [
        f"shard_{k:03d}.h5" for k in range(K)]
    assert sorted(p.name for p in (res / "cmc/posteriors").iterdir()) == [
        f"posterior_{k:03d}.nc" for k in range(K)]
    assert Path(files.nlsq_json).exists()  # the priors come from the NLSQ result file
    params = json.loads(Path(files.cmc_parameters).read_text())
    assert params["n_shards"] == params["n_shards_used"] == K
    assert params["chains"] == NUTS["chains"] and params["draws"] == NUTS["samples"]
    d0 = params["parameters"]["D0"]
    assert d0["hdi_3"] < 1e4 < d0["hdi_97"]
    diagnostics = json.loads(Path(files.cmc_diagnostics).read_text())
    assert [s["index"] for s in diagnostics["shards"]] == list(range(K))
    assert diagnostics["overall"]["r_hat_max"] < 1.05
    assert not list(out.rglob("*.tmp"))


def test_run_method_both_with_cmc_disabled_fits_nlsq_only(dataset, tmp_path):
    config = {"datasets": [{"name": "demo", "file": str(dataset[0]), "q": SIM["q"]}],
              "analysis": {"mode": "static", "dt": SIM["dt"]}, "cmc": {"enable": False}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "results"
    assert main(["run", str(tmp_path / "config.yaml"), "--method", "both", "--output",
                 str(out)]) == 0
    assert (out / "demo/nlsq/nlsq_results.json").exists()
    assert not (out / "demo/cmc").exists()


def test_chains_that_disagree_go_on_before_the_shard_reports(dataset, tmp_path, cache):
    """Three warmup iterations from overdispersed starts leave R-hat above 1.05: the shard's
    chains continue (twice the warmup and draws, thinned back) before the posterior is
    written, and the file records how often; a shard that converges does not continue."""
    _, data, analysis, nlsq = dataset
    short = CMCConfig(shards=1, chains=4, warmup=3, samples=8, seed=5)
    (shard,) = make_shards(data, nlsq, short, tmp_path / "s", analysis=analysis)
    post = read_posterior(sample_shard(shard, short, tmp_path / "short.nc", cache_dir=cache))
    assert post.attrs["continuations"] >= 1
    assert post.draws.shape[:2] == (4, 8)  # the configured shape, whatever it took
    report = combine([post.path], short, [shard]).shards[0]
    assert report.continuations == post.attrs["continuations"]


def test_chains_of_a_degenerate_fit_do_not_go_on(dataset, tmp_path, cache):
    """The same unconverged start, but the shard step was told the NLSQ fit is degenerate
    (its diagnosis: a stationary sample, a redundant offset): more draws cannot cure that,
    so the chains stop after their first run and the verdict reports R-hat as it is."""
    _, data, analysis, nlsq = dataset
    short = CMCConfig(shards=1, chains=4, warmup=3, samples=8, seed=5)
    (shard,) = make_shards(data, nlsq, short, tmp_path / "s", analysis=analysis,
                           no_continuation="stationary within noise")
    assert read_shard(shard).no_continuation == "stationary within noise"
    post = read_posterior(sample_shard(shard, short, tmp_path / "short.nc", cache_dir=cache))
    assert post.attrs["continuations"] == 0


def test_converged_chains_do_not_continue(runs):
    full, *_ = runs
    assert full.attrs["continuations"] == 0
