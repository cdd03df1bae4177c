"""Heterodyne model (mode ``heterodyne``), docs/physics.md: a reference and a sample component.

Parameters, read by name (``p["D0_ref"]``, ... from :func:`homodyne.params.named`):
``D0_ref, alpha_ref, D_offset_ref, D0_sample, alpha_sample, D_offset_sample, v0, beta,
v_offset, f0, f1, f2, f3, phi0``.  On the time grid ``t``::

    tp(a)  = t**a for t > 0 (base floored at 1e-10), 0 at t = 0
    J_x    = D0_x tp(alpha_x) + D_offset_x   floored at 0;   v = v0 tp(beta) + v_offset
    C_X[k] = dt · sum_{m<k} (X[m] + X[m+1]) / 2
    I_x    = sqrt((C_x[j] - C_x[i])**2 + 1e-12);   V = C_v[j] - C_v[i]
    h_x    = exp(clip(-0.5 q² I_x, -700, 0))
    fs(t)  = clip(f0 exp(clip(f1 (t - f2), -100, 100)) + f3, 0, 1);   fr = 1 - fs
    ref    = (fr_i fr_j)² h_r²;   sam = (fs_i fs_j)² h_s²
    cross  = 2 fr_i fs_i fr_j fs_j h_r h_s cos(q cos(phi - phi0) V)
    norm   = (fs_i² + fr_i²)(fs_j² + fr_j²)   floored at 1e-10
    c2     = offset + contrast (ref + sam + cross) / norm

``phi0`` is the flow direction, ``cos(phi - phi0)``: minus the ``phi0`` of the heterodyne 2.0
package, which writes ``cos(phi + phi0)``.
"""

from __future__ import annotations

import jax.numpy as jnp

from homodyne.physics.primitives import (
    clamp,
    cumulative_trapezoid,
    decay,
    floor,
    smooth_abs,
)

NORM_FLOOR = 1e-10


def _power(t, exponent):
    """``t**exponent`` for ``t > 0`` (base floored at 1e-10) and exactly 0 at ``t = 0``."""
    return jnp.where(t > 0, floor(t, 1e-10) ** exponent, 0.0)


def sample_fraction(p, t):
    """``fs(t) = clip(f0 exp(clip(f1 (t - f2), -100, 100)) + f3, 0, 1)``."""
    f0, f1, f2, f3 = p["f0"], p["f1"], p["f2"], p["f3"]
    return clamp(f0 * jnp.exp(clamp(f1 * (t - f2), -100.0, 100.0)) + f3, 0.0, 1.0)


def time_terms(p, t, dt):
    """Per-frame integrals ``Cr, Cs, Cv`` (with dt) and fractions ``fs, fr`` of the
    parameters ``p`` by name."""

    def integral(rate):
        return dt * cumulative_trapezoid(rate)

    j_ref = floor(p["D0_ref"] * _power(t, p["alpha_ref"]) + p["D_offset_ref"], 0.0)
    j_sample = floor(p["D0_sample"] * _power(t, p["alpha_sample"]) + p["D_offset_sample"], 0.0)
    velocity = p["v0"] * _power(t, p["beta"]) + p["v_offset"]
    fs = sample_fraction(p, t)
    return {
        "Cr": integral(j_ref),
        "Cs": integral(j_sample),
        "Cv": integral(velocity),
        "fs": fs,
        "fr": 1.0 - fs,
    }


def kernel(a, b, phi, p, *, q, dt, L):
    """Normalised two-component correlation for frames ``a`` (i) and ``b`` (j) at ``phi``.

    ``dt`` and ``L`` are unused (dt is inside the integrals, there is no gap length).
    """
    del dt, L
    half_q2 = 0.5 * q * q
    h_r = decay(smooth_abs(b["Cr"] - a["Cr"]), half_q2)
    h_s = decay(smooth_abs(b["Cs"] - a["Cs"]), half_q2)
    phase = q * jnp.cos(jnp.radians(phi - p["phi0"])) * (b["Cv"] - a["Cv"])
    ref = (a["fr"] * b["fr"]) ** 2 * h_r**2
    sam = (a["fs"] * b["fs"]) ** 2 * h_s**2
    cross = 2.0 * a["fr"] * a["fs"] * b["fr"] * b["fs"] * h_r * h_s * jnp.cos(phase)
    norm = floor((a["fs"] ** 2 + a["fr"] ** 2) * (b["fs"] ** 2 + b["fr"] ** 2), NORM_FLOOR)
    return (ref + sam + cross) / norm
