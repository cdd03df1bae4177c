"""One evaluation core, three strategies: the full c2 matrix, dense frame-pair blocks shared
by every angle, and pooled ``(i, j, angle)`` points.

Each model provides ``time_terms(p, t, dt)`` (per-frame integrals, length N) and
``kernel(a, b, phi, p, q=, dt=, L=)`` (the normalised correlation of a frame pair), where
``p`` holds the physical parameters by name (:func:`homodyne.params.named`): no kernel
knows the registry's order.
The matrix strategy broadcasts frames over rows and columns; the block strategy evaluates a
``(rows, columns)`` array of frame pairs at every angle at once; the pooled strategy gathers
the frames of each point.  All call the same kernel, so they cannot disagree by
construction, and none builds anything of size N×N that it does not return.

The block strategy is what the fitters use: the angle-independent factors of the kernel
(the diffusive decay) are computed once per frame pair instead of once per angle, and the
frames are gathered once per pair, not once per point.  :func:`folded_triangle` lays out the
off-diagonal upper triangle as such a block with no waste: row ``r`` of the block holds the
pairs of frame rows ``r`` and ``N-2-r``, which together have exactly ``N`` pairs ``i < j``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from homodyne import params as registry
from homodyne.physics import heterodyne, homodyne
from homodyne.runtime import require_float64

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


def _as_inputs(mode, params, t, phi, contrast, offset, *, caller):
    """Canonical mode and float64 arrays; contrast/offset broadcast to one value per angle.

    Refuses (:func:`homodyne.runtime.require_float64`) when JAX would make those arrays
    float32: ``caller`` names the public function in the message.
    """
    require_float64(f"homodyne.physics.{caller}")
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
    p = registry.named(mode, params)
    terms = time_terms(p, t, dt)
    rows = jax.tree.map(lambda x: x[None, :, None], terms)
    cols = jax.tree.map(lambda x: x[None, None, :], terms)
    k = kernel(rows, cols, phi[:, None, None], p, q=q, dt=dt, L=L)
    return offset[:, None, None] + contrast[:, None, None] * k


@partial(jax.jit, static_argnames="mode")
def _points(mode, params, t, phi, i, j, p, q, dt, L, contrast, offset):
    time_terms, kernel = _MODELS[mode]
    named = registry.named(mode, params)
    terms = time_terms(named, t, dt)
    rows = jax.tree.map(lambda x: x[i], terms)
    cols = jax.tree.map(lambda x: x[j], terms)
    k = kernel(rows, cols, phi[p], named, q=q, dt=dt, L=L)
    return offset[p] + contrast[p] * k


@partial(jax.jit, static_argnames="mode")
def _block(mode, params, t, phi, ia, ja, q, dt, L, contrast, offset):
    time_terms, kernel = _MODELS[mode]
    p = registry.named(mode, params)
    terms = time_terms(p, t, dt)
    rows = jax.tree.map(lambda x: x[ia][None], terms)
    cols = jax.tree.map(lambda x: x[ja][None], terms)
    k = kernel(rows, cols, phi[:, None, None], p, q=q, dt=dt, L=L)
    return offset[:, None, None] + contrast[:, None, None] * k


def folded_triangle(n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame pairs ``i < j`` of an ``n_frames`` grid as a dense ``(ceil((N-1)/2), N)`` block.

    Block row ``r`` holds frame row ``r`` (pairs ``(r, r+1..N-1)``, ``N-1-r`` of them) then
    frame row ``N-2-r`` (pairs ``(N-2-r, N-1-r..N-1)``, ``r+1`` of them): ``N`` pairs.  For
    even ``N`` the middle row ``r = N/2 - 1`` pairs with itself; its second half is padding.

    Returns:
        ``(ia, ja, mask)``: int32 frame indices and a bool mask (false on padding).  Every
        pair ``i < j`` appears exactly once where the mask is true.
    """
    n = int(n_frames)
    if n < 2:
        raise ValueError(f"a frame-pair block needs at least 2 frames, got {n}")
    n_rows = n // 2
    r = np.arange(n_rows)[:, None]
    c = np.arange(n)[None, :]
    first = c < n - 1 - r  # the first n-1-r columns: row r
    ia = np.where(first, r, n - 2 - r)
    ja = np.where(first, r + 1 + c, c)  # second part: columns n-1-r..n-1
    mask = first | (n - 2 - r != r)
    ia, ja = np.where(mask, ia, 0), np.where(mask, ja, 1)
    return ia.astype(np.int32), ja.astype(np.int32), np.broadcast_to(mask, ia.shape).copy()


def compute_c2(mode, params, t, phi, *, q, dt, L=registry.DEFAULT_L, contrast=0.5, offset=1.0):
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

    Raises:
        SetupError: JAX runs in float32: call :func:`homodyne.runtime.configure` first
            (so do the other public computing functions).
    """
    mode, params, t, phi, contrast, offset = _as_inputs(mode, params, t, phi, contrast, offset,
                                                        caller="compute_c2")
    return _matrix(mode, params, t, phi, q, dt, L, contrast, offset)


def compute_c2_points(mode, params, t, phi, i, j, p, *, q, dt, L=registry.DEFAULT_L,
                      contrast=0.5, offset=1.0):
    """Model c2 at pooled points ``(i[k], j[k], p[k])`` without building the N×N matrix.

    ``i``, ``j`` index the time grid ``t``; ``p`` indexes ``phi`` (and per-angle
    ``contrast``/``offset``).  The value at each point equals
    ``compute_c2(...)[p[k], i[k], j[k]]``: the same kernel is evaluated on gathered frames.
    """
    mode, params, t, phi, contrast, offset = _as_inputs(mode, params, t, phi, contrast, offset,
                                                        caller="compute_c2_points")
    i, j, p = (jnp.asarray(x, dtype=jnp.int32) for x in (i, j, p))
    return _points(mode, params, t, phi, i, j, p, q, dt, L, contrast, offset)


def compute_c2_block(mode, params, t, phi, ia, ja, *, q, dt, L=registry.DEFAULT_L,
                     contrast=0.5, offset=1.0):
    """Model c2 at the frame pairs ``(ia[r, c], ja[r, c])`` for every angle.

    Returns ``(n_phi, R, C)`` with ``out[p, r, c] == compute_c2(...)[p, ia[r, c], ja[r, c]]``;
    the pair layout is shared by all angles (see :func:`folded_triangle`).
    """
    mode, params, t, phi, contrast, offset = _as_inputs(mode, params, t, phi, contrast, offset,
                                                        caller="compute_c2_block")
    ia, ja = (jnp.asarray(x, dtype=jnp.int32) for x in (ia, ja))
    return _block(mode, params, t, phi, ia, ja, q, dt, L, contrast, offset)
