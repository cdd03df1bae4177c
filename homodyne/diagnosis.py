"""One cause, one remedy: the diagnosis above the checks of :mod:`homodyne.quality`.

The checks report what they see, one number each, and several of them often see one cause.
For a nearly stationary sample D(t) = D0·t^alpha + D_offset has alpha ≈ 0, D0 and D_offset
become one parameter, and five checks fire: D0 at a bound ("widen the bound"), D0 and
D_offset unidentified ("narrow the bounds"), R-hat ("more warmup"), prior-dominated...
Each hint is right about its own number, and together they contradict each other and miss
the cause (issue 21).  :func:`diagnose` names the cause, lists the reasons it explains, and
gives one remedy as a config change to paste; the reasons it does not explain keep their
own hints.

A diagnosis is ``{cause, finding, remedy, explains}``: ``remedy`` is a mapping of config
keys to set (``{"analysis": {"fixed": [...], "initial": {...}}}``, pasted under the dataset
entry, which overrides the top-level keys one level deep), or ``{}`` when no setting can
change the finding (a property of the data: the message says which); ``explains`` the
``"check parameter"`` labels of the reasons it accounts for.  The causes are tried in
order, and each one sees only the reasons the earlier ones left unexplained, so two
diagnoses never claim one reason; :func:`combined_remedy` merges the remedies and raises
if two set one key differently (a test runs every diagnosis through it).

The functions here are pure: they read the NLSQ record (``nlsq_results.json``: parameter
values, 1σ, fixed flags, and the settings the fit ran with), the merged verdict and, where
the Bayesian step ran, its settings; :func:`stationary_from_ageing` reads the model-free
decay times (:mod:`homodyne.twotime`) so that ``homodyne validate`` can give the same
diagnosis before any fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from homodyne import quality

DEGENERACY_CHECKS = frozenset({
    "at_bound", "unidentified", "correlated", "not_moved", "r_hat", "ess", "divergences",
    "posterior_at_bound", "prior_dominated", "nlsq_disagrees", "heterogeneous",
})
"""Checks a degenerate combination of parameters makes fire: its members run along the
valley to bounds, have huge or ill-defined 1σ, and the sampler crawls along the valley."""

SAMPLING_CHECKS = frozenset({"r_hat", "ess", "divergences"})
"""Checks of the sampler itself (a parameter-free ``divergences`` included)."""

SAMPLER_CHECKS = SAMPLING_CHECKS | {"posterior_mode", "posterior_at_bound", "prior_dominated",
                                    "nlsq_disagrees"}
"""Checks of the posterior draws that chains crawling along a degenerate valley upset for
every parameter, not only the valley's: they cannot be judged before the degeneracy is
removed."""

NULL_SIGMAS = 2.0
"""An exponent within this many 1σ of 0 is zero as far as the data can tell."""

NULL_SIGMA_MAX = 0.5
"""...provided that 1σ is below this: an exponent known only to ±0.5 or worse is not
"consistent with 0", it is undetermined, and fixing it at 0 would be a guess."""

NULL_EXPONENT = 0.05
"""An exponent this close to 0 is zero for any 1σ: t^0.05 changes by 20 % over the
four decades of age a measurement spans at most."""

STATIONARY_SPREAD = 0.25
"""Model-free 1/e decay times of every age window within ±25 % of their median: no ageing
the D(t) exponent could resolve (the decay-time estimate of one window scatters by 10-20 %
on the real matrices)."""

DEGENERATE_FAMILIES = (
    ("D0", "alpha", "D_offset", "stationary within noise", "D(t) = D0·t^alpha + D_offset"),
    ("D0_ref", "alpha_ref", "D_offset_ref", "reference stationary within noise",
     "the reference D(t)"),
    ("D0_sample", "alpha_sample", "D_offset_sample", "sample stationary within noise",
     "the sample D(t)"),
    ("gamma_dot_t0", "beta", "gamma_dot_t_offset", "steady shear within noise",
     "γ̇(t) = gamma_dot_t0·t^beta + gamma_dot_t_offset"),
    ("v0", "beta", "v_offset", "steady flow within noise", "v(t) = v0·t^beta + v_offset"),
)
"""``(prefactor, exponent, offset, what it means, the law)``: every power law with an offset
in the models.  With the exponent at 0 prefactor and offset add up to one number."""

WIDEN_FACTOR = 10.0
"""A bound the fit ran into because the data lie beyond it is moved this factor further
out (upper bounds of positive parameters times 10, others by 9 ranges)."""


def _flow(value) -> str:
    """A value as one line of YAML flow style (``{fixed: [alpha, D_offset]}``)."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def remedy_text(remedy: Mapping) -> str:
    """The remedy as one line of YAML to paste under the dataset's entry of the config, or
    the reason why there is none."""
    if not remedy:
        return "none, a property of the data"
    (key, value), = remedy.items()
    return f"{key}: {_flow(value)}"


