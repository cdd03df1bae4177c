"""One cause, one remedy (homodyne.diagnosis): the diagnoses name the cause several reasons
share, give one remedy that pastes into a config, and never contradict each other."""

import itertools

import numpy as np
import pytest
import yaml

from homodyne import diagnosis, quality
from homodyne.config import parse_config, read_yaml
from homodyne.templates import render
from homodyne.verdicts import first_reason


def nlsq_record(mode="static", values=None, sigma=None, fixed=(), per_angle_mode="auto",
                chi2=1.0, multistart=0):
    """An nlsq_results.json-like record: the fields the diagnoses read."""
    from homodyne.params import parameters

    values, sigma = dict(values or {}), dict(sigma or {})
    ps = {p.name: {"value": values.get(p.name, p.default), "uncertainty": sigma.get(p.name, 1.0),
                   "fixed": p.name in fixed} for p in parameters(mode)}
    bounds = {p.name: [p.lower, p.upper] for p in parameters(mode)}
    return {"parameters": ps, "mode": mode, "reduced_chi2": chi2,
            "settings": {"analysis": {"mode": mode, "bounds": bounds, "fixed": list(fixed),
                                      "per_angle_mode": per_angle_mode, "initial": {}},
                         "nlsq": {"multistart": multistart}}}


def r(check, parameter=None, severity="warning", **extra):
    return quality.reason(check, f"{check} of {parameter}", parameter=parameter,
                          severity=severity) | extra


STATIONARY_REASONS = [
    r("at_bound", "D0"), r("unidentified", "D0"), r("unidentified", "D_offset"),
    r("correlated", "D0", partner="D_offset"), r("r_hat", "D0", severity="failed"),
    r("prior_dominated", "D_offset"), r("divergences"),
]


def test_stationary_data_get_one_cause_and_one_remedy():
    """The yolk-plasma pattern: alpha 0.003, D0 at its bound, D0 and D_offset unidentified,
    R-hat failed: one diagnosis explains all of it, and its remedy is to fix alpha and
    D_offset at 0, not 'widen the bound' and 'narrow the bounds' and 'more warmup'."""
    record = nlsq_record(values={"D0": 1e5, "alpha": 0.003, "D_offset": -2e4},
                         sigma={"D0": 5e4, "alpha": 0.02, "D_offset": 6e4})
    found = diagnosis.diagnose(STATIONARY_REASONS, record, {"warmup": 100, "samples": 200})
    assert [d["cause"] for d in found] == ["degenerate_alpha"]
    (d,) = found
    assert d["remedy"] == {"analysis": {"fixed": ["alpha", "D_offset"],
                                        "initial": {"alpha": 0.0, "D_offset": 0.0}}}
    assert set(d["explains"]) == {quality.label(x) for x in STATIONARY_REASONS}
    q = quality.verdict(STATIONARY_REASONS) | {"diagnosis": found}
    text = "\n".join(quality.summary_lines(q, "yolk"))
    assert "fix alpha = 0 and D_offset = 0" in text
    assert "at_bound of D0" not in text and "r_hat of D0" not in text  # explained, not repeated
    assert "remedy: analysis: {fixed: [alpha, D_offset]" in first_reason(q)


def test_an_exponent_that_is_measured_is_no_degeneracy():
    """alpha = 0.5 ± 0.05 is not 0: D0 at its bound is then a bound the data lie beyond."""
    record = nlsq_record(values={"D0": 1e5, "alpha": 0.5}, sigma={"alpha": 0.05, "D0": 10.0})
    found = diagnosis.diagnose([r("at_bound", "D0")], record)
    assert [d["cause"] for d in found] == ["bound_D0"]
    assert found[0]["remedy"] == {"analysis": {"bounds": {"D0": [100.0, 1e6]}}}


