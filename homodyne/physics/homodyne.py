"""Homodyne model (modes ``static`` and ``laminar_flow``; docs/physics.md.

With ``ts`` the time grid lifted off zero (``eps = max(|t1-t0|/2, 1e-8)``)::

    D(t) = D0*ts**alpha + D_offset                  floored at 1e-10
    G(t) = gamma_dot_t0*ts**beta + gamma_dot_t_offset   floored at 1e-10
    c_X[k] = sum_{m<k} (X[m] + X[m+1]) / 2           frame units, no dt
    M_X[i,j] = sqrt((c_X[i] - c_X[j])**2 + 1e-12)
    g1_diff  = exp(clip(-0.5 q² dt M_D, -700, 0))
    Phi      = q L dt / (2π) · cos(phi0 - phi) · M_G
    g1       = g1_diff · (sin Phi / Phi)²           (static: g1_diff), floored at 1e-10
    c2       = offset + contrast · g1²

The model is split in two: :func:`time_terms` computes per-frame cumulative integrals (length
N) and :func:`kernel` evaluates a pair of frames from those, so the matrix and pooled-point
strategies in :mod:`homodyne.physics.core` share one formula.  Both read the parameters by
name (``p["D0"]``, ... from :func:`homodyne.params.named`), never by position.
"""

from __future__ import annotations

import jax.numpy as jnp

from homodyne.physics.primitives import (
    cumulative_trapezoid,
    decay,
    floor,
    sinc_unnormalised,
    smooth_abs,
)

RATE_FLOOR = 1e-10
G1_FLOOR = 1e-10


def lifted_time(t):
    """The time grid with ``t = 0`` lifted to ``eps = max(|t[1]-t[0]|/2, 1e-8)``."""
    eps = jnp.maximum(jnp.abs(t[1] - t[0]) / 2.0, 1e-8)
    return jnp.where(t > eps, t, eps)


def _integrated_rate(prefactor, exponent, offset, ts):
    rate = floor(prefactor * ts**exponent + offset, RATE_FLOOR)
    return cumulative_trapezoid(rate)


def time_terms(p, t, dt, *, shear: bool):
    """Per-frame cumulative integrals ``{"cD": ..., "cG": ...}`` (``cG`` only with shear) of
    the parameters ``p`` by name.

    ``dt`` is unused here (homodyne integrals are in frame units); it is accepted so every
    model has the same signature.
    """
    del dt
    ts = lifted_time(t)
    terms = {"cD": _integrated_rate(p["D0"], p["alpha"], p["D_offset"], ts)}
    if shear:
        terms["cG"] = _integrated_rate(p["gamma_dot_t0"], p["beta"], p["gamma_dot_t_offset"],
                                       ts)
    return terms


def kernel(a, b, phi, p, *, q, dt, L, shear: bool):
    """``g1²`` for frames ``a`` (row) and ``b`` (column) at angle ``phi`` (degrees); ``p``
    the parameters by name."""
    g1 = decay(smooth_abs(a["cD"] - b["cD"]), 0.5 * q * q * dt)
    if shear:
        phi0 = p["phi0"]
        prefactor = q * L * dt / (2.0 * jnp.pi)
        arg = prefactor * jnp.cos(jnp.radians(phi0 - phi)) * smooth_abs(a["cG"] - b["cG"])
        g1 = g1 * sinc_unnormalised(arg) ** 2
    g1 = floor(g1, G1_FLOOR)
    return g1 * g1
