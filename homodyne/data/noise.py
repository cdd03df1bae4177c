"""Noise of one c2 element, estimated from the data alone (docs/physics.md: sigma per angle).

Along a line of constant lag (``j - i`` fixed) c2 changes only as slowly as the sample ages,
so the second difference in the diagonal direction

    d[i, j] = c2[i-1, j-1] - 2 c2[i, j] + c2[i+1, j+1]

removes the signal and leaves noise.  For an upper-triangle point (``j > i``) all three
elements are distinct measurements of the same lag; with i.i.d. noise of sd ``sigma`` the
difference has sd ``sqrt(6) sigma``.  The median absolute deviation (MAD) makes the estimate
robust against the few places where the signal does curve (the start of an ageing sample,
glitches)::

    sigma = 1.4826 * MAD(d) / sqrt(6)

1.4826 turns the MAD of a Gaussian into its standard deviation.  With this sigma a correct
model gives a reduced chi² of about 1 on the upper triangle.
"""

from __future__ import annotations

import numpy as np

from homodyne.errors import DataFormatError, DataQualityError

_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4)
_SECOND_DIFFERENCE_SD = np.sqrt(6.0)  # sd of a - 2b + c for i.i.d. unit-variance a, b, c
MIN_SIDE = 4
"""Fewest frames with at least one interior upper-triangle point: (i, j) = (1, 2) of 4."""


def _one_angle(c2: np.ndarray) -> float:
    d = c2[:-2, :-2] - 2.0 * c2[1:-1, 1:-1] + c2[2:, 2:]
    values = d[np.triu_indices(d.shape[0], k=1)]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    mad = np.median(np.abs(values - np.median(values)))
    return float(_MAD_TO_SD * mad / _SECOND_DIFFERENCE_SD)


def estimate_sigma(c2) -> np.ndarray:
    """Robust per-angle sd of one c2 element: MAD of diagonal-direction second differences.

    Only the upper triangle off the diagonal is used (the lower mirrors it, the diagonal is
    an artefact); non-finite differences are ignored, and an angle with none left gets NaN.
    Noise-free data give ~0; override sigma for such data before fitting.

    Args:
        c2: shape ``(n_phi, N, N)``, or ``(N, N)`` for one angle.

    Returns:
        float64 array of shape ``(n_phi,)``.

    Raises:
        DataFormatError: ``c2`` is not a stack of square matrices.
        DataQualityError: fewer than :data:`MIN_SIDE` frames.
    """
    c2 = np.asarray(c2, dtype=np.float64)
    if c2.ndim == 2:
        c2 = c2[None]
    if c2.ndim != 3 or c2.shape[1] != c2.shape[2]:
        raise DataFormatError(f"c2 must have shape (n_phi, N, N), got {c2.shape}")
    if c2.shape[1] < MIN_SIDE:
        raise DataQualityError(
            f"noise estimate needs at least {MIN_SIDE} frames, got {c2.shape[1]}; "
            "select a longer frame window"
        )
    return np.array([_one_angle(m) for m in c2])