def _profiled(alpha, sigma, d0=7.9e4, d0_sigma=1.1e4):
    """The CHX pattern: alpha -0.20 ± 0.20 with D_offset free (null within 2σ), D0 at its
    bound; refitted with D_offset fixed at 0, alpha = ``alpha ± sigma``."""
    record = nlsq_record(values={"D0": 1e5, "alpha": -0.205, "D_offset": -3.7e4},
                         sigma={"D0": 4.8e4, "alpha": 0.197, "D_offset": 5.7e4})
    record["profiles"] = {"alpha": {"offset": "D_offset", "value": alpha, "uncertainty": sigma,
                                    "chi2": 61626.0, "delta_chi2": 9.8, "prefactor": "D0",
                                    "prefactor_value": d0, "prefactor_uncertainty": d0_sigma}}
    return record


CHX_REASONS = [r("at_bound", "D0"), r("unidentified", "D0"), r("unidentified", "D_offset")]


def test_an_exponent_null_only_through_its_offset_gets_the_offset_fixed():
    """alpha 'consistent with 0' only because it trades off against D_offset: with D_offset
    fixed it is -0.52 ± 0.05 (the CHX matrix). The sample ages, so the remedy fixes D_offset
    alone, and widens D0's bound, which its refitted value reaches within 3σ."""
    (d,) = diagnosis.diagnose(CHX_REASONS, _profiled(-0.521, 0.046))
    assert d["cause"] == "degenerate_D_offset"
    assert d["remedy"] == {"analysis": {"fixed": ["D_offset"], "initial": {"D_offset": 0.0},
                                        "bounds": {"D0": [100.0, 1e6]}}}
    assert "-0.521 ± 0.046 with D_offset fixed at 0" in d["finding"]
    assert set(d["explains"]) == {quality.label(x) for x in CHX_REASONS}
    (inside,) = diagnosis.diagnose(CHX_REASONS, _profiled(-0.521, 0.046, d0=3e4, d0_sigma=1e3))
    assert "bounds" not in inside["remedy"]["analysis"]


def test_an_exponent_null_also_with_its_offset_fixed_is_a_stationary_sample():
    """The yolk pattern: with D_offset fixed alpha is 0.09 ± 0.10, still 0: stationary."""
    (d,) = diagnosis.diagnose(CHX_REASONS, _profiled(0.09, 0.10))
    assert d["cause"] == "degenerate_alpha"
    assert d["remedy"]["analysis"]["fixed"] == ["alpha", "D_offset"]


@pytest.mark.parametrize("alpha, sigma, null", [
    (0.003, 5.0, True),      # |alpha| < 0.05 whatever its 1σ
    (-0.2, 0.197, True),     # within 2σ, 1σ small enough to mean something (CHX)
    (-0.2, 0.6, False),      # 1σ 0.6: undetermined, not zero
    (0.3, 0.1, False),       # 3σ from 0
])
def test_zero_exponent_rule(alpha, sigma, null):
    fit = diagnosis.Fit(nlsq_record(values={"alpha": alpha}, sigma={"alpha": sigma}))
    assert fit.is_null("alpha") is null


def test_steady_shear_fixes_beta_and_the_shear_offset():
    record = nlsq_record("laminar_flow", values={"alpha": 0.8, "beta": 0.01},
                         sigma={"alpha": 0.01, "beta": 0.3})
    reasons = [r("unidentified", "gamma_dot_t_offset"), r("unidentified", "beta")]
    (d,) = diagnosis.diagnose(reasons, record)
    assert d["cause"] == "degenerate_beta"
    assert d["remedy"]["analysis"]["fixed"] == ["beta", "gamma_dot_t_offset"]


def test_a_model_that_cannot_describe_the_data_is_the_only_diagnosis():
    record = nlsq_record(values={"alpha": 0.0}, chi2=7676.0)
    reasons = [r("chi2", severity="failed"), *STATIONARY_REASONS]
    (d,) = diagnosis.diagnose(reasons, record)
    assert d["cause"] == "model_mismatch" and d["remedy"] == {}
    assert "--add-baseline 1.0" in d["finding"]
    assert "property of the data" in d["remedy_text"]


