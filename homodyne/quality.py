"""Can this result be trusted?  One verdict per result, with the reasons and their remedies.

Scientists publish the numbers this package prints, so every result file carries
``quality: {verdict: ok | warning | failed, reasons: [...]}``.  Each reason is a mapping::

    {"check": "at_bound", "parameter": "D0", "severity": "warning",
     "message": "D0 = 99,999.998 is within 2e-06 % of its upper bound 100,000 ..."}

naming the check, the parameter (``None`` for checks of the whole result), how serious it is
and, in words, the number behind it and what to do.  ``failed`` means the numbers must not
be used (the model cannot describe the data, the solver or sampler did not converge);
``warning`` means some numbers are usable and the reasons say which are not.

The checks are small pure functions of numbers (no files, no JAX), one per concern; the
callers read the files (the load step, ``homodyne validate``, the matrix importer), so this
module imports nothing of the data layer, whose importer runs these checks:

- :func:`nlsq_reasons` / :func:`nlsq_verdict`: bounds, unidentified parameters, correlated
  pairs, χ²_red, convergence, parameters that did not move.
- :func:`cmc_reasons` / :func:`cmc_verdict`: R-hat, ESS, divergences, posterior against a
  bound, prior-dominated parameters, the noise scale, the consensus k̂, NLSQ vs posterior.
- :func:`data_reasons`: a c2 stack before any fit (baseline, contrast, triangles,
  non-finite values, decay inside the frame window).

Every threshold is a named constant below with the reason for its value; the README section
"Can I trust this fit?" explains each check and its remedy to users.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

OK, WARNING, FAILED = "ok", "warning", "failed"

# ------------------------------------------------------------------------------ thresholds

BOUND_FRACTION = 1e-3
"""A value closer than this fraction of its bound range (upper - lower) to a bound is "at"
the bound.  Solvers stop a hair inside a bound (D0 = 99,999.998 against 1e5), so an exact
comparison never fires; 0.1 % of the range is far below any uncertainty a constrained
parameter has and far above solver round-off."""

SIGMA_RANGE_FRACTION = 0.25
"""A 1σ uncertainty larger than this fraction of the bound range means the data do not
determine the parameter: its ±1σ interval already covers half of everything allowed."""

CORRELATION_MAX = 0.99
"""|correlation| above this with an unidentified parameter: that partner is named, since
fixing either one usually makes the other identifiable."""

CORRELATION_DEGENERATE = 0.9999
"""|correlation| above this between two parameters flags the pair even when each σ looks
acceptable: the marginal σ is then more than 70 times the σ at a fixed partner, the data
determine one combination of the two, and the fit is numerically degenerate.  (The demo's
shear parameters reach 0.9994 while each is determined to about 10 %: not a defect.)"""

CHI2_WARNING = (0.5, 2.0)
"""χ²_red outside this range, with σ estimated from the data: the noise estimate is off or
the model misses structure.  The statistical spread of χ²_red (√(2/dof)) is below 0.01 for
the 10⁴-10⁶ points of a real fit, so a value outside [0.5, 2] is never noise; the margin
is that wide because the data-driven noise estimate itself is only good to tens of percent
on real detectors."""

CHI2_FAILED = 10.0
"""χ²_red above this, with σ estimated from the data: residuals are more than √10 ≈ 3 times
the noise, so the model does not describe the data (wrong data scale, wrong model)."""

CHI2_MODEL_MARGIN = 0.02
"""χ²_red may exceed 1 by this much before it counts as excess (with σ from the data): the
noise estimate is good to about 1 % on simulated data (the truth gives χ²_red 0.996-1.005 in
the battery of benchmarks/README.md), and real data carry some structure no model
describes.  With a million points, χ²_red 1.04 is not "close to 1": the χ² is then about
40,000 units above what the noise explains, the size of a wrong optimum."""

CHI2_EXCESS_SIGMAS = 5.0
"""...plus this many standard deviations of χ²_red (√(2/dof)) for small fits."""

REMAINING_CHI2 = (1.0, 25.0)
"""The χ² (in units of χ²_red) a Gauss-Newton step from the reported values still removes
(evaluated, not predicted): above 1 (warning) the values may be a standard deviation from
the minimum; above 25 (failed) they are five or more away, whatever the solver reported."""

DECAY_SCORE_MARGIN = 0.5
"""An angle's one-time g2 misfit score (mean z² over the lags, 1 for a model that follows
the data within their scatter) may exceed 1 by this much before it counts: the scatter of a
lag's pairs understates the error of their mean when neighbouring pairs share noise."""

DECAY_SCORE_SIGMAS = 5.0
"""...plus this many standard deviations of a mean of z² (√(2/lags))."""

QUADRATIC_RANGE = (0.5, 10.0)
"""3σ from the optimum along a parameter (its correlated partners following), a quadratic χ²
rises by 9; the rise over 9 must stay in this range for the 1σ to mean what it says.  Below
0.5 the valley is flatter than the 1σ says (the uncertainty is larger).  A straight probe of
a gently curved valley rises faster than 9 without the 1σ being wrong: the shear parameters
of the 23 × 300 production dataset give 3.3-3.6 while their posterior sd equals the NLSQ 1σ
within 10 % (benchmarks/README.md); the curved valleys of a degenerate combination, where
the truth lay 5-12 linearised σ away at a χ² only 7.6 above the optimum, gave 40-4000 (the
battery's nearly stationary and beta ≈ 0 cases)."""

OPTIMA_SIGMAS = 3.0
"""Two optima are distinct when some free physical parameter differs by more than this
many 1σ."""

