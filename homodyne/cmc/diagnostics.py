"""Convergence diagnostics, the posterior table and shard heterogeneity (docs/physics.md).

R-hat is ArviZ's rank-normalised split R-hat; bulk ESS and tail ESS (the smaller of the
ESS of the 5 % and 95 % quantiles) follow Vehtari et al. (2021).  They are computed on
draws shaped ``(chain, draw, parameter)``, for a shard's own draws and for the consensus
draws, which keep the chain structure of the shards.
"""

from __future__ import annotations

import numpy as np
from arviz_stats import ess, hdi, rhat  # not `arviz`: it imports arviz_plots and matplotlib

ZERO_MEAN_SDS = 4.0
"""A mean within this many shard posterior sds of zero is treated as zero (see
:func:`heterogeneity`)."""


def chain_diagnostics(draws: np.ndarray) -> dict:
    """Per-parameter R-hat, bulk and tail ESS of ``draws`` ``(chain, draw, parameter)``,
    and their worst values (``r_hat_max``, ``ess_bulk_min``, ``ess_tail_min``)."""
    draws = np.asarray(draws, dtype=np.float64)
    axes = {"chain_axis": 0, "draw_axis": 1}
    r_hat = np.asarray(rhat(draws, **axes), dtype=np.float64)
    ess_bulk = np.asarray(ess(draws, method="bulk", **axes), dtype=np.float64)
    ess_tail = np.asarray(ess(draws, method="tail", prob=(0.05, 0.95), **axes),
                          dtype=np.float64)
    return {
        "r_hat": r_hat, "ess_bulk": ess_bulk, "ess_tail": ess_tail,
        "r_hat_max": float(np.max(r_hat)), "ess_bulk_min": float(np.min(ess_bulk)),
        "ess_tail_min": float(np.min(ess_tail)),
    }


HDI_PROB = 0.94
"""Mass of the reported highest-density interval (ArviZ's default: its ends ``hdi_3`` and
``hdi_97`` do not suggest the precision of a 95 % test)."""


def posterior_table(names, draws: np.ndarray) -> dict[str, dict[str, float]]:
    """``{name: {mean, sd, hdi_3, hdi_97}}`` of draws ``(chain, draw, parameter)``: the
    table ``mcmc_parameters.json`` records (sd with ddof 1, the 94 % HDI of the pooled
    chains)."""
    flat = np.asarray(draws, dtype=np.float64).reshape(-1, len(names))
    interval = np.asarray(hdi(flat, prob=HDI_PROB, axis=0)).reshape(len(names), 2)
    return {name: {"mean": float(np.mean(col)), "sd": float(np.std(col, ddof=1)),
                   "hdi_3": float(lo), "hdi_97": float(hi)}
            for name, col, (lo, hi) in zip(names, flat.T, interval, strict=True)}


def heterogeneity(means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """Coefficient of variation of the shard means, per parameter.

    ``cv = sd_s(mean_s) / max(|mean over shards|, ZERO_MEAN_SDS × median_s(sd_s))``

    The plain CV (``sd / |mean|``) explodes for a parameter whose value is near zero (an
    offset, an exponent of 0) although the shards agree.  Shard means of homogeneous data
    scatter by about one shard posterior sd, so where the mean is within
    ``ZERO_MEAN_SDS`` posterior sds of zero the scatter is measured against that many sds:
    agreeing shards then give ``cv ≈ 1/ZERO_MEAN_SDS = 0.25``, and the default warning
    threshold 0.5 flags a scatter twice what the shards' own widths explain.  Away from zero
    it is the plain CV.

    Args:
        means, sds: per-shard posterior means and sds, shape ``(n_shards, n_parameters)``.

    Returns:
        ``(n_parameters,)`` array; NaN with fewer than two shards.
    """
    means = np.asarray(means, dtype=np.float64)
    if means.shape[0] < 2:
        return np.full(means.shape[1], np.nan)
    spread = np.std(means, axis=0, ddof=1)
    scale = np.maximum(np.abs(np.mean(means, axis=0)),
                       ZERO_MEAN_SDS * np.median(np.asarray(sds, np.float64), axis=0))
    return spread / scale
