"""Priors of the shard posteriors, built from the NLSQ fit (docs/physics.md).

Each free parameter gets a normal prior at its NLSQ value, truncated at its bounds.  Its
width is ``prior_width × σ_NLSQ``, clipped to [1 %, 50 %] of the bound range: the floor keeps
an over-confident NLSQ covariance from pinning the sampler, the ceiling keeps an undetermined
parameter (σ infinite or NaN) from getting a flat prior over the whole range.

Consensus Monte Carlo multiplies the K shard posteriors, so a prior used whole in every shard
would be counted K times.  Each shard therefore uses the prior raised to the power 1/K; for a
(truncated) normal that is the same normal with its sd multiplied by √K and the same
truncation, so the product of the K shard priors is the prior, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_WIDTH_FRACTION = 0.01
"""Narrowest prior sd, as a fraction of the bound range."""
MAX_WIDTH_FRACTION = 0.5
"""Widest prior sd (also used when σ_NLSQ is infinite or NaN), as a fraction of the range."""


@dataclass(frozen=True)
class NLSQEstimate:
    """What CMC needs from an NLSQ fit, in the layout ``[physical, scaling]``.

    :class:`homodyne.nlsq.FitResult` has these attributes too, so either can be passed to
    :func:`homodyne.cmc.make_shards`; this one is what
    :func:`homodyne.results.read_nlsq_estimate` returns for a workflow step that starts from
    the NLSQ result file.
    """

    names: tuple[str, ...]
    values: np.ndarray
    uncertainties: np.ndarray
    free: np.ndarray
    covariance: np.ndarray


def prior_scale(sigma, lower, upper, prior_width: float) -> np.ndarray:
    """Untempered prior sd: ``prior_width × σ`` clipped to [1 %, 50 %] of ``upper - lower``.

    Non-finite σ (an unidentifiable parameter) gets the 50 % ceiling.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    span = np.asarray(upper, dtype=np.float64) - np.asarray(lower, dtype=np.float64)
    width = np.where(np.isfinite(sigma), prior_width * np.abs(sigma), np.inf)
    return np.clip(width, MIN_WIDTH_FRACTION * span, MAX_WIDTH_FRACTION * span)


def temper(scale, n_shards: int) -> np.ndarray:
    """Sd of a normal prior raised to the power ``1/n_shards``: ``scale × √n_shards``."""
    return np.asarray(scale, dtype=np.float64) * math.sqrt(n_shards)