OPTIMA_CHI2 = 25.0
"""A distinct optimum within this Δχ² (units of χ²_red) of the best is a rival the data
cannot rule out (a likelihood ratio below e^12.5 ≈ 3·10⁵ against it)."""

R_HAT_WARNING = 1.05
"""Rank-normalised split R-hat above this: the chains disagree.  Vehtari et al. (2021)
recommend 1.01 for runs with a bulk ESS above 400; at the ESS of 100 accepted below, chain
means of converged chains already scatter by ~0.2 posterior sd, which alone gives R-hat up
to ~1.02-1.03 (the demo: 1.017).  1.05 flags chain means ~0.3 sd apart: more than sampling
noise."""
R_HAT_FAILED = 1.1
"""R-hat above this: the chains sample different distributions; the posterior is unusable."""

ESS_MIN = 100
"""Bulk and tail ESS below this: the Monte Carlo error of the mean exceeds a tenth of the
posterior sd (MCSE = sd/√ESS), and the 3 %/97 % quantiles of the reported 94 % interval are
no longer reliable."""

DIVERGENCE_RATE_WARNING = 0.01
"""Divergent transitions in more than this fraction of the draws of the shards used: NUTS
systematically fails to explore part of the posterior (Betancourt 2017).  A handful in
thousands of draws (the demo: 3 of 1 800) is reported in mcmc_diagnostics.json but is not a
reason to distrust the mean and sd."""

BOUND_SDS = 3.0
"""A posterior mean within this many posterior sds of a bound is cut off by the bound: a
normal posterior would put more than 0.1 % of its mass beyond it, so its sd understates
what the data allow."""

PRIOR_SD_RATIO = 0.5
"""Posterior sd above this fraction of the (whole, untempered) prior sd: the data narrowed
the prior by less than a factor 2, so the prior, not the data, sets the answer."""

NOISE_SCALE_WARNING = (1 / math.sqrt(2.0), math.sqrt(2.0))
"""Sampled noise factor f outside this range; f² plays the role of χ²_red, so the range is
:data:`CHI2_WARNING` on the scale of f."""
NOISE_SCALE_FAILED = math.sqrt(CHI2_FAILED)
"""Noise factor above this: residuals are more than ~3 times the noise estimate."""

KHAT_WARNING = 0.7
"""Pareto k̂ of the consensus self-check above this: importance weights with an infinite
variance; the consensus is not a reliable stand-in for the full posterior (Vehtari et al.
2024, the threshold for any practical number of draws)."""

MEANS_SDS = 3.0
"""NLSQ value and posterior mean further apart than this many posterior sds: the two
methods disagree (a bound, a second minimum, or a prior that pulled)."""

BASELINE_REFUSED = 0.5
"""Lag-averaged c2 at long lags (the baseline) below this: not a c2 = 1 + β|g1|² matrix;
almost always a stored c2 - 1 (baseline ≈ 0).  The model's offset cannot go below 0.5
(registry), so such data cannot be fitted and are refused at import."""
BASELINE_WARNING = 0.2
"""Baseline further than this from 1: unusual normalisation; check the data scale."""

CONTRAST_MAX = 1.0
"""Contrast above the fully coherent limit: not a normalised c2."""

TRIANGLE_GAP = 0.1
"""The two triangles differ by more than this fraction of the contrast (median over
elements): they were reduced differently; use one."""

DECAY_TAIL_FRACTION = 0.2
"""Still decaying at the end of the window: the lag-averaged c2 falls by more than this
fraction of the contrast between the third and the last quarter of the lags.  The baseline
and the slow end of the dynamics are then not in the data."""

FAST_DECAY_FRACTION = 0.1
"""Decayed within about one frame: less than this fraction of the lag-1 contrast is left at
lag 2 (an exponential with a 1/e time below ~0.4 frames); the decay is not resolved."""


# --------------------------------------------------------------------------- the verdict


def reason(check: str, message: str, *, parameter: str | None = None,
           severity: str = WARNING) -> dict:
    """One reason: which check, which parameter (or None), how serious, and the words."""
    return {"check": check, "parameter": parameter, "severity": severity, "message": message}


def verdict(reasons: Iterable[Mapping]) -> dict:
    """``{verdict, reasons}``: ``failed`` if any reason failed, else ``warning`` if any,
    else ``ok``."""
    reasons = list(reasons)
    severities = {r["severity"] for r in reasons}
    worst = FAILED if FAILED in severities else WARNING if reasons else OK
    return {"verdict": worst, "reasons": reasons}


def merge(*verdicts: Mapping | None) -> dict:
    """One verdict of several results (a dataset's NLSQ and CMC), reasons in order."""
    return verdict(r for v in verdicts if v for r in v.get("reasons", []))


def label(r: Mapping) -> str:
    """``"check parameter"`` (or ``"check"``): how a diagnosis names the reasons it explains."""
    return f"{r['check']} {r['parameter']}" if r.get("parameter") else r["check"]


REMEDY_WHERE = "paste under the dataset's entry in the config"
"""Where a diagnosis's remedy goes: a dataset entry's keys override the top-level ones."""


METHOD_NAMES = {"nuts": "NUTS", "importance": "importance sampling"}
"""How the verdicts name the posterior methods (``mcmc_diagnostics.json`` → ``method``)."""


def method_label(cmc: Mapping | None) -> str:
    """The posterior method of a summary's ``cmc`` block (or ``mcmc_diagnostics.json``) for
    a verdict line: ``NUTS``, ``importance sampling``, ``NUTS (importance sampling
    failed)``; ``""`` without CMC."""
    if not cmc:
        return ""
    method = METHOD_NAMES.get(cmc.get("method") or "nuts", str(cmc.get("method")))
    fallback = (cmc.get("importance") or {}).get("fallback")
    return f"{method} (importance sampling failed)" if fallback else method


