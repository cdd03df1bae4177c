"""The consensus checks itself: Pareto-smoothed importance sampling against the full data.

Scott et al.'s consensus is exact when every shard posterior is Gaussian; small shards of
a strongly correlated model are not, and the consensus is then biased without saying so.
After combining, the full-data log posterior is evaluated at every consensus draw (the
shards' blocks put back together, one dense forward pass per draw), and compared with the
density the consensus represents, the Gaussian with the consensus draws' mean and
covariance.  The log ratios go through PSIS (Vehtari et al. 2024, ArviZ's implementation):

* ``k̂ < 0.7``: the importance weights are reliable; the reweighted draws (systematic
  resampling by the smoothed weights) are the posterior, and the weights' effective sample
  size says how much of the consensus they kept.
* ``k̂ >= 0.7``: the consensus is too far from the full-data posterior to be corrected; the
  consensus draws are kept and the result says plainly that they are not trustworthy.

A single shard is full-data NUTS: there is nothing to check and the draws are returned
unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from homodyne.cmc import density
from homodyne.cmc.density import NOISE_FACTOR
from homodyne.cmc.importance import psis, systematic_resample
from homodyne.cmc.shard import Shard, merged_problem

log = logging.getLogger(__name__)

K_HAT_LIMIT = 0.7
"""Largest Pareto k̂ at which the importance weights are trusted (Vehtari et al. 2024)."""
ADVICE = ("the consensus of these shards is not a trustworthy posterior for this dataset: "
          "use fewer, larger shards (cmc.shards), or one shard (cmc.shards: 1, full-data NUTS)")


@dataclass(frozen=True)
class SelfCheck:
    """Outcome of the PSIS check of a consensus.

    Attributes:
        k_hat: Pareto k̂ of the importance weights (NaN when not computed).
        ess: effective sample size of the normalised weights, ``1 / Σ w²``.
        n_draws: consensus draws checked.
        reweighted: whether the returned draws are the PSIS-resampled ones.
        message: what was done and, when k̂ >= 0.7, what to do.
    """

    k_hat: float
    ess: float
    n_draws: int
    reweighted: bool
    message: str

    def as_dict(self) -> dict:
        return {"k_hat": self.k_hat, "ess": self.ess, "n_draws": self.n_draws,
                "k_hat_limit": K_HAT_LIMIT, "reweighted": self.reweighted,
                "message": self.message}


def full_log_posterior(shards: list[Shard], names: tuple[str, ...]):
    """``draws (n, len(names)) -> log posterior (n,)`` of the whole dataset, up to a constant.

    The shards' rows put back together (:func:`homodyne.cmc.shard.merged_problem`) and the
    untempered priors, evaluated by :mod:`homodyne.cmc.density` (-inf outside the bounds).
    """
    first = shards[0]
    problem = merged_problem(shards)
    free_idx = np.flatnonzero(problem.free)
    n_free = len(free_idx)
    sample_sigma = NOISE_FACTOR in names
    if names[:n_free] != problem.free_names or len(names) != n_free + sample_sigma:
        raise ValueError(f"draws of {names} do not match the shards' free parameters "
                         f"{problem.free_names}")
    chi2 = density.chi2_function(problem, first.values)
    prior = (first.prior_loc[free_idx], first.prior_scale_untempered[free_idx],
             problem.lower[free_idx], problem.upper[free_idx])

    def evaluate(draws):
        theta, f = density.split_draws(draws, n_free)
        return (density.log_prior(theta, f, *prior)
                + density.log_likelihood(chi2(theta), f, problem.n_points))

    return evaluate


def gaussian_log_density(draws: np.ndarray) -> np.ndarray:
    """Log density (up to a constant) of the Gaussian fitted to ``draws`` ``(n, d)``, at
    each draw; in coordinates scaled by each column's sd, so the covariance is well
    conditioned whatever the units."""
    draws = np.asarray(draws, np.float64)
    scale = draws.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    x = (draws - draws.mean(axis=0)) / scale
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    solved = np.linalg.solve(cov, x.T).T
    return -0.5 * np.sum(x * solved, axis=1)


def self_check(draws: np.ndarray, names: tuple[str, ...], shards: list[Shard],
               seed: int) -> tuple[np.ndarray, SelfCheck]:
    """PSIS check of consensus ``draws`` ``(chain, draw, parameter)`` against the data of
    ``shards``; returns the draws to report (reweighted when k̂ < 0.7) and the check."""
    chains, n_draws, n_par = draws.shape
    flat = draws.reshape(-1, n_par)
    if len(shards) == 1:
        return draws, SelfCheck(np.nan, float(len(flat)), len(flat), False,
                                "one shard: full-data NUTS, nothing to check")
    target = full_log_posterior(shards, names)(flat)
    log_ratios = target - gaussian_log_density(flat)
    if not np.any(np.isfinite(log_ratios)):
        check = SelfCheck(np.inf, 0.0, len(flat), False,
                          f"the full-data posterior is zero at every consensus draw; {ADVICE}")
        log.warning("CMC self-check: %s", check.message)
        return draws, check
    weights, k_hat = psis(np.where(np.isfinite(log_ratios), log_ratios, -np.inf))
    ess = float(1.0 / np.sum(weights**2))
    if k_hat < K_HAT_LIMIT:
        keep = systematic_resample(weights, len(flat), seed)
        check = SelfCheck(k_hat, ess, len(flat), True,
                          f"PSIS k-hat {k_hat:.2f} < {K_HAT_LIMIT}: consensus draws reweighted "
                          f"to the full-data posterior (weight ESS {ess:.0f} of {len(flat)})")
        log.info("CMC self-check: %s", check.message)
        return flat[keep].reshape(chains, n_draws, n_par), check
    check = SelfCheck(k_hat, ess, len(flat), False,
                      f"PSIS k-hat {k_hat:.2f} >= {K_HAT_LIMIT}: {ADVICE}")
    log.warning("CMC self-check: %s", check.message)
    return draws, check


def posterior_mode(draws: np.ndarray, names: tuple[str, ...], shards: list[Shard]) -> dict:
    """χ² of the whole dataset at the posterior mean against χ² at the NLSQ values.

    NUTS starts at the best optimum NLSQ found; a posterior centred elsewhere has either
    wandered to a worse optimum or found a better one than NLSQ did, and both make one of
    the two answers wrong.  For a Gaussian posterior the two χ² differ by about the number
    of parameters over the ESS (the Monte Carlo error of the mean), far below one.

    Returns:
        ``{chi2_posterior_mean, chi2_nlsq, delta}`` with ``delta`` the difference in units
        of the NLSQ χ²_red (the noise factor at 1, the same points and σ as NLSQ).
    """
    problem = merged_problem(shards)
    n_free = int(problem.free.sum())
    mean = np.asarray(draws, np.float64).reshape(-1, len(names)).mean(axis=0)
    chi2 = density.chi2_function(problem, shards[0].values)
    nlsq = shards[0].values[problem.free]
    chi2_mean, chi2_nlsq = (float(c) for c in chi2(np.stack([mean[:n_free], nlsq])))
    dof = max(problem.n_points - n_free, 1)
    return {"chi2_posterior_mean": chi2_mean, "chi2_nlsq": chi2_nlsq,
            "delta": (chi2_mean - chi2_nlsq) / max(chi2_nlsq / dof, 1e-300)}
