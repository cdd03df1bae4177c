"""The global search's pure parts: starting points, distinct optima, the per-angle choice.

A least-squares fit of these models has more than one minimum (phi0 against the shear
rate, D_offset against alpha, ...), and a local solver stops in whichever basin it starts in.
:func:`homodyne.nlsq.fit` therefore runs many cheap local fits on a subsample of the points
from the starts drawn here, groups their end points into distinct optima
(:func:`distinct`), refines the best few on all points and keeps the best.  For
``per_angle_mode: auto`` the subsample fit with a free contrast and offset per angle also
shows how those vary with the angle (:func:`choose_scaling`).  Everything here is numpy on
small arrays, with explicit seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import chi2 as chi2_distribution

from homodyne.physics.scaling import fourier_basis

LOCAL_STARTS = 12
"""Random starts drawn around the data-driven start (besides it and the configured start)."""

RATE_FACTOR = 4.0
"""Random starts put D and the shear rate at mid-window within this factor of the
data-driven values (decay times read off the data are good to tens of percent, far better
than a factor 4)."""

EXPONENT_SPREAD = 0.6
"""Random starts put alpha and beta within this distance of the data-driven values."""

SAME_SIGMAS = 3.0
"""Two end points are the same optimum when no free physical parameter differs by more than
this many 1σ (the σ of the fit they were found on)."""

SCALING_P_VALUE = 1e-3
"""``per_angle_mode: auto`` keeps the simpler per-angle form (shared, then Fourier) unless the
fitted per-angle values reject it at this p-value (χ² test with their covariance)."""


def _inside(value: float, lo: float, hi: float) -> float:
    """``value`` moved just inside ``[lo, hi]`` (a start on a bound cannot move off it)."""
    pad = 1e-6 * (hi - lo)
    return float(min(max(value, lo + pad), hi - pad))


def _global_draw(rng, lo: float, hi: float) -> float:
    """Uniform in ``[lo, hi]``, log-uniform for positive ranges over two decades."""
    u = rng.uniform()
    if lo > 0 and hi / lo > 100:
        return float(lo * (hi / lo) ** u)
    return float(lo + u * (hi - lo))


def draw_starts(names: Sequence[str], configured: Sequence[float], center: Mapping[str, float],
                lower: Sequence[float], upper: Sequence[float], free: Sequence[bool],
                t_mid: float, *, local: int = LOCAL_STARTS, extra: int = 0,
                seed: int = 42) -> list[np.ndarray]:
    """Physical starting vectors: the configured one, the data-driven one (``center`` over
    ``configured``), ``local`` random draws around it, ``extra`` uniform draws in the bounds.

    The draws around the center keep the rates at mid-window ``t_mid`` within
    :data:`RATE_FACTOR` and the exponents within :data:`EXPONENT_SPREAD` (so D0 and alpha
    move together as the data allow), give D_offset and gamma_dot_t_offset either 0 or a
    small share of the rate, and phi0 a value near the center (half) or anywhere in its
    bounds.  Fixed parameters keep their configured value in every start.
    """
    names = list(names)
    conf = np.asarray(configured, dtype=np.float64)
    lo, hi = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
    free = np.asarray(free, dtype=bool)
    base = np.array([center.get(n, c) if f else c for n, c, f in zip(names, conf, free,
                                                                     strict=True)])
    base = np.array([_inside(v, a, b) if f else v for v, a, b, f in zip(base, lo, hi, free,
                                                                        strict=True)])
    rng = np.random.default_rng(seed)
    starts = [np.array([_inside(v, a, b) if f else v for v, a, b, f in
                        zip(conf, lo, hi, free, strict=True)]), base]
    pairs = (("D0", "alpha", "D_offset"), ("gamma_dot_t0", "beta", "gamma_dot_t_offset"))
    around = {n for pair in pairs for n in pair} | {"phi0"}  # drawn around the center
    for k in range(local):
        x = dict(zip(names, base, strict=True))
        for pre, exp, off in pairs:
            if pre not in x:
                continue
            rate = x[pre] * t_mid ** x[exp] * math.exp(rng.uniform(-1, 1) * math.log(RATE_FACTOR))
            x[exp] = x[exp] + rng.uniform(-EXPONENT_SPREAD, EXPONENT_SPREAD)
            x[pre] = rate / t_mid ** x[exp]
            x[off] = 0.0 if rng.uniform() < 0.5 else rng.uniform(-0.1, 0.1) * rate
        if "phi0" in x:
            i = names.index("phi0")
            x["phi0"] = (x["phi0"] + rng.uniform(-20.0, 20.0) if k % 2 == 0
                         else rng.uniform(lo[i], hi[i]))
        for i, n in enumerate(names):  # other models: anywhere in the bounds
            if n not in around:
                x[n] = _global_draw(rng, lo[i], hi[i])
        starts.append(np.array([_inside(x[n], a, b) if f else c for n, c, a, b, f in
                                zip(names, conf, lo, hi, free, strict=True)]))
    for _ in range(extra):
        starts.append(np.array([_global_draw(rng, a, b) if f else c for c, a, b, f in
                                zip(conf, lo, hi, free, strict=True)]))
    return starts


def distinct(points: Sequence[np.ndarray], costs: Sequence[float], sigma: np.ndarray,
             same: float = SAME_SIGMAS) -> list[int]:
    """Indices of the distinct optima among ``points``, best cost first.

    A point joins the first (better) optimum that no coordinate of it differs from by more
    than ``same`` × ``sigma`` (coordinates with a non-finite or zero σ are ignored).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    usable = np.isfinite(sigma) & (sigma > 0)
    order = [k for k in np.argsort(costs) if np.isfinite(costs[k])]
    kept: list[int] = []
    for k in order:
        if not any(np.all(np.abs(points[k] - points[j])[usable] <= same * sigma[usable])
                   for j in kept):
            kept.append(int(k))
    return kept