def summary_lines(quality: Mapping, name: str = "", method: str = "") -> list[str]:
    """The verdict as console lines: the head names the posterior ``method`` when there is
    one (:func:`method_label`); then each diagnosis (cause, one remedy, the reasons it
    explains), then in full the reasons no diagnosis explains."""
    head = f"{name}: " if name else ""
    by = f" (posterior: {method})" if method else ""
    lines = [f"{head}quality {quality['verdict'].upper()}{by}"]
    explained = set()
    for d in quality.get("diagnosis", []):
        where = f" ({REMEDY_WHERE})" if d["remedy"] else ""
        lines += [f"  * {d['finding']}", f"    remedy{where}: {d['remedy_text']}",
                  f"    explains: {', '.join(d['explains'])}"]
        explained.update(d["explains"])
    lines += [f"  - [{r['severity']}] {r['message']}" for r in quality["reasons"]
              if label(r) not in explained]
    return lines


def _num(x: float) -> str:
    """A number as a scientist reads it: 99,999.998 / 0.0591 / 4.4e+21."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e7 or abs(x) < 1e-3):
        return f"{x:.3g}"
    if abs(x) >= 1000:
        return f"{x:,.3f}".rstrip("0").rstrip(".")
    return f"{x:.4g}"


def _share(ratio: float) -> str:
    """``0.48`` -> ``"48 % of"``, ``4e18`` -> ``"4e+18 times"``."""
    return f"{ratio * 100:.0f} % of" if ratio < 10 else f"{ratio:.2g} times"


# ------------------------------------------------------------------------------- NLSQ


def at_bound(value: float, lower: float, upper: float) -> str | None:
    """``"lower"`` or ``"upper"`` when ``value`` is within :data:`BOUND_FRACTION` of the
    bound range from that bound, else None."""
    tol = BOUND_FRACTION * (upper - lower)
    if value <= lower + tol:
        return "lower"
    if value >= upper - tol:
        return "upper"
    return None


def bound_reasons(names, values, lower, upper, free) -> list[dict]:
    """A free parameter at a bound: the data push it out of the allowed range."""
    out = []
    for n, v, lo, hi, f in zip(names, values, lower, upper, free, strict=True):
        side = at_bound(v, lo, hi) if f else None
        if side is None:
            continue
        bound = hi if side == "upper" else lo
        gap = abs(v - bound) / (hi - lo) * 100
        out.append(reason("at_bound", (
            f"{n} = {_num(v)} is within {gap:.2g} % of its {side} bound {_num(bound)}: the "
            "data do not constrain it inside the bounds, and its uncertainty and every "
            "correlated parameter are unreliable; widen the bound if the physics allows, or "
            "fix the parameter (analysis.fixed)"), parameter=n))
    return out


def _correlations(names, covariance, free) -> list[tuple[int, int, float]]:
    """``(a, b, ρ)`` of every pair of free parameters with finite σ, from the covariance."""
    if covariance is None:
        return []
    cov = np.asarray(covariance, dtype=np.float64)
    sd = np.sqrt(np.abs(np.diag(cov)))
    idx = [k for k in range(len(names)) if free[k] and math.isfinite(sd[k]) and sd[k] > 0]
    pairs = []
    for pos, a in enumerate(idx):
        for b in idx[pos + 1:]:
            rho = cov[a, b] / (sd[a] * sd[b])
            if math.isfinite(rho):
                pairs.append((a, b, float(rho)))
    return pairs


def identifiability_reasons(names, sigma, lower, upper, free, covariance=None) -> list[dict]:
    """Unidentified parameters: σ null, infinite or wider than :data:`SIGMA_RANGE_FRACTION`
    of the range, each naming the partners it is correlated with beyond
    :data:`CORRELATION_MAX`; and pairs correlated beyond :data:`CORRELATION_DEGENERATE`.

    A correlation of 0.99 between parameters that are each well determined (σ a few % of
    the value, as for the shear parameters of the demo) is not a defect: the marginal σ
    already includes it.  It matters when it makes a σ large, so there it is named.
    """
    out = []
    pairs = _correlations(names, covariance, free)

    def partners(k: int) -> str:
        found = [(b if a == k else a, rho) for a, b, rho in pairs
                 if k in (a, b) and abs(rho) > CORRELATION_MAX]
        if not found:
            return ""
        listed = ", ".join(f"{names[j]} (ρ = {rho:+.4f})" for j, rho in found)
        return (f"; it is correlated with {listed}, so the data determine only a "
                "combination: fix one of them")

    for k, (n, s, lo, hi, f) in enumerate(zip(names, sigma, lower, upper, free, strict=True)):
        if not f:
            continue
        if s is None or not math.isfinite(s):
            out.append(reason("unidentified", (
                f"{n} has no finite uncertainty (σ = {s}): the data carry no information on "
                "it at the solution; fix it (analysis.fixed) or use data that probe it"),
                parameter=n))
        elif s > SIGMA_RANGE_FRACTION * (hi - lo):
            out.append(reason("unidentified", (
                f"{n}: 1σ = {_num(s)} is {_share(s / (hi - lo))} its bound range "
                f"[{_num(lo)}, {_num(hi)}] (limit {SIGMA_RANGE_FRACTION * 100:.0f} %): the "
                "data hardly determine it; fix it or narrow the bounds on physical grounds"
                + partners(k)), parameter=n))
    for a, b, rho in pairs:
        if abs(rho) > CORRELATION_DEGENERATE:
            out.append(reason("correlated", (
                f"{names[a]} and {names[b]} are correlated with ρ = {rho:+.6f} (|ρ| > "
                f"{CORRELATION_DEGENERATE}): the data determine only a combination of the "
                "two, so neither value alone is meaningful; fix one of them"),
                parameter=names[a]) | {"partner": names[b]})
    return out


def chi2_limit(dof: int | None) -> float:
    """The largest χ²_red a fit with ``dof`` degrees of freedom passes (σ from the data):
    ``1 + CHI2_MODEL_MARGIN + CHI2_EXCESS_SIGMAS·√(2/dof)``, never above the upper end of
    :data:`CHI2_WARNING`."""
    spread = math.sqrt(2.0 / dof) if dof and dof > 0 else 0.0
    return min(1.0 + CHI2_MODEL_MARGIN + CHI2_EXCESS_SIGMAS * spread, CHI2_WARNING[1])


def chi2_reasons(reduced_chi2: float, sigma_from_data: bool,
                 dof: int | None = None) -> list[dict]:
    """χ²_red against 1; judged only when σ was estimated from the data (a σ given in the
    config may be in arbitrary units).  Above :func:`chi2_limit` the model leaves more than
    noise: a local minimum or a model that misses structure."""
    if not math.isfinite(reduced_chi2):
        return [reason("chi2", f"χ²_red = {reduced_chi2}: the fit produced no finite residual "
                       "sum; check the data for NaN/Inf", severity=FAILED)]
    if not sigma_from_data:
        return []
    lo, hi = CHI2_WARNING[0], chi2_limit(dof)
    rule = (f"(rule: with σ estimated from the data, χ²_red should lie in [{lo:g}, {hi:.4g}]: "
            f"1 + {CHI2_MODEL_MARGIN:g} for noise-estimate error and model imperfection + "
            f"{CHI2_EXCESS_SIGMAS:g}·√(2/dof), at most {CHI2_WARNING[1]:g}; above "
            f"{CHI2_FAILED:g} the fit fails)")
    if reduced_chi2 > CHI2_FAILED:
        return [reason("chi2", (
            f"χ²_red = {_num(reduced_chi2)}: residuals are {math.sqrt(reduced_chi2):.3g} times "
            "the noise, so the model does not describe these data; check the data scale (a "
            "matrix stored as c2 - 1 needs import-matrix --add-baseline 1.0), the q and dt, "
            f"and the mode {rule}"), severity=FAILED)]
    if reduced_chi2 > hi and reduced_chi2 <= CHI2_WARNING[1]:
        excess = (reduced_chi2 - 1.0) * dof if dof else math.nan
        return [reason("chi2", (
            f"χ²_red = {reduced_chi2:.4g} is above what the noise explains (about "
            f"{excess:,.0f} χ² units over {dof or 0:,} degrees of freedom): possible "
            "local minimum, or a model that misses structure; compare data and model in "
            "twotime/one_time.png, and run with nlsq.multistart: 20 or give "
            f"analysis.initial {rule}"))]
    if reduced_chi2 > hi or reduced_chi2 < lo:
        what = ("the model misses structure in the data or the noise is underestimated"
                if reduced_chi2 > hi else "the noise is overestimated (correlated noise?)")
        return [reason("chi2", (
            f"χ²_red = {reduced_chi2:.3g}: {what}; the 1σ values are rescaled by χ²_red but "
            f"may still be off; look at the residual maps {rule}"))]
    return []


def linearity_reasons(linearity: Mapping[str, Sequence[float]]) -> list[dict]:
    """Parameters whose χ² 3σ away is far from quadratic (:data:`QUADRATIC_RANGE`): their
    1σ does not describe the uncertainty.  ``linearity`` holds every free physical parameter
    (:func:`homodyne.nlsq._linearity`).  Where several of them are far from quadratic the fit
    sits in a curved valley of those, a combination of them is what the data determine;
    where one is, alone, the others (if any are free) follow it without a valley of their
    own, and its uncertainty is skewed, which the Bayesian interval follows (a lone free
    parameter has no partner to fix)."""
    lo, hi = QUADRATIC_RANGE
    bad = {n: [r for r in ratios if math.isfinite(r)] for n, ratios in linearity.items()}
    bad = {n: r for n, r in bad.items() if r and not all(lo <= x <= hi for x in r)}
    out = []
    for n, ratios in bad.items():
        others = [m for m in linearity if m != n]
        rise = (f"3σ from the fitted value{f' ({', '.join(others)} following)' * bool(others)}"
                f" χ² rises {' and '.join(f'{x:.3g}' for x in ratios)} times what its 1σ "
                f"implies (a quadratic χ² gives 1; limits {lo:g}-{hi:g})")
        if len(bad) > 1:
            what = (f"the fit sits in a curved valley of {', '.join(bad)}, and their values "
                    "and 1σ are not reliable; the data determine a combination of them: fix "
                    "one (analysis.fixed) on physical grounds")
        else:
            alone = "" if others else ", the only free physical parameter"
            what = (f"χ² is not quadratic in {n}{alone}, so its 1σ "
                    f"{_misstates(linearity[n])}: the uncertainty is skewed; quote the "
                    "Bayesian interval (cmc_hdi_3 .. cmc_hdi_97), which follows the skew")
        out.append(reason("unidentified", f"{n}: {rise}: {what}", parameter=n)
                   | {"profile": list(ratios)})
    return out


def _misstates(ratios: Sequence[float]) -> str:
    """How a 1σ misstates the uncertainty whose χ² rises ``ratios`` (at +3σ, -3σ) times
    the quadratic: a steeper rise than the quadratic on a side means less room there."""
    lo, hi = QUADRATIC_RANGE
    parts = [f"{'overstates' if x > hi else 'understates'} the uncertainty {side} the value"
             for side, x in zip(("above", "below"), ratios, strict=True)
             if math.isfinite(x) and not lo <= x <= hi]
    return " and ".join(parts)


def remaining_reasons(remaining: float) -> list[dict]:
    """The χ² a Gauss-Newton step would still remove (:data:`REMAINING_CHI2`)."""
    warn, fail = REMAINING_CHI2
    if not math.isfinite(remaining) or remaining <= warn:
        return []
    return [reason("remaining_chi2", (
        f"a Gauss-Newton step from the reported values still lowers χ² by "
        f"{_num(remaining)} (in units of χ²_red; limit {warn:g}, failed above {fail:g}): the "
        "solver stopped before the minimum; raise nlsq.max_iterations or lower nlsq.ftol"),
        severity=FAILED if remaining > fail else WARNING)]


def decay_reasons(check: Mapping | None) -> list[dict]:
    """Angles whose fitted one-time g2 misses the data's by more than their scatter
    (:func:`homodyne.twotime.decay_agreement`, with the angles under ``phi``): the clearest
    sign of a local minimum."""
    if not check:
        return []
    phi = check["phi"]
    bad = []
    for p, (score, lags) in enumerate(zip(check["score"], check["lags"], strict=True)):
        if lags and math.isfinite(score) and score > (
                1.0 + DECAY_SCORE_MARGIN + DECAY_SCORE_SIGMAS * math.sqrt(2.0 / lags)):
            bad.append(p)
    if not bad:
        return []
    ratios = [check["decay_model"][p] / check["decay_data"][p] - 1.0 for p in bad
              if math.isfinite(check["decay_model"][p] / check["decay_data"][p])]
    size = (f"; the model's 1/e decay times differ from the data's by "
            f"{min(ratios) * 100:+.0f} to {max(ratios) * 100:+.0f} %" if ratios else "")
    angles = ", ".join(f"{phi[p]:g}°" for p in bad[:6]) + (" ..." if len(bad) > 6 else "")
    return [reason("decay_mismatch", (
        f"the fitted model does not follow the data's one-time g2 within its scatter at "
        f"{len(bad)} of {len(check['score'])} angles ({angles}){size}: possible local minimum "
        "(or a model that misses structure); see twotime/one_time.png, and run with "
        "nlsq.multistart: 20 or give analysis.initial"))]


def optima_reasons(optima: Sequence[Mapping], names, uncertainties, free,
                   reduced_chi2: float) -> list[dict]:
    """Another optimum, distinct by more than :data:`OPTIMA_SIGMAS` in a physical parameter,
    within :data:`OPTIMA_CHI2` of the best (the first of ``optima``)."""
    if len(optima) < 2 or not math.isfinite(reduced_chi2) or reduced_chi2 <= 0:
        return []
    best = optima[0]
    sigma = dict(zip(names, uncertainties, strict=True))
    is_free = dict(zip(names, free, strict=True))
    out = []
    for other in optima[1:]:
        gap = (other["chi2"] - best["chi2"]) / reduced_chi2
        apart = {n: abs(v - best["parameters"][n]) / sigma[n]
                 for n, v in other["parameters"].items()
                 if is_free.get(n) and math.isfinite(sigma[n]) and sigma[n] > 0}
        far = {n: d for n, d in apart.items() if d > OPTIMA_SIGMAS}
        if far and gap < OPTIMA_CHI2:
            n, d = max(far.items(), key=lambda kv: kv[1])
            out.append(reason("rival_optimum", (
                f"a second optimum fits almost as well (Δχ² = {gap:.3g} in units of χ²_red, "
                f"limit {OPTIMA_CHI2:g}) with {n} = {_num(other['parameters'][n])} instead of "
                f"{_num(best['parameters'][n])} ({d:.3g} σ apart): the data do not decide "
                f"between them; bound {n} on physical grounds (analysis.bounds) or fix it"),
                parameter=n))
    return out


def convergence_reasons(success: bool, message: str) -> list[dict]:
    """The solver's own convergence report."""
    if success:
        return []
    return [reason("converged", f"the solver did not converge ({message}): the values are "
                   "not a minimum; raise nlsq.max_iterations or try nlsq.multistart",
                   severity=FAILED)]


