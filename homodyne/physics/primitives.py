"""Numerical building blocks shared by every model.

Floors and clamps reproduce the reference implementation's values exactly and have the
identity as gradient inside the allowed range, so neither the optimiser nor NUTS stalls on a
floor (docs/physics.md).  They are written as ``maximum``/``clip`` and the small-argument
branch of sinc as an arithmetic blend, never as a ``where`` between two computed values:
the CPU compiler turns such a select into a branch per element, which stops it vectorising
the loop around it, and a forward pass over a million points took 3-4 times longer
(benchmarks/README.md, "Posterior methods").  Values and gradients are bit-identical to the
``where`` forms (tests/test_physics.py).
"""

from __future__ import annotations

import jax.numpy as jnp

SMOOTH_ABS_EPS2 = 1e-12
"""``|x|`` is evaluated as ``sqrt(x**2 + 1e-12)``: smooth at 0, equal to 1e-6 on the diagonal."""


def floor(x, lowest):
    """``x`` where ``x > lowest``, else ``lowest`` (gradient 1 above the floor)."""
    return jnp.maximum(x, lowest)


def clamp(x, lo, hi):
    """``x`` limited to ``[lo, hi]``; gradient 1 strictly inside, 0 outside."""
    return jnp.clip(x, lo, hi)


def cumulative_trapezoid(f):
    """Cumulative trapezoid, unit spacing: ``c[0] = 0``, ``c[k] = sum_{m<k} (f[m]+f[m+1])/2``."""
    steps = 0.5 * (f[:-1] + f[1:])
    return jnp.concatenate([jnp.zeros((1,), f.dtype), jnp.cumsum(steps)])


def smooth_abs(x):
    """``sqrt(x**2 + 1e-12)``: the pair-integral magnitude ``|c[i] - c[j]|``, smooth at 0."""
    return jnp.sqrt(x * x + SMOOTH_ABS_EPS2)


def decay(rate_integral, scale):
    """``exp(clamp(-scale * rate_integral, -700, 0))``: a diffusive field correlation."""
    return jnp.exp(clamp(-scale * rate_integral, -700.0, 0.0))


def sinc_unnormalised(x):
    """``sin(x)/x`` with the series ``1 - x²/6 + x⁴/120`` for ``|x| < 1e-4``.

    The division uses a substituted argument in the series branch, so both the value and the
    gradient are finite at ``x = 0``.  The branches are blended by a 0/1 weight rather than
    selected (see the module docstring): ``1·a + 0·b`` is ``a`` exactly for finite ``b``.
    """
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, 1.0, x)
    x2 = x * x
    weight = small.astype(x.dtype)
    return (weight * (1.0 - x2 / 6.0 + x2 * x2 / 120.0)
            + (1.0 - weight) * (jnp.sin(safe) / safe))
