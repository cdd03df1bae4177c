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

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homodyne.errors import FitError

MIN_WIDTH_FRACTION = 0.01
"""Narrowest prior sd, as a fraction of the bound range."""
MAX_WIDTH_FRACTION = 0.5
"""Widest prior sd (also used when σ_NLSQ is infinite or NaN), as a fraction of the range."""


@dataclass(frozen=True)
class NLSQEstimate:
    """What CMC needs from an NLSQ fit, in the layout ``[physical, scaling]``.

    The NLSQ fit's ``FitResult`` has these attributes too, so either can be passed to
    :func:`homodyne.cmc.make_shards`; this one is what :func:`read_nlsq_estimate` returns for
    a workflow step that starts from the NLSQ result file.  ``per_angle_effective``: the
    per-angle form the fit settled on (``auto`` becomes one from the data, not from the
    config alone), so the shards' problem has the fit's parameters.
    """

    names: tuple[str, ...]
    values: np.ndarray
    uncertainties: np.ndarray
    free: np.ndarray
    covariance: np.ndarray
    per_angle_effective: str
    chi2: float = math.nan
    n_points: int = 0
    """χ² and points of the fit: the noise factor's optimum ``sqrt(χ²/n)`` centres its
    importance-sampling proposal."""


def read_nlsq_estimate(path: str | Path) -> NLSQEstimate:
    """Values, 1σ, free mask, covariance, χ² and points from an ``nlsq_results.json``.

    A null 1σ reads as infinite, a null covariance entry (or a file without ``covariance``)
    as NaN: the sampler then starts from a unit mass matrix for those parameters.

    Raises:
        FitError: the file is missing or does not hold the ``parameters`` mapping and the
            ``per_angle_effective`` form.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
        parameters, form = content["parameters"], content["per_angle_effective"]
    except (OSError, ValueError, KeyError) as exc:
        raise FitError(f"{path}: cannot read NLSQ parameters for the CMC priors ({exc})") from exc
    names = tuple(parameters)

    def column(key, missing):
        return np.array([missing if parameters[n].get(key) is None else parameters[n][key]
                         for n in names], dtype=np.float64)

    return NLSQEstimate(
        names=names,
        values=column("value", math.nan),
        uncertainties=column("uncertainty", math.inf),
        free=np.array([not parameters[n].get("fixed", False) for n in names]),
        covariance=np.array(content.get("covariance") or np.full((len(names),) * 2, None),
                            dtype=np.float64).reshape(len(names), len(names)),
        per_angle_effective=form,
        chi2=float(content["chi2"]) if content.get("chi2") is not None else math.nan,
        n_points=int(content.get("n_points") or 0),
    )


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