def moved_reasons(names, values, start, lower, upper, free) -> list[dict]:
    """A free parameter still at its start value: no information, or the fit stopped."""
    out = []
    for n, v, s, lo, hi, f in zip(names, values, start, lower, upper, free, strict=True):
        if f and abs(v - s) <= 1e-9 * (hi - lo):
            out.append(reason("not_moved", (
                f"{n} = {_num(v)} did not move from its start value: the data carry no "
                "information on it (or the fit stopped at once); fix it or change the start"),
                parameter=n))
    return out


def nlsq_reasons(result) -> list[dict]:
    """Every NLSQ check of a :class:`homodyne.nlsq.FitResult` (its bounds, start values and
    whether σ came from the data are recorded on it)."""
    names, values, free = result.names, result.values, result.free
    lower, upper, start = result.lower, result.upper, result.start
    sigma = [float(s) for s in result.uncertainties]
    if lower is None or upper is None or start is None:
        raise ValueError("the fit result records no bounds and start values; NLSQ checks "
                         "need them (homodyne.nlsq.fit records them)")
    return [
        *convergence_reasons(result.success, result.message),
        *remaining_reasons(result.remaining_chi2),
        *chi2_reasons(result.reduced_chi2, result.sigma_from_data, result.dof),
        *decay_reasons(result.decay_check),
        *linearity_reasons(result.linearity),
        *optima_reasons(result.optima, names, sigma, free,
                        result.reduced_chi2),
        *bound_reasons(names, values, lower, upper, free),
        *identifiability_reasons(names, sigma, lower, upper, free, result.covariance),
        *moved_reasons(names, values, start, lower, upper, free),
    ]


