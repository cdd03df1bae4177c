"""The NumPyro model of one shard (docs/physics.md).

Prior: free parameter ``θ_k ~ TruncatedNormal(μ_k, s_k)`` on its bounds, ``μ`` the NLSQ
value, ``s`` the tempered prior sd.  Likelihood: ``y ~ Normal(c2_model, σ_p · f)`` at the
shard's points (a dense block, :meth:`homodyne.problem.Problem.residuals`), ``σ_p`` the noise
estimate of the point's angle, ``f`` either 1 (``sample_sigma: false``) or one sampled
noise factor with prior ``HalfNormal(1)`` tempered to ``HalfNormal(√K)`` (a half-normal
raised to 1/K is exactly that).  One factor for the whole dataset: a misjudged noise
estimate is usually off by the same ratio at every angle, and the factor absorbs it so the
parameter uncertainties stay honest.  ``c2_model`` comes from the shard's
:class:`homodyne.problem.Problem`, the same definition NLSQ fits.

Parameterisation.  NUTS moves in an unconstrained vector ``u`` that is of order one in
posterior units:

* ``θ = μ + h·z`` with ``h`` the expected shard posterior sd (NLSQ 1σ × √K, at most the
  prior sd), and ``z = u + softplus(a - u) - softplus(u - b)``, a smooth bijection from the
  real line onto the bounds ``[a, b]`` (in ``z`` units) whose slope is 1 away from them.
* ``f = exp(h_f·w)`` with ``h_f = 1/√(2n)``, the posterior sd of ``log f`` for ``n``
  points.

Why not NumPyro's own truncated normal: its support transform is a scaled sigmoid over the
whole bound range, which is 10³-10⁶ posterior sds wide here, so the posterior occupies
~10⁻³ of the unconstrained axis.  NumPyro's mass-matrix adaptation shrinks its estimate
towards 10⁻³·I, which then dominates: on a 6 000-point static shard the adapted step size was
0.02 and every draw took ~150 leapfrog steps.  In this parameterisation the same shard
adapts to steps of order one.

Mass matrix.  NUTS starts from the NLSQ covariance, ``K ×`` for a shard of ``1/K`` of the
data, with the tempered prior's precision added, expressed in ``u`` (where ``dθ = h du``
away from the bounds): :func:`inverse_mass_matrix`.  The physical parameters of laminar
flow are strongly correlated (D0, alpha, D_offset), which a diagonal start cannot express.
That matrix is kept for the whole run and warmup adapts the step size only: NumPyro
re-estimates a mass matrix from windows of 25-75 warmup draws, far too few for 18
correlated dimensions, and its estimate replaced a good start with a worse one (23 × 300
laminar flow, full data: 35-41 leapfrog steps per draw after adaptation, 7-9 without, at
the same effective sample size; benchmarks/README.md).  Only without a usable NLSQ
covariance does NUTS start from the identity and adapt.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from homodyne.cmc.shard import Shard


def coordinates(shard: Shard) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(μ, h, a, b)`` of the free parameters: ``θ = μ + h z`` with ``a <= z <= b``."""
    free = shard.problem.free
    loc, prior = shard.prior_loc[free], shard.prior_scale[free]
    sigma = np.abs(shard.nlsq_uncertainty[free]) * math.sqrt(shard.n_shards)
    h = np.where(np.isfinite(sigma) & (sigma > 0), np.minimum(sigma, prior), prior)
    lower, upper = shard.problem.lower[free], shard.problem.upper[free]
    return loc, h, (lower - loc) / h, (upper - loc) / h


def inverse_mass_matrix(shard: Shard, sample_sigma: bool, dense: bool) -> np.ndarray | None:
    """Inverse mass matrix in the sampler's coordinates ``(u, w)``, or None without a usable
    NLSQ covariance (NUTS then starts from the identity and adapts it).

    The expected shard posterior covariance of ``u``: ``(K Σ_NLSQ / (h hᵀ))⁻¹ + diag(h/s)²``
    inverted (data precision of ``1/K`` of the data plus the tempered prior's precision),
    and 1 for the noise coordinate ``w`` (its posterior sd by construction of ``h_f``).
    None when the NLSQ covariance of the free parameters is not finite and positive
    definite.  Diagonal of it when ``dense`` is false.
    """
    loc, h, _, _ = coordinates(shard)
    free = shard.problem.free
    cov = shard.nlsq_covariance[np.ix_(free, free)] * shard.n_shards / np.outer(h, h)
    ratio = h / shard.prior_scale[free]
    if not np.all(np.isfinite(cov)):
        return None
    try:
        precision = np.linalg.inv(0.5 * (cov + cov.T)) + np.diag(ratio**2)
        matrix = np.linalg.inv(precision)
    except np.linalg.LinAlgError:
        return None
    matrix = 0.5 * (matrix + matrix.T)
    if not np.linalg.eigvalsh(matrix)[0] > 0:
        return None
    if sample_sigma:
        matrix = np.block([[matrix, np.zeros((len(loc), 1))],
                           [np.zeros((1, len(loc))), np.ones((1, 1))]])
    return matrix if dense else np.diag(matrix).copy()