def _gls(theta: np.ndarray, weight: np.ndarray, basis: np.ndarray) -> float:
    """χ² of ``theta`` about its generalised-least-squares fit by ``basis``."""
    normal = basis.T @ weight @ basis
    beta = np.linalg.lstsq(normal, basis.T @ weight @ theta, rcond=None)[0]
    r = theta - basis @ beta
    return float(r @ weight @ r)


def choose_scaling(theta: np.ndarray, covariance: np.ndarray, phi, fourier_order: int,
                   p_value: float = SCALING_P_VALUE) -> tuple[str, str]:
    """``shared``, ``fourier`` or ``individual`` for ``per_angle_mode: auto``.

    Args:
        theta: per-angle ``[contrast_1..n, offset_1..n]`` fitted with a free pair per angle.
        covariance: their covariance at the full data's precision.
        phi: the angles (degrees).
        fourier_order: the configured order of the Fourier form.

    Returns:
        The simplest form the values do not reject at ``p_value`` (shared, then Fourier when
        it has fewer terms than angles, else individual) and one line saying why.
    """
    n = len(phi)
    covariance = np.asarray(covariance, dtype=np.float64)
    if not np.all(np.isfinite(covariance)):
        return "individual", "individual: some per-angle values are not determined by the data"
    weight = np.linalg.pinv(covariance, hermitian=True)
    tested = []
    forms = [("shared", np.ones((n, 1)))]
    if n > 1 + 2 * fourier_order:
        forms.append(("fourier", fourier_basis(phi, fourier_order)))
    for name, half in forms:
        basis = np.block([[half, np.zeros_like(half)], [np.zeros_like(half), half]])
        dof = 2 * n - basis.shape[1]
        value = _gls(np.asarray(theta, np.float64), weight, basis)
        limit = float(chi2_distribution.ppf(1.0 - p_value, dof))
        tested.append(f"{name} χ² = {value:.4g} for {dof} dof (limit {limit:.4g})")
        if value <= limit:
            return name, f"per-angle contrast and offset are consistent with {name}: " + \
                "; ".join(tested)
    return "individual", "per-angle contrast and offset vary beyond shared and Fourier forms: " \
        + "; ".join(tested)