def nlsq_verdict(result) -> dict:
    """``{verdict, reasons}`` of an NLSQ fit (see :func:`nlsq_reasons`)."""
    return verdict(nlsq_reasons(result))


# -------------------------------------------------------------------------------- CMC


def convergence_diagnostics_reasons(names, r_hat, ess_bulk, ess_tail, chains: int,
                                    divergences: int, divergence_rate: float) -> list[dict]:
    """R-hat, bulk/tail ESS and divergences against their thresholds."""
    out = []
    ess_min = ESS_MIN
    for n, r, b, t in zip(names, r_hat, ess_bulk, ess_tail, strict=True):
        if not math.isfinite(r) or r > R_HAT_FAILED:
            out.append(reason("r_hat", (
                f"{n}: R-hat = {r:.3g} > {R_HAT_FAILED}: the chains sample different "
                "distributions; the posterior is unusable; run more warmup or check the "
                "NLSQ start"), parameter=n, severity=FAILED))
        elif r > R_HAT_WARNING:
            out.append(reason("r_hat", (
                f"{n}: R-hat = {r:.4f} > {R_HAT_WARNING}: the chains do not fully agree; run "
                "more warmup and samples (cmc.warmup, cmc.samples)"), parameter=n))
        low = [(k, v) for k, v in (("bulk", b), ("tail", t)) if not v >= ess_min]
        if low:
            text = " and ".join(f"{k} ESS = {v:.0f}" for k, v in low)
            out.append(reason("ess", (
                f"{n}: {text} < {ess_min}: too few independent draws for a reliable mean and "
                f"interval ({chains} chains); raise cmc.samples (or cmc.chains)"),
                parameter=n))
    if divergences > 0 and divergence_rate > DIVERGENCE_RATE_WARNING:
        out.append(reason("divergences", (
            f"{divergences} divergent transitions ({divergence_rate * 100:.2g} % of draws, "
            f"limit {DIVERGENCE_RATE_WARNING * 100:g} %): "
            "NUTS may miss part of the posterior; raise cmc.target_accept (e.g. 0.95)")))
    return out