def diagnosis(cause: str, finding: str, remedy: Mapping, explains: Sequence[Mapping]) -> dict:
    """One diagnosis record (see the module docstring); ``remedy`` sets keys of at most one
    config section, so that it is one line to paste."""
    return {"cause": cause, "finding": finding, "remedy": dict(remedy),
            "remedy_text": remedy_text(remedy),
            "explains": list(dict.fromkeys(quality.label(r) for r in explains))}


def is_null(value: float, sigma: float) -> bool:
    """An exponent that is zero as far as the data can tell: within :data:`NULL_EXPONENT`
    of 0, or within :data:`NULL_SIGMAS` of a 1σ below :data:`NULL_SIGMA_MAX`.  The NLSQ fit
    (:func:`homodyne.nlsq.fit`, its offset profiles) and the diagnosis share it."""
    return abs(value) < NULL_EXPONENT or (math.isfinite(sigma) and sigma < NULL_SIGMA_MAX
                                          and abs(value) <= NULL_SIGMAS * sigma)


class Fit:
    """What the diagnoses read of an NLSQ record: values, 1σ, which are free, the settings."""

    def __init__(self, nlsq: Mapping, cmc_settings: Mapping | None = None):
        params = nlsq.get("parameters", {})
        self.value = {n: float(p["value"]) for n, p in params.items()}
        self.sigma = {n: float(p["uncertainty"]) if p.get("uncertainty") is not None
                      else math.inf for n, p in params.items()}
        self.free = {n for n, p in params.items() if not p.get("fixed")}
        self.mode = nlsq.get("mode")
        self.reduced_chi2 = nlsq.get("reduced_chi2")
        settings = nlsq.get("settings") or {}
        self.analysis = settings.get("analysis") or {}
        self.nlsq = settings.get("nlsq") or {}
        self.cmc = cmc_settings or {}
        self.profiles = nlsq.get("profiles") or {}

    def is_null(self, name: str) -> bool:
        """The exponent ``name`` is zero as far as the data can tell."""
        return is_null(self.value[name], self.sigma[name])


def widened(bounds: Sequence[float], upper: bool) -> list[float]:
    """``[lo, hi]`` moved :data:`WIDEN_FACTOR` outward on one side: a positive upper bound
    times 10, a positive lower bound divided by 10, others by 9 ranges."""
    lo, hi = bounds
    if upper:
        return [lo, hi * WIDEN_FACTOR if lo > 0 else hi + (WIDEN_FACTOR - 1) * (hi - lo)]
    return [lo / WIDEN_FACTOR if lo > 0 else lo - (WIDEN_FACTOR - 1) * (hi - lo), hi]


def fixing(already: Sequence[str], values: Mapping[str, float]) -> dict:
    """The ``analysis`` remedy holding ``values`` fixed, keeping the names the config fixes
    ``already`` (a dataset's ``fixed`` replaces the top-level list, it is not added to it)."""
    fixed = [*already, *(n for n in values if n not in already)]
    return {"analysis": {"fixed": fixed, "initial": dict(values)}}


# ------------------------------------------------------------------------------ causes


def model_mismatch(fit: Fit, reasons: Sequence[Mapping]) -> dict | None:
    """χ²_red far above 1: the model cannot describe the data; every other reason follows."""
    failed = [r for r in reasons if r["check"] in ("chi2", "noise_scale")
              and r["severity"] == quality.FAILED]
    if not failed:
        return None
    chi2 = fit.reduced_chi2
    return diagnosis("model_mismatch", (
        f"χ²_red = {chi2:.4g}: the residuals are {math.sqrt(chi2):.2g} times the noise, so the "
        f"{fit.mode} model cannot describe these data, and every other reason follows from "
        "that; check the data scale (a matrix stored as c2 - 1 needs import-matrix "
        "--add-baseline 1.0), then q and dt against the experiment"),
        {}, reasons)


