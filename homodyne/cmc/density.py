"""The log posterior of a dataset, or of one shard of it, at many parameter draws.

Importance sampling (:mod:`homodyne.cmc.importance`), the PSIS self-check of a NUTS
consensus and the posterior-mode check (:mod:`homodyne.cmc.check`) all need the same
numbers: the Gaussian log likelihood of every point and the prior, at a batch of draws.
They are defined once here, on the residuals NUTS samples
(:meth:`homodyne.nlsq.Problem.residuals`, the definition NLSQ fits) and the priors of
:mod:`homodyne.cmc.priors` untempered (a density of the whole dataset, not of a shard):

    log L(θ, f) = −χ²(θ) / (2 f²) − n log f         (n points, f the noise factor, 1 when
                                                     it is not sampled)
    log p(θ, f) = Σ_k −((θ_k − μ_k) / s_k)² / 2 − f² / 2      inside the bounds, −inf outside

both without their parameter-free constants (Σ log σ_p + (n/2) log 2π, the truncation's
normalisation).  The likelihood adds up over shards exactly: Σ_s (−χ²_s/(2f²) − n_s log f)
is the full-data value, which is what lets importance sampling run one job per shard.

The forward passes are dense (whole frame-pair blocks) and batched: the draws are split over
the JAX devices of the process and evaluated one after another on each, in batches of a fixed
size so one compiled program serves every batch (and, through the persistent compilation
cache, every shard of a run: shards are padded to the same rows).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

log = logging.getLogger(__name__)

NOISE_FACTOR = "noise_scale"
"""Name of the sampled noise factor ``f`` in posteriors and outputs."""

BATCH_PER_DEVICE = 16
"""Draws one compiled call evaluates on each device (fewer when there are fewer draws): large
enough that the call overhead is negligible next to a forward pass of ~10⁶ points, small
enough for progress lines; memory holds one draw's residual block at a time per device."""


PROGRESS_AFTER = 5.0
"""Seconds after which an evaluation logs its progress (at each 10 %): a long one says how
far it is, a short one does not fill the log."""


def split_draws(draws: np.ndarray, n_free: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(theta (S, n_free), f (S,) or None)`` of draws ``(S, n_free [+ 1])``."""
    draws = np.asarray(draws, np.float64)
    if draws.shape[-1] not in (n_free, n_free + 1):
        raise ValueError(f"draws have {draws.shape[-1]} columns, expected {n_free} free "
                         f"parameters (+ {NOISE_FACTOR})")
    return draws[:, :n_free], (draws[:, n_free] if draws.shape[-1] > n_free else None)


def chi2_function(problem, values, arrays: tuple | None = None,
                  label: str = "") -> Callable[[np.ndarray], np.ndarray]:
    """``theta (S, n_free) -> χ² (S,)``: χ² of ``problem``'s points with its free parameters
    at each draw and the others at ``values`` (the full NLSQ vector).

    ``arrays`` (``ia, ja, y, mask``; default ``problem.arrays()``) may be padded with masked
    rows, so that shards of different sizes share one program.  ``label`` names the
    evaluation in the progress lines (logged at each 10 % when there are many draws).
    """
    data = tuple(jnp.asarray(a) for a in (arrays if arrays is not None else problem.arrays()))
    free_idx = np.flatnonzero(problem.free)
    full = jnp.asarray(np.asarray(values, np.float64))
    devices = jax.local_devices()
    n_dev = len(devices)

    def one(theta, ia, ja, y, mask):
        r = problem.residuals(full.at[free_idx].set(theta), ia, ja, y, mask)
        return jnp.sum(r * r)

    batch = jax.pmap(lambda th, *d: jax.lax.map(lambda x: one(x, *d), th),
                     in_axes=(0, None, None, None, None), devices=devices)

    def evaluate(theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, np.float64).reshape(-1, len(free_idx))
        per_device = min(BATCH_PER_DEVICE, math.ceil(len(theta) / n_dev))
        size = n_dev * per_device
        n_calls = max(1, math.ceil(len(theta) / size))
        padded = np.concatenate([theta, np.repeat(theta[-1:], n_calls * size - len(theta), 0)])
        out, began, every = [], time.perf_counter(), max(1, n_calls // 10)
        for c in range(n_calls):
            part = padded[c * size:(c + 1) * size].reshape(n_dev, per_device, -1)
            out.append(np.asarray(batch(jnp.asarray(part), *data)).ravel())
            elapsed = time.perf_counter() - began
            if (label and n_calls >= 10 and (c + 1) % every == 0 and c + 1 < n_calls
                    and elapsed > PROGRESS_AFTER):
                rate = (c + 1) * size / elapsed
                log.info("%s: %d%% of %d draws, %.0f draws/s, ETA %.0f s", label,
                         100 * (c + 1) // n_calls, len(theta), rate,
                         (len(theta) - (c + 1) * size) / rate)
        return np.concatenate(out)[: len(theta)]

    return evaluate


def log_likelihood(chi2: np.ndarray, f: np.ndarray | None, n_points: int) -> np.ndarray:
    """``−χ²/(2f²) − n log f`` (``−χ²/2`` without a noise factor); −inf where ``f <= 0``."""
    chi2 = np.asarray(chi2, np.float64)
    if f is None:
        return -0.5 * chi2
    f = np.asarray(f, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = -0.5 * chi2 / f**2 - n_points * np.log(f)
    return np.where(f > 0, value, -np.inf)


def log_prior(theta: np.ndarray, f: np.ndarray | None, loc, scale, lower,
              upper) -> np.ndarray:
    """Untempered truncated-normal prior of ``theta (S, n_free)`` (−inf outside the bounds)
    and, with a noise factor ``f``, its ``HalfNormal(1)`` prior."""
    theta = np.asarray(theta, np.float64)
    value = np.sum(-0.5 * ((theta - loc) / scale) ** 2, axis=1)
    inside = np.all((theta >= lower) & (theta <= upper), axis=1)
    if f is not None:
        f = np.asarray(f, np.float64)
        value = value - 0.5 * f**2
        inside &= f > 0
    return np.where(inside, value, -np.inf)


def shard_log_likelihood(shard, draws: np.ndarray, label: str = "") -> np.ndarray:
    """Log likelihood ``(S,)`` of one shard's points at ``draws`` ``(S, n_free [+ 1])``
    (:class:`homodyne.cmc.shard.Shard`: its padded block, its NLSQ values for the fixed
    parameters); summed over a run's shards it is the full-data log likelihood."""
    problem = shard.problem
    theta, f = split_draws(draws, int(problem.free.sum()))
    chi2 = chi2_function(problem, shard.values, shard.padded_arrays(), label=label)(theta)
    return log_likelihood(chi2, f, shard.n_points)


def shard_log_prior(shard, draws: np.ndarray) -> np.ndarray:
    """The dataset's untempered prior ``(S,)`` at ``draws``, from a shard's prior arrays
    (every shard of a run holds the same)."""
    problem = shard.problem
    free = problem.free
    theta, f = split_draws(draws, int(free.sum()))
    return log_prior(theta, f, shard.prior_loc[free], shard.prior_scale_untempered[free],
                     problem.lower[free], problem.upper[free])