def posterior_bound_reasons(names, mean, sd, lower, upper) -> list[dict]:
    """A posterior mean within :data:`BOUND_SDS` posterior sds of a bound."""
    out = []
    for n, m, s, lo, hi in zip(names, mean, sd, lower, upper, strict=True):
        if not (math.isfinite(m) and math.isfinite(s) and s > 0):
            continue
        for side, bound in (("lower", lo), ("upper", hi)):
            gap = abs(m - bound) / s
            if gap < BOUND_SDS:
                out.append(reason("posterior_at_bound", (
                    f"{n}: posterior {_num(m)} ± {_num(s)} lies {gap:.2g} sd from its {side} "
                    f"bound {_num(bound)} (limit {BOUND_SDS:g} sd): the bound cuts the "
                    "posterior off, so the sd looks more precise than the data allow; widen "
                    "the bound or fix the parameter"), parameter=n))
    return out


def prior_reasons(names, sd, prior_sd) -> list[dict]:
    """Posterior sd above :data:`PRIOR_SD_RATIO` of the prior sd: prior-dominated."""
    out = []
    for n, s, p in zip(names, sd, prior_sd, strict=True):
        if math.isfinite(s) and math.isfinite(p) and p > 0 and s > PRIOR_SD_RATIO * p:
            out.append(reason("prior_dominated", (
                f"{n}: posterior sd {_num(s)} is {s / p:.2f} of the prior sd {_num(p)} "
                f"(limit {PRIOR_SD_RATIO:g}): the data barely narrow the prior, so its value "
                "comes from the NLSQ-centred prior, not the data; fix it or use data that "
                "probe it"), parameter=n))
    return out


def noise_reasons(noise_scale: float | None) -> list[dict]:
    """The sampled noise factor against 1 (f² plays the role of χ²_red)."""
    if noise_scale is None or not math.isfinite(noise_scale):
        return []
    lo, hi = NOISE_SCALE_WARNING
    if noise_scale > NOISE_SCALE_FAILED:
        return [reason("noise_scale", (
            f"noise scale {noise_scale:.3g}: the residuals are {noise_scale:.3g} times the "
            f"noise estimate (limit {NOISE_SCALE_FAILED:.3g}), so the model does not describe "
            "these data; check the data scale (c2 - 1 needs --add-baseline 1.0) and the mode"),
            parameter="noise_scale", severity=FAILED)]
    if not lo <= noise_scale <= hi:
        return [reason("noise_scale", (
            f"noise scale {noise_scale:.3g} is outside [{lo:.2f}, {hi:.2f}]: the noise "
            "estimate is off or the model misses structure; look at the residual maps"),
            parameter="noise_scale")]
    return []


def khat_reasons(khat: float | None) -> list[dict]:
    """The consensus self-check's Pareto k̂ (when the diagnostics provide it)."""
    if khat is None or not math.isfinite(khat) or khat <= KHAT_WARNING:
        return []
    return [reason("khat", (
        f"consensus self-check k̂ = {khat:.2f} > {KHAT_WARNING}: the combined shards are not a "
        "reliable stand-in for the full posterior; use fewer, larger shards "
        "(cmc.shards), or one shard (cmc.shards: 1)"))]