def degenerate_power_law(fit: Fit, reasons: Sequence[Mapping]) -> list[dict]:
    """An exponent at 0 with prefactor and offset both free: prefactor + offset is all the
    data determine (stationary dynamics, steady shear): fix the exponent and the offset at 0.
    Unless the exponent is only "consistent with 0" because it trades off against the
    offset: refitted with the offset fixed at 0 (the fit's ``profiles``) it is clearly not
    0, and then the offset is the one parameter too many: fix it at 0."""
    out = []
    for pre, exp, off, what, law in DEGENERATE_FAMILIES:
        members = {pre, exp, off}
        if not members <= fit.free or not fit.is_null(exp):
            continue
        own = [r for r in reasons if r["check"] in DEGENERACY_CHECKS
               and (r.get("parameter") in members or r.get("partner") in members)]
        if not own:
            continue
        seen = own + [r for r in reasons if r["check"] in SAMPLER_CHECKS and r not in own]
        v, s = fit.value[exp], fit.sigma[exp]
        profile = fit.profiles.get(exp)
        if profile and not is_null(profile["value"], profile["uncertainty"]):
            remedy = fixing(fit.analysis.get("fixed", []), {off: 0.0})
            near = _near_bound(fit, pre, profile["prefactor_value"],
                               profile["prefactor_uncertainty"])
            if near is not None:
                remedy["analysis"]["bounds"] = {pre: near}
            out.append(diagnosis("degenerate_" + off, (
                f"{exp} and {off} trade off: {exp} = {v:.3g} ± {s:.2g} with {off} free, but "
                f"{profile['value']:.3g} ± {profile['uncertainty']:.2g} with {off} fixed at 0 "
                f"(χ² {profile['delta_chi2']:+.3g} χ²_red units), so the dynamics change with "
                f"time and in {law} the offset {off} is the parameter the data do not "
                f"determine; fix {off} = 0"
                + (f" and widen the bounds of {pre} to {near} ({pre} = "
                   f"{profile['prefactor_value']:.4g} ± {profile['prefactor_uncertainty']:.2g} "
                   "then, within 3σ of its bound)" if near else "")
                + " (the sampler's checks are judged again after that)"), remedy, seen))
            continue
        out.append(diagnosis("degenerate_" + exp, (
            f"{what}: {exp} = {v:.3g} ± {s:.2g} is 0 as far as the data tell, so in {law} "
            f"{pre} and {off} are one parameter; fix {exp} = 0 and {off} = 0 ({pre} is then "
            "the constant rate; the sampler's checks are judged again after that)"),
            fixing(fit.analysis.get("fixed", []), {exp: 0.0, off: 0.0}), seen))
    return out


def _near_bound(fit: Fit, name: str, value: float, sigma: float) -> list[float] | None:
    """The bounds of ``name`` widened on the side that ``value ± 3σ`` reaches (a posterior
    there is cut off by the bound), or None when it stays inside."""
    lo, hi = fit.analysis.get("bounds", {}).get(name, (None, None))
    if lo is None or not (math.isfinite(value) and math.isfinite(sigma)):
        return None
    reach = quality.BOUND_SDS * sigma
    if value + reach >= hi:
        return widened((lo, hi), upper=True)
    if value - reach <= lo:
        return widened((lo, hi), upper=False)
    return None


SCALING = ("contrast", "offset")
"""The per-angle scaling parameters (``contrast_<k>``, ``offset_<k>``)."""


