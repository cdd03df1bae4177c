"""Importance sampling of the posterior from the NLSQ optimum (docs/physics.md).

With many points the posterior is Gaussian to within sampling error around the best NLSQ
optimum (at 23 × 300 and 23 × 500 laminar-flow frames the NUTS posterior sd is 0.98-1.09 ×
the NLSQ 1σ, benchmarks/README.md).  NUTS spends ~12,000 gradients to draw from such a
posterior; importance sampling needs a few thousand forward evaluations of the exact log
posterior (:mod:`homodyne.cmc.density`) at draws from a proposal centred on the optimum, and
Pareto-smoothed importance weights (PSIS, Vehtari et al. 2024, ArviZ's implementation) turn
them into exact posterior draws -- when the diagnostic k̂ says the proposal covers the
posterior.  Where it does not (few points, parameters near bounds, a degenerate pair), k̂ is
high and the caller falls back to NUTS.

The proposal (:func:`build_proposal`, measured on the 23 × 300 production dataset,
benchmarks/README.md "Posterior methods"):

* centre: the NLSQ values; covariance: the NLSQ covariance with the prior's precision added
  (the posterior's Laplace approximation under the same truncated-normal priors NUTS uses);
* coordinates: the prefactors of the power laws (every physical parameter with a positive
  lower bound: D0, gamma_dot_t0, v0, ...) in log, where the curved valley of
  ``D0·t^alpha`` is straight; every other parameter as it is;
* the noise factor in log, centred on its own optimum ``sqrt(χ²_NLSQ / n)`` with sd
  ``1/sqrt(2n)``: centred at 1 the same draws gave k̂ 1.15 (issue 22's probe);
* a Gaussian with the covariance inflated by :data:`INFLATION`: the tails then cover the
  posterior's, which is what keeps k̂ low.

Sharded data are exact too: every shard's job evaluates its own log likelihood at the same
proposal draws (written into every shard file by the one shard step) and the combine step adds
them (:func:`homodyne.cmc.density.log_likelihood` adds up over shards), so nothing is
approximated in the combination.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from arviz_stats.base import array_stats

from homodyne.cmc.density import NOISE_FACTOR
from homodyne.quality import ESS_MIN

INFLATION = 1.2
"""Proposal sd / Laplace sd in every direction.  Measured on the 23 × 300 production
dataset with 1,000 draws: 1.0 gave k̂ 0.47 (weights' ESS 71 %), 1.2 gave k̂ 0.22 (ESS 33 %)
-- the tails, not the ESS, decide whether the weights can be trusted."""

K_HAT_MAX = 0.7
"""Largest Pareto k̂ at which importance weights are trusted for any number of draws."""

MIN_POINTS = 500_000
"""``cmc.method: auto`` tries importance sampling from this many points on.  Below, NUTS is
cheap (seconds to a couple of minutes) and the posterior of a strongly correlated model is
less often Gaussian; at 23 × 300 frames (1.0 M points) it is (benchmarks/README.md)."""


def k_hat_limit(n_draws: int) -> float:
    """The sample-size-dependent k̂ threshold ``min(1 − 1/log10(S), 0.7)`` (Vehtari et al.
    2024): with S draws the Pareto fit can only tell tails apart above it."""
    return min(1.0 - 1.0 / math.log10(max(n_draws, 11)), K_HAT_MAX)


@dataclass(frozen=True, eq=False)
class Proposal:
    """A Gaussian over the sampled quantities, in coordinates where the posterior is close to
    Gaussian: ``log`` of the entries with ``log_coords`` (positive prefactors, the noise
    factor), the others as they are.

    Attributes:
        names: the sampled quantities (free parameters, then ``noise_scale`` if sampled).
        mean: centre in proposal coordinates.
        chol: lower Cholesky factor of the covariance in proposal coordinates.
        log_coords: which entries are drawn in log.
    """

    names: tuple[str, ...]
    mean: np.ndarray
    chol: np.ndarray
    log_coords: np.ndarray

    def draw(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws ``(n, d)`` in physical units and their log density there (up to a
        constant, the Jacobian of the log coordinates included); seeded."""
        z = np.random.default_rng(seed).standard_normal((n, len(self.mean)))
        u = self.mean + z @ self.chol.T
        log_q = -0.5 * np.sum(z * z, axis=1) - np.sum(u[:, self.log_coords], axis=1)
        x = u.copy()
        x[:, self.log_coords] = np.exp(u[:, self.log_coords])
        return x, log_q

    def record(self) -> dict:
        """What the result files say about the proposal."""
        return {"family": "gaussian", "inflation": INFLATION, "names": list(self.names),
                "log_coordinates": [n for n, k in zip(self.names, self.log_coords,
                                                      strict=True) if k]}


def build_proposal(names: tuple[str, ...], values, covariance, prior_sd, lower,
                   sample_sigma: bool, chi2: float, n_points: int) -> Proposal | str:
    """The proposal of the free parameters ``names`` (values, NLSQ covariance, untempered
    prior sd and lower bounds of those, physical first), or why there is none.

    There is none when the NLSQ covariance of the free parameters is not finite and
    positive definite (an unidentified parameter: NUTS then explores what NLSQ could not
    describe).
    """
    values = np.asarray(values, np.float64)
    cov = np.asarray(covariance, np.float64)
    if not np.all(np.isfinite(cov)) or not np.all(np.isfinite(values)):
        return "the NLSQ covariance is not finite (a parameter the data do not determine)"
    try:
        precision = np.linalg.inv(0.5 * (cov + cov.T)) + np.diag(1.0 / np.asarray(prior_sd)**2)
        laplace = np.linalg.inv(precision)
        np.linalg.cholesky(laplace)
    except np.linalg.LinAlgError:
        return "the NLSQ covariance is not positive definite (degenerate parameters)"
    log_coords = np.asarray(lower, np.float64) > 0
    jac = np.where(log_coords, 1.0 / values, 1.0)
    mean = np.where(log_coords, np.log(np.where(log_coords, values, 1.0)), values)
    cov_u = laplace * np.outer(jac, jac)
    if sample_sigma:
        n = max(int(n_points), 1)
        f_hat = math.sqrt(max(chi2, 1e-300) / n)
        mean = np.append(mean, math.log(f_hat))
        cov_u = np.block([[cov_u, np.zeros((len(jac), 1))],
                          [np.zeros((1, len(jac))), np.full((1, 1), 1.0 / (2.0 * n))]])
        log_coords = np.append(log_coords, True)
        names = (*names, NOISE_FACTOR)
    chol = np.linalg.cholesky(0.5 * (cov_u + cov_u.T)) * INFLATION
    return Proposal(names=tuple(names), mean=mean, chol=chol, log_coords=log_coords)


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights and Pareto k̂ of importance log ratios (ArviZ's PSIS).

    ArviZ's ``psislw`` is written for leave-one-out, where the log ratios are minus the
    log likelihood, so it is given ``-log_ratios``.
    """
    log_weights, k_hat = array_stats.psislw(-np.asarray(log_ratios, np.float64), r_eff=1.0)
    weights = np.exp(log_weights - np.max(log_weights))
    return weights / weights.sum(), float(k_hat)


def systematic_resample(weights: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices drawn by systematic resampling of normalised ``weights`` (seeded)."""
    positions = (np.random.default_rng(seed).uniform() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), len(weights) - 1)


def fingerprint(draws: np.ndarray) -> str:
    """A short hash of proposal draws: every shard of a run must hold the same ones."""
    return hashlib.sha256(np.ascontiguousarray(draws, np.float64).tobytes()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Outcome:
    """Importance sampling's result: the resampled draws and whether they can be trusted.

    Attributes:
        draws: ``(1, S, d)`` draws resampled by the smoothed weights (one "chain": they are
            not a Markov chain, so R-hat does not apply).
        k_hat: Pareto k̂ of the weights (inf when the posterior is zero at every draw).
        ess: Kish effective sample size of the normalised weights, ``1 / Σ w²``.
        limit: the k̂ threshold for this many draws (:func:`k_hat_limit`).
        accepted: k̂ within its limit and at least :data:`homodyne.quality.ESS_MIN`
            effective draws (the mean then known to a tenth of its sd, as for NUTS).
        message: what was found and, when not accepted, why.
    """

    draws: np.ndarray
    k_hat: float
    ess: float
    limit: float
    accepted: bool
    message: str

    @property
    def n_draws(self) -> int:
        return self.draws.shape[1]

    def record(self) -> dict:
        return {"k_hat": self.k_hat, "k_hat_limit": self.limit, "ess": self.ess,
                "n_draws": self.n_draws, "accepted": self.accepted, "message": self.message}


def reweigh(draws: np.ndarray, log_q: np.ndarray, log_target: np.ndarray,
            seed: int) -> Outcome:
    """PSIS weights of proposal ``draws`` ``(S, d)`` (log density ``log_q``) for the target
    ``log_target`` (the full-data log posterior at them), and ``S`` draws resampled by them
    (systematic resampling, then shuffled, seeded: in draw order they carry no trend)."""
    draws = np.asarray(draws, np.float64)
    n = len(draws)
    limit = k_hat_limit(n)
    log_ratios = np.asarray(log_target, np.float64) - np.asarray(log_q, np.float64)
    finite = np.isfinite(log_ratios)
    if not finite.any():
        return Outcome(draws[None], math.inf, 0.0, limit, False,
                       "the posterior is zero at every proposal draw (all outside the bounds "
                       "or the likelihood not finite)")
    weights, k_hat = psis(np.where(finite, log_ratios, -np.inf))
    ess = float(1.0 / np.sum(weights**2))
    keep = systematic_resample(weights, n, seed)  # increasing: copies of a draw side by side
    resampled = draws[np.random.default_rng(seed).permutation(keep)][None]
    found = f"PSIS k̂ {k_hat:.2f} (limit {limit:.2f}), weights' ESS {ess:.0f} of {n} draws"
    if not k_hat <= limit:
        return Outcome(resampled, k_hat, ess, limit, False,
                       f"{found}: the proposal does not cover the posterior's tails")
    if ess < ESS_MIN:
        return Outcome(resampled, k_hat, ess, limit, False,
                       f"{found}: fewer than {ESS_MIN} effective draws")
    return Outcome(resampled, k_hat, ess, limit, True, found)
