"""Starting values from the data: D(t), the shear rate and phi0 from model-free decay times.

A fit that starts at fixed defaults (D0 = 1000, alpha = 0.5, ...) can be orders of magnitude
away from the data and stop in a local minimum.  The model-free views
(:mod:`homodyne.twotime`) already measure, per angle and age window, the time ``τ`` in which
``c2 - baseline`` falls to 1/e.  For the homodyne models that time obeys (docs/physics.md)::

    q² · D(t) · τ  +  S(Φ)  =  1,     S(Φ) = -4 ln|sin Φ / Φ|,
    Φ = q · L · |cos(φ - φ0)| · γ̇(t) · τ / (2π)

(``c2 - offset ∝ exp(-q² ∫D dt) · sinc⁴Φ`` at constant rates over the lag).  So

* angles with the slowest decay give the diffusion rate ``D = (1 - S) / (q² τ)``;
* the extra decay at the other angles gives ``γ̇ |cos(φ - φ0)|`` per angle, and
  ``(γ̇ cos(φ - φ0))² = γ̇²/2 · (1 + cos 2(φ - φ0))`` is linear in ``(1, cos 2φ, sin 2φ)``:
  a least-squares fit gives φ0 and γ̇;
* the same per age window, then a straight line in ``log t`` gives the exponents
  (``log D = log D0 + alpha · log t``; likewise gamma_dot_t0 and beta).

Offsets start at 0.  Anything the data do not show (no decay within the frames, one angle
for the shear) keeps the configured start.  The result is a start for the global search of
:mod:`homodyne.nlsq`, never an answer.
"""

from __future__ import annotations

import math

import numpy as np

from homodyne import twotime

AGE_WINDOWS = 4
"""Age windows whose decay times give the exponents alpha and beta."""

DIFFUSIVE_SHARE = 0.5
"""Angles whose shear decay ``S`` is below this share of the total (1) measure ``D``."""


def shear_decay(phase: np.ndarray) -> np.ndarray:
    """``S(Φ) = -4 ln|sinc Φ|`` (unnormalised sinc), the shear's share of the log-decay."""
    phase = np.asarray(phase, dtype=np.float64)
    small = np.abs(phase) < 1e-6
    safe = np.where(small, 1.0, phase)
    return np.where(small, 2.0 * phase**2 / 3.0, -4.0 * np.log(np.abs(np.sin(safe) / safe)))


def phase_for(share: np.ndarray) -> np.ndarray:
    """Inverse of :func:`shear_decay` on ``[0, π)`` (bisection; ``share`` ≤ 0 gives 0)."""
    share = np.asarray(share, dtype=np.float64)
    lo, hi = np.zeros_like(share), np.full_like(share, math.pi - 1e-6)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = shear_decay(mid) > share
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    return np.where(share > 0, 0.5 * (lo + hi), 0.0)


def _power_law(ages, rates) -> tuple[float, float] | None:
    """``(prefactor, exponent)`` of ``rate = prefactor · age^exponent`` through the finite,
    positive points (exponent 0 with one point); None without any."""
    ok = np.isfinite(rates) & (rates > 0) & (ages > 0)
    if not ok.any():
        return None
    x, y = np.log(ages[ok]), np.log(rates[ok])
    if ok.sum() < 2 or np.ptp(x) == 0:
        return float(np.exp(np.mean(y))), 0.0
    slope, intercept = np.polyfit(x, y, 1)
    return float(np.exp(intercept)), float(slope)


def _rates(tau, phi, q: float, L: float, shear: bool, phi0: float | None):
    """Diffusion rate, shear rate and flow angle of one set of per-angle decay times.

    ``phi0`` None: the flow angle is fitted too (three or more angles; with fewer, the
    fastest angle is taken as the flow direction).  Returns ``(D, gamma_dot, phi0)``, NaN
    where the decay times do not tell.
    """
    ok = np.isfinite(tau) & (tau > 0)
    if not ok.any():
        return math.nan, math.nan, math.nan
    tau, phi = tau[ok], phi[ok]
    if not shear:
        return float(np.median(1.0 / (q * q * tau))), math.nan, math.nan
    d = 1.0 / (q * q * np.max(tau))  # the slowest angle: the least shear
    gamma, angle = math.nan, math.nan if phi0 is None else phi0
    for _ in range(5):
        share = np.clip(1.0 - q * q * d * tau, 0.0, 0.999)
        rate = 2 * math.pi * phase_for(share) / (q * L * tau)  # γ̇ |cos(φ - φ0)|
        if phi0 is None and len(tau) >= 3:
            two = np.radians(2.0 * phi)
            basis = np.stack([np.ones_like(two), np.cos(two), np.sin(two)], axis=1)
            c, a, b = np.linalg.lstsq(basis, rate**2, rcond=None)[0]
            angle = 0.5 * math.degrees(math.atan2(b, a))
            gamma = math.sqrt(max(c + math.hypot(a, b), 0.0))
        elif phi0 is None:
            angle, gamma = float(phi[np.argmin(tau)]), float(np.max(rate))
        else:
            cosine = np.abs(np.cos(np.radians(phi - angle)))
            strong = cosine > 0.5
            gamma = float(np.median(rate[strong] / cosine[strong])) if strong.any() else math.nan
        if not (math.isfinite(gamma) and gamma > 0):
            return d, math.nan, angle
        phase = q * L * np.abs(np.cos(np.radians(phi - angle))) * gamma * tau / (2 * math.pi)
        s = shear_decay(np.minimum(phase, math.pi - 1e-6))
        diffusive = s < DIFFUSIVE_SHARE
        if diffusive.any():
            d = float(np.median((1.0 - s[diffusive]) / (q * q * tau[diffusive])))
    return d, gamma, angle


def data_start(data, mode: str, L: float) -> dict[str, float]:
    """Physical starting values read off the data's decay times (see the module docstring).

    Args:
        data: the :class:`homodyne.data.XPCSData` to be fitted (its excluded pairs are left
            out).
        mode: ``static`` or ``laminar_flow``; other modes get ``{}``.
        L: stator-rotor gap (Å).

    Returns:
        Values by parameter name for what the data show; missing names keep their start.
    """
    if mode not in ("static", "laminar_flow"):
        return {}
    shear = mode == "laminar_flow"
    keep = data.pair_ok
    phi = np.asarray(data.phi, dtype=np.float64)
    tau_all, g2, _, _ = twotime.one_time_from_two_time(data.c2, keep, data.dt)
    base = twotime.baseline(data.c2, keep, data.t)
    overall = np.array([twotime.decay_time(tau_all, g2[p], base[p])[0]
                        for p in range(len(phi))])
    d, gamma, phi0 = _rates(overall, phi, data.q, L, shear, None)
    if not math.isfinite(d):
        return {}
    ages = twotime.ageing(data.c2, keep, data.t, data.dt, AGE_WINDOWS, base)
    d_w, g_w = [], []
    for w in range(AGE_WINDOWS):
        dw, gw, _ = _rates(ages.decay_time[:, w], phi, data.q, L, shear, phi0)
        d_w.append(dw)
        g_w.append(gw)
    start = {"D_offset": 0.0}
    law = _power_law(ages.age, np.array(d_w))
    start["D0"], start["alpha"] = law if law else (d, 0.0)
    if shear and math.isfinite(gamma) and gamma > 0:
        law = _power_law(ages.age, np.array(g_w))
        start["gamma_dot_t0"], start["beta"] = law if law else (gamma, 0.0)
        start["gamma_dot_t_offset"] = 0.0
        start["phi0"] = float(phi0)
    return start