def scaling_tradeoff(fit: Fit, reasons: Sequence[Mapping]) -> dict | None:
    """Contrast and offset of an angle trading off (correlated, unidentified or at a bound),
    or the data check ``frames``: the decay does not reach its baseline inside the frames,
    so where c2 levels off is not in the data.  A property of the data; the physical
    parameters, which the decay's start determines, are not affected unless named."""
    seen = [r for r in reasons if r["check"] == "frames" or (
        r["check"] in ("correlated", "unidentified", "at_bound")
        and str(r.get("parameter")).startswith(SCALING))]
    if not seen:
        return None
    angles = sorted({str(r["parameter"]).rsplit("_", 1)[-1] for r in seen
                     if r.get("parameter")})
    where = f" (angle index {', '.join(angles)})" if angles else ""
    return diagnosis("slow_decay", (
        f"the decay does not reach its baseline within the frames{where}: contrast and "
        "offset trade off because where c2 levels off is not in the data. This is a "
        "property of the data (a longer measurement, or frames of a later time, would "
        "separate them), which no setting changes"), {}, seen)


def bound_too_narrow(fit: Fit, reasons: Sequence[Mapping]) -> list[dict]:
    """A parameter at a bound of an otherwise good fit: the data lie beyond the bound."""
    out = []
    for r in reasons:
        n = r.get("parameter")
        if r["check"] != "at_bound" or n not in fit.value:
            continue
        lo, hi = fit.analysis.get("bounds", {}).get(n, (None, None))
        if lo is None:
            continue
        upper = abs(fit.value[n] - hi) < abs(fit.value[n] - lo)
        new = widened((lo, hi), upper)
        same = [x for x in reasons if x.get("parameter") == n and x is not r
                and x["check"] in DEGENERACY_CHECKS]
        out.append(diagnosis("bound_" + n, (
            f"{n} ran into its {'upper' if upper else 'lower'} bound "
            f"{hi if upper else lo:g}: the data want it beyond; widen the bound (if the "
            f"physics allows a value there; otherwise fix {n} on physical grounds)"),
            {"analysis": {"bounds": {n: new}}}, [r, *same]))
    return out


def skewed_uncertainty(fit: Fit, reasons: Sequence[Mapping]) -> dict | None:
    """χ² far from quadratic along a parameter no degeneracy explains (the earlier causes
    took those): the data determine it, with an uncertainty too skewed for a 1σ (few frames
    or points, a rate known to tens of %).  A property of the data; the Bayesian posterior
    follows the skew, so its interval is the one to quote."""
    seen = [r for r in reasons if r.get("profile") is not None]
    if not seen:
        return None
    names = list(dict.fromkeys(r["parameter"] for r in seen))
    where = ("quote the Bayesian interval (cmc_hdi_3 .. cmc_hdi_97), which follows the skew"
             if fit.cmc else "run the Bayesian step (homodyne run --method both, or the "
             "workflow) and quote its interval")
    one = len(names) == 1
    return diagnosis("skewed_uncertainty", (
        f"the data determine {', '.join(names)} with "
        f"{'a skewed, non-Gaussian uncertainty' if one else 'skewed, non-Gaussian uncertainties'}"
        f" (χ² is not quadratic within 3σ along {'it' if one else 'each of them'}, and no "
        "exponent at 0, bound or decay slower than the frames explains that): the NLSQ 1σ "
        f"{'does not describe it' if one else 'do not describe them'}; {where}. This is a "
        "property of the data (few frames or points for this rate), which no setting "
        "changes"), {}, seen)


def local_minimum(fit: Fit, reasons: Sequence[Mapping]) -> dict | None:
    """Signs that the fit stopped short of the best optimum, or that a per-angle scaling the
    config shares cannot follow the data."""
    seen = [r for r in reasons if r["check"] in
            ("decay_mismatch", "remaining_chi2", "chi2", "posterior_mode", "nlsq_disagrees")]
    if not any(r["check"] in ("decay_mismatch", "remaining_chi2", "posterior_mode")
               for r in seen):
        return None
    if fit.analysis.get("per_angle_mode") == "constant":
        return diagnosis("shared_scaling", (
            "the fitted model misses the data's decay while the config shares one contrast "
            "and offset across the angles: if they vary with angle, one pair cannot follow "
            "the data; let the data decide"), {"analysis": {"per_angle_mode": "auto"}}, seen)
    starts = int(fit.nlsq.get("multistart", 0) or 0)
    return diagnosis("local_minimum", (
        "the fit misses the data's one-time g2 (or stopped before the minimum): most likely "
        "a local minimum; search wider"), {"nlsq": {"multistart": max(20, 2 * starts)}}, seen)