def test_local_minimum_and_shared_scaling():
    reasons = [r("decay_mismatch"), r("chi2")]
    (d,) = diagnosis.diagnose(reasons, nlsq_record(values={"alpha": 0.5},
                                                   sigma={"alpha": 0.01}))
    assert d["cause"] == "local_minimum" and d["remedy"] == {"nlsq": {"multistart": 20}}
    (d,) = diagnosis.diagnose(reasons, nlsq_record(values={"alpha": 0.5},
                                                   sigma={"alpha": 0.01},
                                                   per_angle_mode="constant"))
    assert d["remedy"] == {"analysis": {"per_angle_mode": "auto"}}


def test_sampling_alone_doubles_warmup_and_samples():
    record = nlsq_record(values={"alpha": 0.5}, sigma={"alpha": 0.01})
    (d,) = diagnosis.diagnose([r("r_hat", "D0"), r("divergences")], record,
                              {"warmup": 150, "samples": 300, "target_accept": 0.85})
    assert d["remedy"] == {"cmc": {"warmup": 300, "samples": 600, "target_accept": 0.95}}


ALL_REASONS = [r("at_bound", "D0"), r("unidentified", "D0"), r("unidentified", "D_offset"),
               r("r_hat", "D0"), r("divergences"), r("decay_mismatch"), r("chi2"),
               r("at_bound", "alpha"), r("ess", "alpha"), r("at_bound", "offset_0"),
               r("posterior_mode", severity="failed")]


@pytest.mark.parametrize("alpha, sigma", [(0.0, 0.01), (0.5, 0.01), (-0.2, 0.2)])
def test_remedies_never_contradict_and_each_reason_has_at_most_one_cause(alpha, sigma):
    """Every subset of reasons (up to four at a time): the remedies merge without a clash
    and no reason is claimed twice; the merged remedy pastes into a config that loads."""
    record = nlsq_record(values={"alpha": alpha, "D0": 1e5}, sigma={"alpha": sigma})
    for k in range(1, 5):
        for subset in itertools.combinations(ALL_REASONS, k):
            found = diagnosis.diagnose(list(subset), record, {"warmup": 100, "samples": 200})
            claimed = [label for d in found for label in d["explains"]]
            assert len(claimed) == len(set(claimed)), subset
            diagnosis.combined_remedy(found)  # raises on a clash


def test_combined_remedy_refuses_a_clash():
    a = {"remedy": {"nlsq": {"multistart": 20}}}
    b = {"remedy": {"nlsq": {"multistart": 40}}}
    with pytest.raises(ValueError, match=r"nlsq\.multistart"):
        diagnosis.combined_remedy([a, b])


@pytest.mark.parametrize("reasons, values, sigma", [
    (STATIONARY_REASONS, {"alpha": 0.003}, {"alpha": 0.02}),
    ([r("at_bound", "D0")], {"D0": 1e5, "alpha": 0.5}, {"alpha": 0.05}),
    ([r("decay_mismatch")], {"alpha": 0.5}, {"alpha": 0.05}),
    ([r("r_hat", "D0")], {"alpha": 0.5}, {"alpha": 0.05}),
])
def test_the_printed_remedy_pastes_into_the_dataset_entry(tmp_path, reasons, values, sigma):
    """The line the user copies is YAML that, under the dataset's entry of the config
    `homodyne config` writes, gives a config that loads and carries the change."""
    (d,) = diagnosis.diagnose(reasons, nlsq_record(values=values, sigma=sigma),
                              {"warmup": 100, "samples": 200})
    assert yaml.safe_load(d["remedy_text"]) == d["remedy"]
    (tmp_path / "c.yaml").write_text(render("static"))
    config = read_yaml(tmp_path / "c.yaml")
    config["datasets"] = [{"name": "x", "file": "x.h5", "q": 0.005,
                           **yaml.safe_load(d["remedy_text"])}]
    config["analysis"]["dt"] = 0.1
    ds = parse_config(config).datasets[0]
    (section, change), = d["remedy"].items()
    got = getattr(ds, section)
    for key, value in change.items():
        have = getattr(got, key)
        if key == "fixed":
            assert list(have) == value
        elif key in ("initial", "bounds"):
            assert {k: list(v) if isinstance(v, tuple) else v for k, v in have.items()
                    if k in value} == value
        else:
            assert have == value