def importance_reasons(record: Mapping) -> list[dict]:
    """Importance sampling's own check (:mod:`homodyne.cmc.importance`): Pareto k̂ of the
    weights within its sample-size-dependent limit and enough effective draws.  Only a run
    with ``cmc.method: importance`` keeps weights that fail (``auto`` falls back to NUTS),
    and its draws are then not the posterior."""
    k_hat, limit, ess = (record.get(k) for k in ("k_hat", "k_hat_limit", "ess"))
    if k_hat is None:
        return []
    out = []
    if not (math.isfinite(k_hat) and k_hat <= limit):
        out.append(reason("importance", (
            f"importance sampling: PSIS k̂ = {k_hat:.2f} > {limit:.2f}: the proposal from the "
            "NLSQ optimum does not cover the posterior's tails, so the resampled draws are not "
            "the posterior; set cmc.method: auto (NUTS when importance sampling fails)"),
            severity=FAILED))
    elif ess < ESS_MIN:
        out.append(reason("importance", (
            f"importance sampling: the weights' ESS is {ess:.0f} < {ESS_MIN}: too few "
            "effective draws for a reliable mean and interval; raise cmc.importance_draws, "
            "or set cmc.method: auto")))
    return out


def agreement_reasons(names, mean, sd, nlsq: Mapping[str, float]) -> list[dict]:
    """NLSQ value and posterior mean more than :data:`MEANS_SDS` posterior sds apart."""
    out = []
    for n, m, s in zip(names, mean, sd, strict=True):
        v = nlsq.get(n)
        if v is None or not (math.isfinite(v) and math.isfinite(m) and s > 0):
            continue
        gap = abs(m - v) / s
        if gap > MEANS_SDS:
            out.append(reason("nlsq_disagrees", (
                f"{n}: NLSQ {_num(v)} and posterior mean {_num(m)} differ by {gap:.2g} "
                f"posterior sd (limit {MEANS_SDS:g}): a bound, a second minimum or the prior "
                "pulled one of them; trust neither until the other reasons are resolved"),
                parameter=n))
    return out


def posterior_mode_reasons(mode_check: Mapping | None) -> list[dict]:
    """The posterior centred on another optimum than NLSQ's best (χ² at the posterior mean
    more than :data:`OPTIMA_CHI2` χ²_red units from χ² at the NLSQ values)."""
    if not mode_check or not math.isfinite(mode_check["delta"]):
        return []
    delta = mode_check["delta"]
    if delta > OPTIMA_CHI2:
        return [reason("posterior_mode", (
            f"the posterior is centred on a worse optimum than the best NLSQ found: χ² at the "
            f"posterior mean is {_num(delta)} χ²_red units above χ² at the NLSQ values (limit "
            f"{OPTIMA_CHI2:g}); the chains left the best optimum: report the NLSQ values, "
            "and sample again with more warmup (cmc.warmup)"), severity=FAILED)]
    if delta < -OPTIMA_CHI2:
        return [reason("posterior_mode", (
            f"the posterior found a better optimum than NLSQ: χ² at the posterior mean is "
            f"{_num(-delta)} χ²_red units below χ² at the NLSQ values (limit {OPTIMA_CHI2:g}): "
            "the NLSQ values are not the best optimum; fit again with the posterior means as "
            "analysis.initial"), severity=FAILED)]
    return []


def cmc_reasons(result, *, khat: float | None = None) -> list[dict]:
    """Every Bayesian check of a :class:`homodyne.cmc.ConsensusResult`.

    Bounds, prior sds and NLSQ values come from ``result.priors`` (``{name: {lower, upper,
    prior_sd, nlsq_value}}``, recorded in the shard posteriors); checks that need them are
    skipped for parameters without an entry.  ``khat`` is the consensus self-check's Pareto
    k̂ when the diagnostics provide it.  Importance-sampling draws are judged by their
    weights (:func:`importance_reasons`) instead of R-hat, ESS and divergences.
    """
    flat = result.draws.reshape(-1, len(result.names))
    mean, sd = flat.mean(axis=0), flat.std(axis=0, ddof=1)
    priors = getattr(result, "priors", None) or {}
    names = list(result.names)
    if getattr(result, "method", "nuts") == "importance":
        out = importance_reasons(result.importance)
    else:
        out = convergence_diagnostics_reasons(names, result.r_hat, result.ess_bulk,
                                              result.ess_tail, result.chains,
                                              result.divergences, result.divergence_rate)
    dropped = [s for s in result.shards if not s.used]
    if dropped:
        out.append(reason("shards_dropped", (
            f"{len(dropped)} of {result.n_shards} shards left out of the consensus "
            f"({'; '.join(f'shard {s.index}: {s.reason}' for s in dropped)}): the posterior "
            "rests on part of the data; rerun those shards")))
    for n in result.heterogeneous:
        out.append(reason("heterogeneous", (
            f"{n}: shard means scatter with CV {result.heterogeneity[n]:.2f}, more than the "
            "shards' own widths explain: the data may not be stationary or the model may not "
            "fit every part; look at the shard figure"), parameter=n))
    known = [k for k, n in enumerate(names) if n in priors]

    def pick(key):
        return [float(priors[names[k]][key]) for k in known]

    kn = [names[k] for k in known]
    out += posterior_bound_reasons(kn, mean[known], sd[known], pick("lower"), pick("upper"))
    out += prior_reasons(kn, sd[known], pick("prior_sd"))
    out += agreement_reasons(kn, mean[known], sd[known],
                             dict(zip(kn, pick("nlsq_value"), strict=True)))
    if "noise_scale" in names:
        out += noise_reasons(float(mean[names.index("noise_scale")]))
    out += khat_reasons(khat)
    out += posterior_mode_reasons(result.mode_check)
    return out