def sampling(fit: Fit, reasons: Sequence[Mapping]) -> dict | None:
    """The sampler alone (R-hat, ESS, divergences) with nothing else to blame: sample longer."""
    seen = [r for r in reasons if r["check"] in SAMPLING_CHECKS]
    if not seen:
        return None
    warmup, samples = int(fit.cmc.get("warmup", 100)), int(fit.cmc.get("samples", 200))
    change = {"warmup": 2 * warmup, "samples": 2 * samples}
    if any(r["check"] == "divergences" for r in seen):
        change["target_accept"] = max(0.95, float(fit.cmc.get("target_accept", 0.85)))
    return diagnosis("sampling", (
        "the chains did not converge or mix well enough, after the automatic continuation; "
        "sample longer"), {"cmc": change}, seen)


CAUSES: tuple[Callable[[Fit, Sequence[Mapping]], dict | list[dict] | None], ...] = (
    degenerate_power_law, scaling_tradeoff, bound_too_narrow, skewed_uncertainty,
    local_minimum, sampling)
"""Tried in this order after :func:`model_mismatch`: a degeneracy explains the bounds and
the sampler's trouble along its valley; a baseline outside the data explains the scaling's
bounds; a bound explains the misfit it forces."""


def diagnose(reasons: Sequence[Mapping], nlsq: Mapping,
             cmc_settings: Mapping | None = None) -> list[dict]:
    """The diagnoses of a dataset's reasons (see the module docstring), most basic first."""
    fit = Fit(nlsq, cmc_settings)
    mismatch = model_mismatch(fit, reasons)
    if mismatch:
        return [mismatch]
    left, out = list(reasons), []
    for cause in CAUSES:
        found = cause(fit, left)
        for d in [found] if isinstance(found, dict) else found or []:
            out.append(d)
            left = [r for r in left if quality.label(r) not in d["explains"]]
    combined_remedy(out)
    return out


def combined_remedy(diagnoses: Sequence[Mapping]) -> dict:
    """All remedies as one config change; raises ValueError if two set one key differently
    (they never should: each cause sees only the reasons the earlier ones left)."""
    merged: dict = {}
    for d in diagnoses:
        for section, keys in d["remedy"].items():
            target = merged.setdefault(section, {})
            for key, value in keys.items():
                if key in target and isinstance(value, Mapping):
                    clash = {k for k in value if k in target[key] and target[key][k] != value[k]}
                    if clash:
                        raise ValueError(f"remedies disagree on {section}.{key}: {clash}")
                    target[key] = {**target[key], **value}
                elif key in target and key == "fixed":
                    target[key] = [*target[key], *(n for n in value if n not in target[key])]
                elif key in target and target[key] != value:
                    raise ValueError(f"remedies disagree on {section}.{key}")
                else:
                    target[key] = value
    return merged


def stationary_from_ageing(decay_times: np.ndarray, mode: str,
                           fixed: Sequence[str] = ()) -> dict | None:
    """Before any fit (``homodyne validate``): the model-free 1/e decay times of every age
    window agree within :data:`STATIONARY_SPREAD`, so the data show no ageing and the
    transport exponent will come out at 0.  ``decay_times``: ``(angles, windows)`` seconds,
    NaN where a window has no decay time; ``fixed``: what the config fixes already."""
    from homodyne.params import names as parameter_names

    if "alpha" not in parameter_names(mode) or {"alpha", "D_offset"} <= set(fixed):
        return None
    tau = np.asarray(decay_times, dtype=np.float64)
    rows = [row[np.isfinite(row)] for row in np.atleast_2d(tau)]
    rows = [row for row in rows if row.size >= 3]
    if not rows:
        return None
    spread = max(float(np.max(np.abs(row / np.median(row) - 1.0))) for row in rows)
    if spread > STATIONARY_SPREAD:
        return None
    return diagnosis("degenerate_alpha", (
        f"stationary within noise: the model-free decay times of every age window agree "
        f"within {spread * 100:.0f} % (limit {STATIONARY_SPREAD * 100:.0f} %), so alpha will "
        "be 0 and D0 and D_offset one parameter; fix alpha = 0 and D_offset = 0 before "
        "fitting"), fixing(fixed, {"alpha": 0.0, "D_offset": 0.0}), [])