def test_validate_sees_a_stationary_matrix_before_any_fit():
    flat = np.array([[1.50, 1.42, 1.61, 1.55, 1.47]])
    d = diagnosis.stationary_from_ageing(flat, "static")
    assert d["cause"] == "degenerate_alpha"
    assert d["remedy"]["analysis"]["fixed"] == ["alpha", "D_offset"]
    ageing = np.array([[0.7, 0.9, 1.2, 1.5, 2.0]])
    assert diagnosis.stationary_from_ageing(ageing, "static") is None
    assert diagnosis.stationary_from_ageing(flat, "static", fixed=("alpha", "D_offset")) is None


def test_a_skewed_uncertainty_alone_is_a_property_of_the_data():
    """The yolk matrix after its remedy: D0 alone, χ² rising 4.9 and 16.9 times the
    quadratic at ∓3σ: no setting changes it; the Bayesian interval is the one to quote."""
    record = nlsq_record(values={"D0": 1036.0}, sigma={"D0": 235.0},
                         fixed=("alpha", "D_offset"))
    skew = quality.linearity_reasons({"D0": [4.89, 16.9]})
    (d,) = diagnosis.diagnose(skew, record, {"warmup": 100, "samples": 200})
    assert d["cause"] == "skewed_uncertainty" and d["remedy"] == {}
    assert "property of the data" in d["finding"] and "Bayesian interval" in d["finding"]
    (d,) = diagnosis.diagnose(skew, record)  # NLSQ only: run the Bayesian step
    assert "--method both" in d["finding"]


def test_a_skewed_uncertainty_is_worded_true_for_one_and_for_several_parameters():
    """Issue 21: the demo's diagnosis named gamma_dot_t0, beta and gamma_dot_t_offset and
    said "no other parameter shares the valley"; the words now hold for one and for
    several, and name no valley the diagnosis has not seen."""
    record = nlsq_record(mode="laminar_flow", values={"beta": 0.4}, sigma={"beta": 0.05})
    names = ["gamma_dot_t0", "beta", "gamma_dot_t_offset"]
    several = quality.linearity_reasons({n: [12.0, 30.0] for n in names})
    (d,) = diagnosis.diagnose(several, record, {"warmup": 100, "samples": 200})
    assert d["cause"] == "skewed_uncertainty"
    assert "determine gamma_dot_t0, beta, gamma_dot_t_offset with skewed" in d["finding"]
    assert "along each of them" in d["finding"] and "do not describe them" in d["finding"]
    (d,) = diagnosis.diagnose(several[1:2], record, {"warmup": 100, "samples": 200})
    assert "determine beta with a skewed" in d["finding"]
    assert "along it" in d["finding"] and "does not describe it" in d["finding"]
    for found in (diagnosis.diagnose(several, record)[0], d):
        assert "shares the valley" not in found["finding"]
        assert "no other parameter" not in found["finding"]


def test_contrast_and_offset_trading_off_is_a_slow_decay_not_a_bound_to_widen():
    record = nlsq_record(values={"alpha": 0.5}, sigma={"alpha": 0.01})
    reasons = [r("correlated", "contrast_2", partner="offset_2"), r("at_bound", "offset_2"),
               r("unidentified", "offset_2")]
    (d,) = diagnosis.diagnose(reasons, record)
    assert d["cause"] == "slow_decay" and d["remedy"] == {}
    assert "angle index 2" in d["finding"] and "baseline" in d["finding"]
