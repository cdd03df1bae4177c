"""One evaluation core, two strategies: the full c2 matrix and pooled ``(i, j, angle)`` points.

Each model provides ``time_terms(params, t, dt)`` (per-frame integrals, length N) and
``kernel(a, b, phi, params, q=, dt=, L=)`` (the normalised correlation of a frame pair).
The matrix strategy broadcasts frames over rows and columns; the pooled strategy gathers the
frames of each point.  Both call the same kernel, so they cannot disagree by construction,
and neither builds anything of size N×N that it does not return.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from homodyne import params as registry
from homodyne.physics import heterodyne, homodyne

_MODELS = {
    "static": (
        partial(homodyne.time_terms, shear=False),
        partial(homodyne.kernel, shear=False),
    ),
    "laminar_flow": (
        partial(homodyne.time_terms, shear=True),
        partial(homodyne.kernel, shear=True),
    ),
    "heterodyne": (heterodyne.time_terms, heterodyne.kernel),
}


def _as_inputs(mode, params, t, phi, contrast, offset):
    """Canonical mode and float64 arrays; contrast/offset broadcast to one value per angle."""
    mode = registry.canonical_mode(mode)
    params = jnp.asarray(params, dtype=jnp.float64)
    expected = len(registry.names(mode))
    if params.shape != (expected,):
        raise ValueError(
            f"mode {mode!r} takes {expected} parameters {registry.names(mode)}, "
            f"got an array of shape {params.shape}"
        )
    t = jnp.asarray(t, dtype=jnp.float64)
    if t.ndim != 1 or t.shape[0] < 2:
        raise ValueError(f"t must be a 1-D time grid of at least 2 frames, got shape {t.shape}")
    phi = jnp.atleast_1d(jnp.asarray(phi, dtype=jnp.float64))
    n_phi = phi.shape[0]
    contrast = jnp.broadcast_to(jnp.asarray(contrast, dtype=jnp.float64), (n_phi,))
    offset = jnp.broadcast_to(jnp.asarray(offset, dtype=jnp.float64), (n_phi,))
    return mode, params, t, phi, contrast, offset


@partial(jax.jit, static_argnames="mode")
def _matrix(mode, params, t, phi, q, dt, L, contrast, offset):
    time_terms, kernel = _MODELS[mode]
    terms = time_terms(params, t, dt)
    rows = jax.tree.map(lambda x: x[None, :, None], terms)
    cols = jax.tree.map(lambda x: x[None, None, :], terms)
    k = kernel(rows, cols, phi[:, None, None], params, q=q, dt=dt, L=L)
    return offset[:, None, None] + contrast[:, None, None] * k


@partial(jax.jit, static_argnames="mode")
def _points(mode, params, t, phi, i, j, p, q, dt, L, contrast, offset):
    time_terms, kernel = _MODELS[mode]
    terms = time_terms(params, t, dt)
    rows = jax.tree.map(lambda x: x[i], terms)
    cols = jax.tree.map(lambda x: x[j], terms)
    k = kernel(rows, cols, phi[p], params, q=q, dt=dt, L=L)
    return offset[p] + contrast[p] * k


def compute_c2(mode, params, t, phi, *, q, dt, L=2.0e6, contrast=0.5, offset=1.0):
    """Model two-time correlation ``c2[p, i, j]`` on the full grid.

    Args:
        mode: ``static``, ``laminar_flow`` or ``heterodyne`` (aliases accepted).
        params: physical parameters in the order of :mod:`homodyne.params`.
        t: time grid in seconds, shape ``(N,)``.
        phi: azimuthal angles in degrees, shape ``(n_phi,)`` or scalar.
        q: wavevector (1/Å).  dt: frame time (s).  L: stator-rotor gap (Å).
        contrast, offset: scalars or one value per angle.

    Returns:
        float64 array of shape ``(n_phi, N, N)``, symmetric in the last two axes.
    """
    mode, params, t, phi, contrast, offset = _as_inputs(mode, params, t, phi, contrast, offset)
    return _matrix(mode, params, t, phi, q, dt, L, contrast, offset)


def compute_c2_points(mode, params, t, phi, i, j, p, *, q, dt, L=2.0e6, contrast=0.5, offset=1.0):
    """Model c2 at pooled points ``(i[k], j[k], p[k])`` without building the N×N matrix.

    ``i``, ``j`` index the time grid ``t``; ``p`` indexes ``phi`` (and per-angle
    ``contrast``/``offset``).  The value at each point equals
    ``compute_c2(...)[p[k], i[k], j[k]]``: the same kernel is evaluated on gathered frames.
    """
    mode, params, t, phi, contrast, offset = _as_inputs(mode, params, t, phi, contrast, offset)
    i, j, p = (jnp.asarray(x, dtype=jnp.int32) for x in (i, j, p))
    return _points(mode, params, t, phi, i, j, p, q, dt, L, contrast, offset)
