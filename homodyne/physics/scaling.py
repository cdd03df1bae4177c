"""Per-angle contrast and offset (docs/physics.md).

Every ``per_angle_mode`` is a linear map from a few free scaling parameters ``theta`` to one
contrast and one offset per angle::

    contrast = fixed_contrast + basis @ theta[:m]
    offset   = fixed_offset   + basis @ theta[m:]

``individual``: basis = identity; ``shared`` (what ``auto`` becomes for n_phi >= 3): a column
of ones; ``fourier``: ``[1, cos φ, sin φ, ..., cos Kφ, sin Kφ]``; ``constant``: no columns,
the data estimates held fixed.  One representation keeps the fitters free of mode branches.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from homodyne.params import CONTRAST, OFFSET
from homodyne.runtime import require_float64

PER_ANGLE_MODES = ("auto", "constant", "individual", "fourier")
MIN_ESTIMATOR_POINTS = 100


def _percentile_estimates(c2, t, lower, upper):
    """Contrast and offset of one angle from its upper-triangle points (docs/physics.md)."""
    i, j = np.triu_indices(c2.shape[0], k=1)
    if i.size < MIN_ESTIMATOR_POINTS:
        return 0.5 * (CONTRAST.lower + CONTRAST.upper), 0.5 * (OFFSET.lower + OFFSET.upper)
    values = c2[i, j]
    lag = np.abs(t[i] - t[j])
    offset = np.percentile(values[lag >= np.percentile(lag, 80)], 10)
    ceiling = np.percentile(values[lag <= np.percentile(lag, 20)], 90)
    contrast = ceiling - offset
    return (
        float(np.clip(contrast, lower[0], upper[0])),
        float(np.clip(offset, lower[1], upper[1])),
    )


def estimate_scaling(c2, t, *, contrast_bounds=None, offset_bounds=None):
    """Per-angle ``(contrast, offset)`` estimated from the data alone.

    Offset: 10th percentile of c2 at the longest 20 % of lags; ceiling: 90th percentile at
    the shortest 20 %; contrast = ceiling - offset.  Both are clipped to their bounds; an angle
    with fewer than 100 off-diagonal points gets the bound midpoints.

    Args:
        c2: data, shape ``(n_phi, N, N)``.
        t: time grid, shape ``(N,)``.
        contrast_bounds, offset_bounds: ``(lower, upper)``; default from the registry.

    Returns:
        Two float64 arrays of shape ``(n_phi,)``.
    """
    cb = contrast_bounds or (CONTRAST.lower, CONTRAST.upper)
    ob = offset_bounds or (OFFSET.lower, OFFSET.upper)
    lower, upper = (cb[0], ob[0]), (cb[1], ob[1])
    c2 = np.asarray(c2, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    pairs = [_percentile_estimates(c2[p], t, lower, upper) for p in range(c2.shape[0])]
    contrast, offset = (np.array(v, dtype=np.float64) for v in zip(*pairs, strict=True))
    return contrast, offset


def fourier_basis(phi_deg, order):
    """``[1, cos φ, sin φ, ..., cos Kφ, sin Kφ]`` per angle (degrees in), ``(n_phi, 2K+1)``."""
    phi = np.radians(np.asarray(phi_deg, dtype=np.float64))
    columns = [np.ones_like(phi)]
    for k in range(1, order + 1):
        columns += [np.cos(k * phi), np.sin(k * phi)]
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class AngleScaling:
    """A resolved per-angle scaling: free parameters and their map to per-angle values.

    Attributes:
        requested: the ``per_angle_mode`` asked for.
        effective: what it resolved to (``individual``, ``shared``, ``fourier``, ``constant``).
        names: free scaling-parameter names, contrast ones first.
        basis: ``(n_phi, m)`` map from one half of ``theta`` to per-angle values.
        fixed_contrast, fixed_offset: per-angle values added to the basis output.
        initial, lower, upper: initial values and bounds of ``theta``, length ``2 m``.
    """

    requested: str
    effective: str
    names: tuple[str, ...]
    basis: np.ndarray
    fixed_contrast: np.ndarray
    fixed_offset: np.ndarray
    initial: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_free(self) -> int:
        """Number of free scaling parameters (``2 m``)."""
        return len(self.names)

    def expand(self, theta):
        """Per-angle ``(contrast, offset)`` from free parameters ``theta`` (JAX-traceable).

        Raises:
            SetupError: JAX runs in float32: call :func:`homodyne.runtime.configure` first.
        """
        require_float64("homodyne.physics.AngleScaling.expand")
        m = self.basis.shape[1]
        basis = jnp.asarray(self.basis)
        theta = jnp.asarray(theta, dtype=jnp.float64)
        contrast = jnp.asarray(self.fixed_contrast) + basis @ theta[:m]
        offset = jnp.asarray(self.fixed_offset) + basis @ theta[m:]
        return contrast, offset


def _effective_mode(per_angle_mode, n_phi, fourier_order):
    if per_angle_mode == "auto":
        return "shared" if n_phi >= 3 else "individual"
    if per_angle_mode == "fourier" and n_phi < 1 + 2 * fourier_order:
        return "individual"
    return per_angle_mode


def _suffixes(effective, n_phi, fourier_order) -> list[str]:
    """Parameter-name suffixes of one half (contrast or offset) of an effective form."""
    if effective == "individual":
        return [f"_{p}" for p in range(n_phi)]
    if effective == "shared":
        return [""]
    if effective == "fourier":
        return ["_c0"] + [f"_{ab}{k}" for k in range(1, fourier_order + 1) for ab in "ab"]
    return []


def _basis(effective, phi, fourier_order) -> np.ndarray:
    """``(n_phi, m)`` map from one half of ``theta`` to per-angle values."""
    n_phi = len(phi)
    if effective == "individual":
        return np.eye(n_phi)
    if effective == "shared":
        return np.ones((n_phi, 1))
    if effective == "fourier":
        return fourier_basis(phi, fourier_order)
    return np.zeros((n_phi, 0))


def scaling_names(per_angle_mode, n_phi, *, fourier_order=2,
                  effective=None) -> tuple[str, tuple[str, ...]]:
    """``(effective form, free scaling-parameter names)`` of ``per_angle_mode`` for
    ``n_phi`` angles, contrast names first.

    The names depend on the number of angles only, not on the data, so a run's plan
    (:func:`homodyne.problem.plan`) knows them before any matrix is read; ``effective`` as
    in :func:`angle_scaling`, which takes its names from here.
    """
    if per_angle_mode not in PER_ANGLE_MODES:
        raise ValueError(
            f"per_angle_mode {per_angle_mode!r} is not one of {', '.join(PER_ANGLE_MODES)}"
        )
    effective = effective or _effective_mode(per_angle_mode, n_phi, fourier_order)
    suffixes = _suffixes(effective, n_phi, fourier_order)
    return effective, tuple(f"{half}{s}" for half in ("contrast", "offset") for s in suffixes)


def angle_scaling(per_angle_mode, phi, c2, t, *, fourier_order=2, contrast_bounds=None,
                  offset_bounds=None, effective=None):
    """Resolve ``per_angle_mode`` for angles ``phi`` and initialise it from data ``c2``.

    Initial values come from :func:`estimate_scaling`: per angle for ``individual``, their
    mean for ``shared``, their least-squares Fourier projection for ``fourier``; ``constant``
    holds the estimates fixed and has no free parameters.  Fourier coefficients other than
    ``c0`` are bounded by ± the width of the contrast (offset) bounds.  ``effective`` (one
    of ``individual``, ``shared``, ``fourier``, ``constant``) replaces the form ``auto``
    would take: the global search decides it from the data (:mod:`homodyne.search`).
    """
    phi = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    effective, names = scaling_names(per_angle_mode, len(phi), fourier_order=fourier_order,
                                     effective=effective)
    cb = tuple(contrast_bounds or (CONTRAST.lower, CONTRAST.upper))
    ob = tuple(offset_bounds or (OFFSET.lower, OFFSET.upper))
    est_c, est_o = estimate_scaling(c2, t, contrast_bounds=cb, offset_bounds=ob)
    basis = _basis(effective, phi, fourier_order)
    zeros = np.zeros(len(phi))
    if effective == "constant":
        fixed_c, fixed_o = est_c, est_o
    else:
        fixed_c, fixed_o = zeros, zeros

    def half(estimates, bounds):
        init = np.linalg.lstsq(basis, estimates, rcond=None)[0] if basis.shape[1] else zeros[:0]
        width = bounds[1] - bounds[0]
        lo = np.full(basis.shape[1], bounds[0], dtype=np.float64)
        hi = np.full(basis.shape[1], bounds[1], dtype=np.float64)
        if effective == "fourier":
            lo[1:], hi[1:] = -width, width
        return np.clip(init, lo, hi), lo, hi

    ci, cl, cu = half(est_c, cb)
    oi, ol, ou = half(est_o, ob)
    return AngleScaling(
        requested=per_angle_mode,
        effective=effective,
        names=names,
        basis=basis,
        fixed_contrast=fixed_c,
        fixed_offset=fixed_o,
        initial=np.concatenate([ci, oi]),
        lower=np.concatenate([cl, ol]),
        upper=np.concatenate([cu, ou]),
    )