def cmc_verdict(result, *, khat: float | None = None) -> dict:
    """``{verdict, reasons}`` of a consensus posterior (see :func:`cmc_reasons`)."""
    return verdict(cmc_reasons(result, khat=khat))


# ------------------------------------------------------------------------------- data


def lag_profile(c2: np.ndarray) -> np.ndarray:
    """Mean of an ``(N, N)`` matrix along each upper diagonal: ``g[k]`` at lag ``k``."""
    n = c2.shape[0]
    return np.array([np.nanmean(np.diagonal(c2, k)) for k in range(n)])


def data_reasons(c2: np.ndarray, label: str, *, phi: Sequence[float] | None = None,
                 raw: bool = False) -> list[dict]:
    """Checks of a c2 stack ``(n_phi, N, N)`` (or one ``(N, N)``) before any fit.

    Args:
        c2: the matrices as they will be fitted (``raw``: as stored, both triangles).
        label: the file (or matrix) named in every message.
        phi: angles, for the messages.
        raw: also compare the two triangles (pointless once a triangle was mirrored).

    ``failed`` reasons (non-finite values, a baseline below :data:`BASELINE_REFUSED`) are
    data no fit can use: :func:`refuse` turns them into one error.
    """
    c2 = np.asarray(c2, dtype=np.float64)
    c2 = c2[None] if c2.ndim == 2 else c2
    phi = list(phi) if phi is not None else [None] * len(c2)
    out = []
    for m, p in zip(c2, phi, strict=True):
        where = label if p is None or len(c2) == 1 else f"{label} (φ = {p:g}°)"
        bad = int(np.sum(~np.isfinite(m)))
        if bad == m.size:
            out.append(reason("non_finite", f"{where}: every value is NaN or Inf; nothing can "
                              "be fitted; export the matrix again", severity=FAILED))
            continue
        if bad:
            out.append(reason("non_finite", (
                f"{where}: {bad} non-finite (NaN/Inf) values of {m.size}; the fit refuses "
                "them: repair them, or load with mask_nonfinite (keeps the longest run of "
                "finite frames)")))
        n = m.shape[0]
        g = lag_profile(m)
        tail = g[max(2, (3 * n) // 4):]
        baseline = float(np.mean(tail)) if len(tail) else float(g[-1])
        contrast = float(g[1] - baseline)
        if baseline < BASELINE_REFUSED:
            out.append(reason("baseline", (
                f"{where}: c2 levels off at {baseline:.3g} at long lags, not near 1 (c2 = 1 + "
                f"β|g1|²): the matrix is stored as c2 - 1; import it again with "
                "--add-baseline 1.0 (import_matrices(..., add_baseline=1.0))"), severity=FAILED))
            continue
        if abs(baseline - 1) > BASELINE_WARNING:
            out.append(reason("baseline", (
                f"{where}: c2 levels off at {baseline:.3g} at long lags, {abs(baseline - 1):.2g} "
                f"from 1 (limit {BASELINE_WARNING:g}): unusual normalisation; check the data "
                "scale (--add-baseline shifts it)")))
        if contrast <= 0:
            out.append(reason("contrast", (
                f"{where}: contrast {contrast:.3g} ≤ 0 (c2 at lag 1 minus the long-lag "
                "level): no decay of the correlation is visible; check that this is a c2 "
                "matrix and the frame order")))
            continue
        if contrast > CONTRAST_MAX:
            out.append(reason("contrast", (
                f"{where}: contrast {contrast:.3g} > {CONTRAST_MAX:g}, beyond the fully "
                "coherent limit: the matrix is not a normalised c2; check its normalisation")))
        if raw:
            gap = float(np.median(np.abs(np.triu(m, 1) - np.triu(m.T, 1))[np.triu_indices(n, 1)]))
            if gap > TRIANGLE_GAP * contrast:
                out.append(reason("triangles", (
                    f"{where}: the two triangles differ by {gap:.3g} (median), "
                    f"{gap / contrast * 100:.0f} % of the contrast {contrast:.3g}: they were "
                    "reduced differently; import one triangle (--triangle upper|lower)")))
        if n >= 8:
            third = g[n // 2:(3 * n) // 4]
            drop = float(np.mean(third) - baseline) if len(third) else 0.0
            if drop > DECAY_TAIL_FRACTION * contrast:
                out.append(reason("frames", (
                    f"{where}: c2 still decays at the end of its {n} frames "
                    f"({drop / contrast * 100:.0f} % of the contrast {contrast:.3g} between the "
                    "third and last quarter of the "
                    "lags): the baseline and the slow dynamics are not in the data; use more "
                    "frames (a longer series) or a longer frame time")))
        if n >= 4 and g[2] - baseline < FAST_DECAY_FRACTION * contrast:
            out.append(reason("frames", (
                f"{where}: c2 has decayed within about one frame (lag 1: {g[1]:.4g}, lag 2: "
                f"{g[2]:.4g}, long lags: {baseline:.4g}): the dynamics are faster than the "
                "frame time and cannot be resolved; use a shorter frame time")))
    return out


def refuse(reasons: Iterable[Mapping]) -> str | None:
    """One error message of the ``failed`` data reasons, or None when there are none."""
    failed = [r["message"] for r in reasons if r["severity"] == FAILED]
    return "; ".join(failed) if failed else None
