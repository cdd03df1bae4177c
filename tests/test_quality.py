"""Every result says whether it can be trusted (issue 13): the checks of homodyne.quality on
synthetic cases built to trip each one, a well-posed case that must stay ``ok``, and the two
real matrices shipped in tests/data/real (see its README for their origin and licenses).

Assumed for the real matrices (they carry no q or frame time): CHX q = 0.005 1/Å, dt = 0.1 s;
yolk plasma q = 0.022, dt = 0.1 s.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from homodyne import layout
from homodyne import quality as Q
from homodyne.cli import main
from homodyne.cmc import combine
from homodyne.cmc.sample import posterior_tree, write_tree
from homodyne.config import CMCConfig, load_config
from homodyne.data import import_matrices, load, simulate
from homodyne.data.writers import write_aps_u
from homodyne.errors import DataQualityError
from homodyne.nlsq import fit
from homodyne.validate import validate

REAL = Path(__file__).parent / "data" / "real"
CHX, YOLK = REAL / "chx_two_time.npy", REAL / "yolk_plasma_two_time.npy"
SHA256 = {CHX: "8aade6e6af3cc287949877393cb6dde53e877f83a04c15e31283bea0cc9f5489",
          YOLK: "a45775b57b03dfb74e2ef5d864b485b6f172459c74a854e01e53063859c39c5a"}


def checks(reasons, severity=None):
    return [(r["check"], r["parameter"]) for r in reasons
            if severity is None or r["severity"] == severity]


def decay(n=60, contrast=0.2, tau=8.0, baseline=1.0, noise=0.0, seed=0):
    """A stationary c2 matrix ``baseline + contrast·exp(-2|i-j|/tau)`` with noise."""
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    m = baseline + contrast * np.exp(-2.0 * lag / tau)
    if noise:
        upper = np.triu(np.random.default_rng(seed).normal(0, noise, (n, n)), 1)
        m = m + upper + upper.T
    return m


# ----------------------------------------------------------------------- the verdict


def test_verdict_is_the_worst_severity():
    warn = Q.reason("x", "a warning")
    fail = Q.reason("y", "a failure", severity=Q.FAILED)
    assert Q.verdict([]) == {"verdict": "ok", "reasons": []}
    assert Q.verdict([warn])["verdict"] == "warning"
    assert Q.verdict([warn, fail])["verdict"] == "failed"
    merged = Q.merge(Q.verdict([warn]), None, Q.verdict([fail]))
    assert merged["verdict"] == "failed" and merged["reasons"] == [warn, fail]
    lines = Q.summary_lines(merged, "ds")
    assert lines[0] == "ds: quality FAILED" and "[failed] a failure" in lines[2]


# ------------------------------------------------------------------------------ NLSQ


def test_at_bound_is_relative_to_the_bound_range():
    # the CHX case: the solver stops 0.002 inside the bound, which `v >= upper` missed
    assert Q.at_bound(99_999.998, 1e2, 1e5) == "upper"
    assert Q.at_bound(100.05, 1e2, 1e5) == "lower"
    assert Q.at_bound(99_000.0, 1e2, 1e5) is None
    assert Q.at_bound(0.9995, 0.0, 1.0) == "upper" and Q.at_bound(0.99, 0.0, 1.0) is None
    [r] = Q.bound_reasons(["D0", "alpha"], [99_999.998, 0.3], [1e2, -2], [1e5, 2], [True] * 2)
    assert r["parameter"] == "D0" and "99,999.998" in r["message"]
    assert "upper bound 100,000" in r["message"] and "fix the parameter" in r["message"]
    assert Q.bound_reasons(["D0"], [1e5], [1e2], [1e5], [False]) == []  # fixed: not judged


def test_unidentified_parameters_and_correlated_pairs_are_named():
    names = ["D0", "alpha", "D_offset", "contrast"]
    lo, hi, free = [1e2, -2, -1e5, 0], [1e5, 2, 1e5, 1], [True] * 4
    sigma = [math.inf, 0.05, 6e4, 0.01]
    cov = np.diag(np.nan_to_num(np.square(sigma), posinf=0.0))
    cov[1, 2] = cov[2, 1] = -0.995 * 0.05 * 6e4
    cov[1, 3] = cov[3, 1] = 0.99995 * 0.05 * 0.01
    found = Q.identifiability_reasons(names, sigma, lo, hi, free, cov)
    assert checks(found) == [("unidentified", "D0"), ("unidentified", "D_offset"),
                             ("correlated", "alpha")]
    assert "σ = inf" in found[0]["message"]
    assert "30 % of its bound range" in found[1]["message"]
    assert "correlated with alpha (ρ = -0.9950)" in found[1]["message"]
    assert "alpha and contrast" in found[2]["message"] and "+0.999950" in found[2]["message"]
    # well determined parameters correlated at 0.995 (the demo's shear parameters): no alarm
    cov = np.diag(np.square([10.0, 0.05, 50.0, 0.01]))
    cov[1, 3] = cov[3, 1] = 0.995 * 0.05 * 0.01
    assert Q.identifiability_reasons(names, [10.0, 0.05, 50.0, 0.01], lo, hi, free, cov) == []


@pytest.mark.parametrize(("chi2", "from_data", "expected"), [
    (1.01, True, None), (0.8, True, None), (3.0, True, "warning"), (0.3, True, "warning"),
    (7676.3, True, "failed"), (7676.3, False, None), (math.nan, False, "failed"),
])
def test_reduced_chi2_rule(chi2, from_data, expected):
    found = Q.chi2_reasons(chi2, from_data)
    assert [r["severity"] for r in found] == ([] if expected is None else [expected])
    if expected and from_data:
        assert "rule: with σ estimated from the data" in found[0]["message"]


def test_solver_not_converged_and_parameters_that_did_not_move():
    [r] = Q.convergence_reasons(False, "maximum number of iterations (5) reached")
    assert r["severity"] == "failed" and "max_iterations" in r["message"]
    assert Q.convergence_reasons(True, "ftol") == []
    found = Q.moved_reasons(["D0", "offset_0"], [1e4, 0.5], [1e3, 0.5], [1e2, 0.5],
                            [1e5, 1.5], [True, True])
    assert checks(found) == [("not_moved", "offset_0")]


# ----------------------------------------------------------- the convergence certificate


def test_chi2_limit_tightens_with_the_points_and_names_a_local_minimum():
    assert Q.chi2_limit(1_024_656) == pytest.approx(1.02 + 5 * math.sqrt(2 / 1_024_656))
    assert Q.chi2_limit(200) == pytest.approx(1.52) and Q.chi2_limit(20) == 2.0  # at most 2
    found = Q.chi2_reasons(1.0382, True, 1_024_656)  # the wrong optimum
    assert checks(found) == [("chi2", None)]
    assert "local minimum" in found[0]["message"] and "39,142" in found[0]["message"]
    assert Q.chi2_reasons(1.0100, True, 1_024_656) == []
    assert Q.chi2_reasons(1.0382, False, 1_024_656) == []  # σ given: not judged
    assert Q.chi2_reasons(1.2, True, 1000) == []  # limit 1.244 for 1,000 points


@pytest.mark.parametrize(("remaining", "expected"), [(0.2, []), (3.0, ["warning"]),
                                                     (40.0, ["failed"])])
def test_a_fit_that_a_gauss_newton_step_still_improves_is_not_converged(remaining, expected):
    assert [r["severity"] for r in Q.remaining_reasons(remaining)] == expected


def test_decay_mismatch_names_the_angles_and_the_size():
    check = {"phi": [-40.0, 10.0, 75.0], "score": [1.05, 9.0, 30.0], "lags": [100, 100, 100],
             "decay_data": [1.0, 2.0, 3.0], "decay_model": [1.0, 2.2, 3.3]}
    (found,) = Q.decay_reasons(check)
    assert found["check"] == "decay_mismatch" and "2 of 3 angles (10°, 75°)" in found["message"]
    assert "+10 to +10 %" in found["message"]
    assert Q.decay_reasons({**check, "score": [1.05, 1.2, 0.9]}) == []


def test_a_rival_optimum_within_the_chi2_window_is_named():
    best = {"chi2": 1000.0, "parameters": {"D0": 1e4, "phi0": 20.0}}
    rival = {"chi2": 1004.0, "parameters": {"D0": 1e4, "phi0": -20.0}}
    worse = {"chi2": 1200.0, "parameters": {"D0": 1e4, "phi0": -20.0}}
    same = {"chi2": 1000.5, "parameters": {"D0": 1e4 + 50, "phi0": 20.1}}
    args = (["D0", "phi0"], [100.0, 0.5], [True, True], 1.0)
    (found,) = Q.optima_reasons([best, rival], *args)
    assert found["check"] == "rival_optimum" and found["parameter"] == "phi0"
    assert "bound phi0" in found["message"]
    assert Q.optima_reasons([best, worse, same], *args) == []


def test_a_chi2_far_from_quadratic_makes_the_parameters_unidentified():
    found = Q.linearity_reasons({"D0": [120.8, 4078.0], "alpha": [1.01, 0.99],
                                 "D_offset": [np.nan, 0.2], "beta": [3.5, 3.4]})
    assert checks(found) == [("unidentified", "D0"), ("unidentified", "D_offset")]
    assert "curved valley" in found[0]["message"]
    assert Q.linearity_reasons({"phi0": [1.007, 0.989]}) == []


def test_a_lone_parameter_far_from_quadratic_has_no_partners_to_fix():
    """Issue 21: yolk with alpha and D_offset fixed has D0 alone free; its reason spoke of
    "its correlated partners following" and "a combination of them: fix one".  Partners are
    named where there are some; alone, the reason says what is true: the uncertainty is
    skewed, the 1σ overstates it where χ² rises faster than the quadratic, and the Bayesian
    interval is the one to quote."""
    (alone,) = Q.linearity_reasons({"D0": [4.89, 16.9]})
    text = alone["message"]
    assert "partner" not in text and "following" not in text
    assert "combination" not in text and "fix one" not in text
    assert "the only free physical parameter" in text
    assert "overstates the uncertainty below the value" in text and "above" not in text
    assert "quote the Bayesian interval" in text and alone["profile"] == [4.89, 16.9]
    (flat,) = Q.linearity_reasons({"D0": [0.2, 1.1]})
    assert "understates the uncertainty above the value" in flat["message"]
    (beside,) = Q.linearity_reasons({"D0": [4.89, 16.9], "alpha": [1.0, 1.1]})
    assert "(alpha following)" in beside["message"]
    assert "combination" not in beside["message"] and "only free" not in beside["message"]
    pair = Q.linearity_reasons({"D0": [120.8, 4078.0], "D_offset": [np.nan, 0.2]})
    assert all("(D_offset following)" in pair[0]["message"] and
               "curved valley of D0, D_offset" in r["message"] and "fix one" in r["message"]
               for r in pair)


@pytest.mark.parametrize(("delta", "expected"), [(0.4, []), (30.0, ["failed"]),
                                                 (-30.0, ["failed"])])
def test_a_posterior_off_the_best_optimum_fails(delta, expected):
    found = Q.posterior_mode_reasons({"delta": delta, "chi2_nlsq": 1.0,
                                      "chi2_posterior_mean": 1.0})
    assert [r["severity"] for r in found] == expected


# ------------------------------------------------------------------------------- CMC


def fake_consensus(mean, sd, names=("D0", "alpha", "contrast_0", "noise_scale"), *,
                   priors=None, chains=4, draws=500, seed=0, **over):
    rng = np.random.default_rng(seed)
    d = rng.normal(mean, sd, size=(chains, draws, len(names)))
    fields = dict(names=tuple(names), draws=d, r_hat=np.full(len(names), 1.002),
                  ess_bulk=np.full(len(names), 1500.0), ess_tail=np.full(len(names), 1200.0),
                  chains=chains, divergences=0, divergence_rate=0.0, shards=(),
                  n_shards=3, heterogeneous=(), heterogeneity={}, priors=priors or {},
                  mode_check=None)
    fields.update(over)
    return SimpleNamespace(**fields)


PRIORS = {"D0": {"lower": 1e2, "upper": 1e5, "prior_sd": 2500.0, "nlsq_value": 1e4},
          "alpha": {"lower": -2, "upper": 2, "prior_sd": 0.25, "nlsq_value": -0.5},
          "contrast_0": {"lower": 0, "upper": 1, "prior_sd": 0.02, "nlsq_value": 0.3}}
WELL = ([1e4, -0.5, 0.3, 1.0], [500.0, 0.05, 0.004, 0.01])


def test_well_posed_posterior_is_ok():
    assert Q.cmc_verdict(fake_consensus(*WELL, priors=PRIORS)) == {"verdict": "ok",
                                                                   "reasons": []}
    # the demo's sampler statistics (2 chains × 300 draws): no false alarm
    demo = fake_consensus(*WELL, priors=PRIORS, chains=2, draws=300,
                          r_hat=np.array([1.0172, 1.0125, 1.0105, 1.0102]),
                          ess_bulk=np.array([112.1, 127.0, 183.0, 199.0]),
                          ess_tail=np.array([139.7, 150.0, 188.0, 191.0]), divergences=3,
                          divergence_rate=3 / 1800)
    assert Q.cmc_verdict(demo)["verdict"] == "ok"


def test_sampler_diagnostics_against_their_thresholds():
    bad = fake_consensus(*WELL, priors=PRIORS, r_hat=np.array([1.2, 1.07, 1.0, 1.0]),
                         ess_bulk=np.array([2000.0, 2000, 80, 2000]), divergences=40,
                         divergence_rate=0.02)
    found = Q.cmc_reasons(bad)
    assert checks(found, "failed") == [("r_hat", "D0")]
    assert ("r_hat", "alpha") in checks(found, "warning")
    assert ("ess", "contrast_0") in checks(found)
    assert "bulk ESS = 80 < 100" in "".join(r["message"] for r in found)
    assert ("divergences", None) in checks(found)


def test_posterior_against_a_bound_prior_dominated_and_disagreeing_with_nlsq():
    # the CHX case: D0 84,331 ± 6,339 under the bound 1e5, NLSQ at 99,999.998
    priors = {**PRIORS, "D0": {"lower": 1e2, "upper": 1e5, "prior_sd": 5e4,
                               "nlsq_value": 99_999.998},
              "alpha": {"lower": -2, "upper": 2, "prior_sd": 0.06, "nlsq_value": -0.5},
              "contrast_0": {"lower": 0, "upper": 1, "prior_sd": 0.02, "nlsq_value": 0.33}}
    found = Q.cmc_reasons(fake_consensus([84_331, -0.5, 0.3, 1.0], [6_339, 0.05, 0.004, 0.01],
                                         priors=priors))
    assert checks(found) == [("posterior_at_bound", "D0"), ("prior_dominated", "alpha"),
                             ("nlsq_disagrees", "contrast_0")]
    assert "upper bound 100,000" in found[0]["message"]
    assert "posterior sd" in found[1]["message"] and "of the prior sd 0.06" in found[1]["message"]
    assert "contrast_0: NLSQ 0.33 and posterior mean 0.2" in found[2]["message"]


@pytest.mark.parametrize(("f", "expected"), [(1.0, []), (1.8, ["warning"]),
                                             (0.5, ["warning"]), (49.7, ["failed"])])
def test_noise_scale_far_from_one(f, expected):
    found = Q.cmc_reasons(fake_consensus([1e4, -0.5, 0.3, f], [500, 0.05, 0.004, 0.01 * f],
                                         priors=PRIORS))
    assert [r["severity"] for r in found if r["check"] == "noise_scale"] == expected


def test_consensus_khat_beyond_its_limit_warns():
    assert Q.cmc_reasons(fake_consensus(*WELL, priors=PRIORS), khat=math.nan) == []
    found = Q.cmc_reasons(fake_consensus(*WELL, priors=PRIORS), khat=0.82)
    assert checks(found) == [("khat", None)] and "0.82 > 0.7" in found[0]["message"]
    assert Q.cmc_reasons(fake_consensus(*WELL, priors=PRIORS), khat=0.5) == []


def test_dropped_and_heterogeneous_shards_warn():
    shard = SimpleNamespace(index=2, used=False, reason="divergence rate 0.3 > 0.1")
    found = Q.cmc_reasons(fake_consensus(*WELL, priors=PRIORS, shards=(shard,),
                                         heterogeneous=("D0",), heterogeneity={"D0": 0.8}))
    assert checks(found) == [("shards_dropped", None), ("heterogeneous", "D0")]
    assert "shard 2: divergence rate" in found[0]["message"]


def _posterior(path, index, draws, names, priors):
    chains, n = draws.shape[:2]
    stats = {"diverging": np.zeros((chains, n), bool), "step_size": np.full((chains, n), 0.5)}
    attrs = {"index": index, "n_shards": 3, "n_points": 100, "seconds": 1.0, "seed": index,
             "mode": "static", "error": "", "fixed": "{}", "priors": json.dumps(priors)}
    groups = {"posterior": draws, "sample_stats": stats}
    return write_tree(path, posterior_tree(names, groups, attrs))


@pytest.mark.parametrize(("noise", "verdict"), [(1.0, "ok"), (49.7, "failed")])
def test_the_consensus_is_judged_with_the_priors_its_shards_record(tmp_path, noise, verdict):
    """Shard posteriors record bounds and priors; combine passes them on, and the verdict
    the combine step writes (its k̂ NaN: not checked without shard files) judges with them."""
    names = ("D0", "alpha", "contrast_0", "noise_scale")
    rng = np.random.default_rng(1)
    mean = [1e4, -0.5, 0.3, noise]
    sd = np.array([500.0, 0.05, 0.004, 0.01]) * math.sqrt(3)
    files = [_posterior(tmp_path / f"posterior_{k}.nc", k,
                        rng.normal(mean, sd, size=(2, 400, 4)), names, PRIORS)
             for k in range(3)]
    result = combine(files, CMCConfig())
    assert result.priors == PRIORS
    assert Q.cmc_verdict(result, khat=result.check.k_hat)["verdict"] == verdict


# ------------------------------------------------------------------------------- data


def test_well_posed_matrix_raises_no_data_warning():
    assert Q.data_reasons(decay(noise=0.005), "well.npy", raw=True) == []


@pytest.mark.parametrize(("matrix", "check", "severity", "words"), [
    (decay() - 1.0, "baseline", "failed", "--add-baseline 1.0"),
    (decay(baseline=1.35), "baseline", "warning", "levels off at 1.35"),
    (2.0 - decay(), "contrast", "warning", "≤ 0"),
    (decay(contrast=1.6), "contrast", "warning", "fully coherent"),
    (decay(tau=200.0), "frames", "warning", "more frames"),
    (decay(tau=0.5), "frames", "warning", "shorter frame time"),
    (np.full((20, 20), np.nan), "non_finite", "failed", "every value"),
])
def test_each_data_check_trips(matrix, check, severity, words):
    found = Q.data_reasons(matrix, "bad.npy")
    assert [(r["check"], r["severity"]) for r in found] == [(check, severity)]
    assert words in found[0]["message"] and found[0]["message"].startswith("bad.npy")


def test_partly_non_finite_and_disagreeing_triangles_warn():
    m = decay(noise=0.002)
    m[3, 40] = np.nan
    assert checks(Q.data_reasons(m, "f.h5")) == [("non_finite", None)]
    m = decay(noise=0.002)
    m[np.tril_indices(60, -1)] += 0.05
    [r] = Q.data_reasons(m, "f.h5", raw=True, phi=[10.0])
    assert r["check"] == "triangles" and "--triangle" in r["message"]


def test_real_matrices_are_the_shipped_ones():
    for path, digest in SHA256.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert (REAL / f"LICENSE-{path.stem}.txt").is_file()


def test_real_matrices_data_checks():
    assert Q.data_reasons(np.load(CHX), str(CHX), raw=True) == []
    yolk = np.load(YOLK)
    assert checks(Q.data_reasons(yolk, str(YOLK)), "failed") == [("baseline", None)]
    # with the baseline added, the disagreeing triangles are what is left to fix
    assert checks(Q.data_reasons(yolk + 1.0, str(YOLK), raw=True)) == [("triangles", None)]


def test_import_refuses_the_yolk_matrix_without_its_baseline(tmp_path, capsys):
    out = tmp_path / "yolk.h5"
    rc = main(["import-matrix", str(YOLK), "--q", "0.022", "--dt", "0.1", "--triangle",
               "upper", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("homodyne: error:") == 1
    assert str(YOLK) in err and "--add-baseline 1.0" in err and "c2 - 1" in err
    assert list(tmp_path.iterdir()) == []
    assert main(["import-matrix", str(YOLK), "--q", "0.022", "--dt", "0.1", "--triangle",
                 "upper", "--add-baseline", "1.0", "--out", str(out)]) == 0


def test_import_warns_on_doubtful_data(tmp_path, caplog):
    import_matrices(decay(tau=200.0), q=0.01, dt=0.1, out=tmp_path / "slow.h5")
    assert "more frames" in caplog.text and (tmp_path / "slow.h5").is_file()
    with pytest.raises(DataQualityError, match="add-baseline"):
        import_matrices(decay() - 1.0, q=0.01, dt=0.1, out=tmp_path / "c2m1.h5")
    assert not (tmp_path / "c2m1.h5").exists()


def _config(tmp_path, file, q, **analysis):
    raw = {"datasets": [{"name": Path(file).stem, "file": str(file), "q": q}],
           "analysis": {"mode": "static", "dt": 0.1, **analysis}, "nlsq": {"seed": 1},
           "cmc": {"enable": False}}
    path = tmp_path / f"{Path(file).stem}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_validate_refuses_stored_c2_minus_one_and_warns_on_slow_decay(tmp_path, capsys):
    c2m1 = write_aps_u(tmp_path / "c2m1.h5", q_values=[0.01], phi_values=[0.0], bins=[1],
                       matrices=decay(noise=0.002)[None] - 1.0)
    report = validate(_config(tmp_path, c2m1, 0.01))
    assert len(report.problems) == 1 and "--add-baseline 1.0" in report.problems[0]
    assert str(c2m1) in report.problems[0]
    slow = write_aps_u(tmp_path / "slow.h5", q_values=[0.01], phi_values=[0.0], bins=[1],
                       matrices=decay(tau=300.0, noise=0.002)[None])
    config = _config(tmp_path, slow, 0.01)
    report = validate(config)
    assert report.ok and len(report.warnings) == 1 and "more frames" in report.warnings[0]
    assert main(["validate", str(config)]) == 0
    assert "homodyne: warning: datasets[0] (slow)" in capsys.readouterr().err


# ----------------------------------------------------------------------- whole fits


def _run(tmp_path, config, capsys):
    rc = main(["-q", "run", str(config), "--output", str(tmp_path / "out")])
    name = yaml.safe_load(config.read_text())["datasets"][0]["name"]
    result = json.loads(Path(layout.dataset(tmp_path / "out", name).nlsq_json).read_text())
    return rc, result, capsys.readouterr().out


def test_chx_fit_warns_that_d0_sits_on_its_bound(tmp_path, capsys):
    h5 = import_matrices(CHX, q=0.005, dt=0.1, out=tmp_path / "chx.h5")
    config = _config(tmp_path, h5, 0.005, per_angle_mode="individual")
    rc, result, out = _run(tmp_path, config, capsys)
    assert rc == 0 and result["quality"]["verdict"] == "warning"
    assert result["at_bounds"] == ["D0"]
    bound = [r for r in result["quality"]["reasons"] if r["check"] == "at_bound"]
    assert [r["parameter"] for r in bound] == ["D0"]
    assert "upper bound 100,000" in bound[0]["message"]
    # on the console the cause the bound shares with the unidentified D0 and D_offset
    assert "chx: quality WARNING" in out and "explains: at_bound D0" in out


def test_yolk_fit_without_baseline_ends_failed(tmp_path, capsys):
    # written past import-matrix's check, as an old file made elsewhere would be
    h5 = write_aps_u(tmp_path / "yolk.h5", q_values=[0.022], phi_values=[0.0], bins=[1],
                     matrices=np.triu(np.load(YOLK))[None] + np.triu(np.load(YOLK), 1).T[None])
    config = _config(tmp_path, h5, 0.022, per_angle_mode="individual")
    # a run refuses it at its load step, as validate does, naming the remedy
    assert main(["-q", "run", str(config), "--output", str(tmp_path / "out")]) == 2
    assert "levels off" in capsys.readouterr().err
    assert not (tmp_path / "out/yolk/nlsq").exists()
    # a fit forced past that check ends failed on its chi2
    ds = load_config(config).datasets[0]
    result = fit(load(h5, q=0.022, dt=0.1), ds.analysis, ds.nlsq)
    assert Q.nlsq_verdict(result)["verdict"] == "failed"
    assert ("chi2", None) in checks(Q.nlsq_reasons(result), "failed")


def test_well_posed_synthetic_fit_stays_ok(tmp_path, capsys):
    h5 = simulate(tmp_path / "well.h5", mode="static",
                  params={"D0": 1e4, "alpha": -0.5, "D_offset": 10.0}, phi=[0.0],
                  n_frames=60, dt=0.1, q=0.0054, contrast=0.3, noise=0.005, seed=3)
    rc, result, out = _run(tmp_path, _config(tmp_path, h5, 0.0054, fixed=["D_offset"]), capsys)
    assert result["quality"] == {"verdict": "ok", "reasons": []}, result["quality"]
    assert rc == 0 and "well: quality OK" in out
    summary = Path(layout.dataset(tmp_path / "out", "well").summary)  # written by run
    assert json.loads(summary.read_text())["quality"] == {"verdict": "ok", "reasons": [],
                                                          "diagnosis": []}


def test_readme_explains_every_check():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Can I trust this fit?", 1)[1].split("\n## ", 1)[0]
    source = Path(Q.__file__).read_text()
    names = set(re.findall(r'reason\(\s*"(\w+)"', source)) - {"data", "x", "y"}
    assert len(names) >= 20
    missing = [n for n in sorted(names) if f"`{n}`" not in section]
    assert missing == []