def soft_clip(u, a, b):
    """``z`` in ``(a, b)`` from unconstrained ``u``, and ``log dz/du`` (both stable)."""
    z = u + jax.nn.softplus(a - u) - jax.nn.softplus(u - b)
    log_jac = -jax.nn.softplus(a - u) - jax.nn.softplus(u - b) + jnp.log1p(-jnp.exp(a - b))
    return z, log_jac


def soft_clip_inverse(z, a, b):
    """``u`` with ``soft_clip(u, a, b)[0] == z`` for ``a < z < b``."""
    z, a, b = (np.asarray(x, dtype=np.float64) for x in (z, a, b))
    return z + np.log1p(-np.exp(a - z)) - np.log(-np.expm1(z - b))


def noise_step(shard: Shard) -> float:
    """``h_f``: posterior sd of ``log f`` for about the shard's number of points.

    From the padded size, which all shards of a run share (one compiled program).
    """
    problem = shard.problem
    return 1.0 / math.sqrt(2.0 * shard.pad_to * problem.ia.shape[1] * len(problem.phi))


def build_model(shard: Shard, sample_sigma: bool):
    """NumPyro model ``model(ia, ja, y, mask)`` of ``shard`` (its block is an argument).

    The block is an argument, not closed over, so the shards of a run (padded to the same
    rows, ``mask`` false on padding) trace to one program.  The Gaussian log likelihood is
    written out as ``-χ²/(2f²) - n log f``, without the parameter-free normalisation
    ``Σ log σ_p + (n/2) log 2π``, so the ``lp`` sample statistic is the log posterior up to
    that constant.
    """
    problem = shard.problem
    loc, h, a, b = coordinates(shard)
    ratio = h / shard.prior_scale[problem.free]
    free_idx = np.flatnonzero(problem.free)
    values = jnp.asarray(shard.values)
    n_free = len(free_idx)
    n_phi = len(problem.phi)
    h_f = noise_step(shard)

    def model(ia, ja, y, mask):
        u = numpyro.sample("u", dist.ImproperUniform(constraints.real, (), (n_free,)))
        z, log_jac = soft_clip(u, a, b)
        numpyro.factor("prior", jnp.sum(-0.5 * (ratio * z) ** 2 + log_jac))
        full = values.at[free_idx].set(loc + h * z)
        r = problem.residuals(full, ia, ja, y, mask)
        chi2 = jnp.sum(r * r)
        if sample_sigma:
            w = numpyro.sample("w", dist.ImproperUniform(constraints.real, (), ()))
            f = jnp.exp(h_f * w)
            numpyro.factor("noise_prior", -0.5 * f**2 / shard.n_shards + h_f * w)
            numpyro.factor("likelihood", -0.5 * chi2 / f**2 - n_phi * jnp.sum(mask) * h_f * w)
        else:
            numpyro.factor("likelihood", -0.5 * chi2)

    return model


OVERDISPERSION = 2.0
"""Chains after the first start this many expected posterior sds away (in every direction of
the expected posterior covariance): R-hat can only see a second mode, or a start that the
posterior does not support, when the chains do not all begin at the same point."""


def initial_values(shard: Shard, sample_sigma: bool, chains: int = 1,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Per-chain starts ``{"u": (chains, n), "w": (chains,)}``: chain 0 at the NLSQ values
    (``z = 0``) and ``f = 1``, the others overdispersed (:data:`OVERDISPERSION` × draws from
    the expected shard posterior, :func:`inverse_mass_matrix`, or from the identity without
    one); seeded.  A value on a bound (an edge of the support, infinitely far in ``u``) is
    nudged 10⁻³ of the range inside."""
    _, _, a, b = coordinates(shard)
    margin = 1e-3 * (b - a)
    z0 = np.clip(np.zeros(len(a)), a + margin, b - margin)
    cov = inverse_mass_matrix(shard, sample_sigma, dense=True)
    n = len(a) + sample_sigma
    root = np.linalg.cholesky(cov) if cov is not None else np.eye(n)
    steps = np.random.default_rng(seed).standard_normal((chains, n)) @ root.T * OVERDISPERSION
    steps[0] = 0.0
    z = np.clip(z0 + steps[:, : len(a)], a + margin, b - margin)
    start = {"u": soft_clip_inverse(z, a, b)}
    if sample_sigma:
        start["w"] = steps[:, -1].astype(np.float64)
    return start


def to_physical(shard: Shard, u: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Draws ``(..., n_sampled)`` in physical units (and ``f``) from draws of ``u`` (``w``)."""
    loc, h, a, b = coordinates(shard)
    z, _ = soft_clip(jnp.asarray(u, dtype=jnp.float64), a, b)
    theta = loc + h * np.asarray(z)
    if w is None:
        return theta
    f = np.exp(noise_step(shard) * np.asarray(w, dtype=np.float64))
    return np.concatenate([theta, f[..., None]], axis=-1)
