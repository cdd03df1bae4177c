"""NLSQ: a global search for the best least-squares optimum of one dataset (docs/physics.md).

This module only solves: the problem it solves (points, parameters, bounds, noise) and the
decisions a run's plan shares with ``homodyne validate`` (the per-angle form explored, the
strategy, chunk and subsample sizes) are :mod:`homodyne.problem`'s.  Residuals are
``(c2_data - c2_model) / sigma`` over the upper triangle (i < j) of every angle, evaluated
as dense frame-pair blocks shared by all angles (:func:`homodyne.physics.compute_c2_block`,
laid out by :func:`homodyne.problem.point_mask`).  These models have more than one minimum,
so a fit is a search (:func:`fit`):

1. starts: the configured values, values read off the data's decay times
   (:mod:`homodyne.initial`) and random draws around them (:mod:`homodyne.search`);
2. a local Levenberg-Marquardt fit from every start on a subsample of whole block rows (a few
   % of the points, every angle and lag), grouped into distinct optima;
3. the best few refined on every point; ``strategy: full`` (points × parameters up to
   :data:`homodyne.problem.FULL_STRATEGY_MAX_ELEMENTS`) then polishes the best with the
   ``nlsq`` package's trust-region reflective solver on the dense Jacobian; ``chunked``
   keeps the Levenberg-Marquardt steps on normal equations ``JᵀJ δ = -Jᵀr`` accumulated over
   chunks of points, so memory is O(chunk × parameters) and 23 angles × 1000 frames fit in a
   few GB.

The result carries what the verdict needs to certify the optimum (:mod:`homodyne.quality`):
every refined optimum and its χ², the χ² a Gauss-Newton step would still remove, and the
data's one-time g2 against the model's.  Covariance-based 1σ uncertainties come from ``JᵀJ``
at the solution (accumulated in chunks), scaled by the reduced χ² so a misjudged noise level
does not make them dishonest.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from homodyne import params as registry
from homodyne import quality, search, twotime
from homodyne.config import AnalysisConfig, NLSQConfig
from homodyne.data import XPCSData
from homodyne.errors import FitError
from homodyne.initial import data_start
from homodyne.physics import compute_c2_block
from homodyne.problem import (
    CHUNK_POINTS,
    EXPLORE_POINTS,
    Problem,
    build_problem,
    choose_strategy,
    exploration_form,
)
from homodyne.runtime import require_float64


def _import_least_squares():
    """Import nlsq when a fit needs it, with the process's real stderr in place.

    nlsq calls ``faulthandler.enable()`` on import, which fails when ``sys.stderr`` has been
    replaced by a stream without a file descriptor (captured output, notebooks).  Unless
    told otherwise it also points JAX's persistent cache at ``~/.cache/nlsq`` and adds a
    handler to the root logger; the run chooses its cache (:mod:`homodyne.runtime`).
    Importing it lazily keeps it out of processes that never fit, such as Snakemake's.
    """
    os.environ.setdefault("NLSQ_DISABLE_PERSISTENT_CACHE", "1")
    redirected, sys.stderr = sys.stderr, sys.__stderr__ or sys.stderr
    try:
        from nlsq import LeastSquares
    finally:
        sys.stderr = redirected
    return LeastSquares


log = logging.getLogger(__name__)

EXPLORE_ITERATIONS = 40
"""Iterations of each local fit of the exploration (it only has to reach its basin)."""
EXPLORE_FTOL = 1e-6
"""Relative cost change that ends a local fit of the exploration: its end point only has to
rank the basins; the refinement on all points converges to the configured ``ftol``."""
REFINE_MAX = 3
"""Distinct optima of the exploration refined on all points."""
REFINE_WINDOW = 5.0
"""An optimum is refined when its subsample χ² is within this many standard deviations
(``√(2·points)``) of the best's: the subsample's ranking of closer optima is not reliable."""


# ---------------------------------------------------------------- chunked normal equations

def _rho_prime(z, loss: str):
    """Derivative of the scipy-style robust loss ``rho(z)``, ``z = (r / f_scale)²``."""
    if loss == "soft_l1":
        return 1.0 / jnp.sqrt(1.0 + z)
    if loss == "huber":
        return jnp.where(z <= 1.0, 1.0, 1.0 / jnp.sqrt(jnp.where(z <= 1.0, 1.0, z)))
    if loss == "cauchy":
        return 1.0 / (1.0 + z)
    return jnp.ones_like(z)


def _rho(z, loss: str):
    if loss == "soft_l1":
        return 2.0 * (jnp.sqrt(1.0 + z) - 1.0)
    if loss == "huber":
        return jnp.where(z <= 1.0, z, 2.0 * jnp.sqrt(jnp.where(z <= 1.0, 1.0, z)) - 1.0)
    if loss == "cauchy":
        return jnp.log1p(z)
    return z


def _chunked_arrays(problem: Problem, chunk: int = CHUNK_POINTS) -> tuple:
    """``(ia, ja, y, mask)`` split into chunks of whole block rows (about ``chunk`` points
    each), padded to equal chunks with masked rows; leading axis = chunk."""
    n_rows, per_row = problem.ia.shape[0], len(problem.phi) * problem.ia.shape[1]
    rows = max(1, min(n_rows, chunk // per_row))
    n_chunks = math.ceil(n_rows / rows)
    pad = n_chunks * rows - n_rows

    def shaped(a, axis):
        widths = [(0, 0)] * a.ndim
        widths[axis] = (0, pad)
        a = np.pad(a, widths)
        a = np.moveaxis(a, axis, 0).reshape(n_chunks, rows, *np.delete(a.shape, axis))
        return jnp.asarray(np.moveaxis(a, 1, axis + 1))

    return (shaped(problem.ia, 0), shaped(problem.ja, 0), shaped(problem.y, 1),
            shaped(problem.mask, 0))


def _make_normal_equations(problem: Problem, loss: str, f_scale: float):
    """``x_free -> (JᵀJ, Jᵀr, cost)`` with robust-loss weights, and ``x_free -> cost``.

    Every model is ``offset + contrast · G(physical)`` per angle, linear in the scaling
    parameters, so only the physical columns of the Jacobian are differentiated (forward
    mode, one tangent per free physical parameter); the scaling columns are ``-G · basis / σ``
    and ``-basis / σ``.  With a contrast and offset per angle that is 7 tangents instead of
    53 for 23 angles.  Both functions scan over chunks of block rows; the data arrays are
    passed to the jitted functions as arguments (not closed over), so XLA does not copy them
    into the program as constants.
    """
    data = _chunked_arrays(problem)
    n_phys = problem.n_physical
    free = np.asarray(problem.free)
    free_phys = np.flatnonzero(free[:n_phys])
    free_scaling = np.flatnonzero(free[n_phys:])
    basis = jnp.asarray(problem.scaling.basis)
    inv_sigma = 1.0 / jnp.asarray(problem.sigma)[:, None, None]
    n_phi = len(problem.phi)
    ones, zeros = jnp.ones(n_phi), jnp.zeros(n_phi)

    def residual(x, ia, ja, y, mask):
        return problem.residuals(problem.full_params(x), ia, ja, y, mask).ravel()

    def chunk_cost(r, mask):
        return 0.5 * f_scale**2 * jnp.sum(jnp.where(mask, _rho((r / f_scale) ** 2, loss), 0.0))

    def accumulate(carry, c):
        jtj, jtr, cost, x = carry
        ia, ja, y, mask = c
        full = problem.full_params(x)

        def shape(phys_free):
            phys = full[:n_phys].at[free_phys].set(phys_free)
            return compute_c2_block(problem.mode, phys, problem.t, problem.phi, ia, ja,
                                    q=problem.q, dt=problem.dt, L=problem.L, contrast=ones,
                                    offset=zeros)

        g = shape(full[free_phys])
        contrast, offset = problem.scaling.expand(full[n_phys:])
        keep = mask[None]
        r = jnp.where(keep, (y - offset[:, None, None] - contrast[:, None, None] * g)
                      * inv_sigma, 0.0)
        weight = jnp.where(keep, inv_sigma, 0.0)  # (n_phi, R, C): 1/σ on used points
        columns = []
        if len(free_phys):
            dg = jax.jacfwd(shape)(full[free_phys])  # (n_phi, R, C, free physical)
            columns.append(-(contrast[:, None, None, None] * dg) * weight[..., None])
        if len(free_scaling):
            per_angle = basis[:, None, None, :]  # (n_phi, 1, 1, m)
            scaling_cols = jnp.concatenate([-(g * weight)[..., None] * per_angle,
                                            -weight[..., None] * per_angle], axis=-1)
            columns.append(scaling_cols[..., free_scaling])
        jac = jnp.concatenate(columns, axis=-1).reshape(-1, len(x))
        r = r.ravel()
        scale = _rho_prime((r / f_scale) ** 2, loss)
        jtj = jtj + (jac * scale[:, None]).T @ jac
        jtr = jtr + jac.T @ (scale * r)
        used = jnp.broadcast_to(keep, y.shape).ravel()
        return (jtj, jtr, cost + chunk_cost(r, used), x), None

    @jax.jit
    def normal_equations(x, data):
        n = x.shape[0]
        init = (jnp.zeros((n, n)), jnp.zeros(n), jnp.zeros(()), x)
        (jtj, jtr, cost, _), _ = jax.lax.scan(accumulate, init, data)
        return jtj, jtr, cost

    @jax.jit
    def cost_only(x, data):
        def body(total, c):
            mask = jnp.broadcast_to(c[3][None], c[2].shape).ravel()
            return total + chunk_cost(residual(x, *c), mask), None

        return jax.lax.scan(body, jnp.zeros(()), data)[0]

    return (lambda x: normal_equations(x, data)), (lambda x: cost_only(x, data))


@dataclass
class _Solution:
    x: np.ndarray
    cost: float
    iterations: int
    converged: bool
    message: str


def _refine_chunked(problem, x0, lower, upper, cfg: NLSQConfig, progress,
                    equations=None) -> _Solution:
    """Levenberg-Marquardt on chunk-accumulated normal equations, steps clipped to bounds.

    Marquardt scaling (``λ·diag(JᵀJ)``) and Nielsen's damping update; meant to polish a
    start that is already in the basin of the optimum.  ``equations`` (from
    :func:`_make_normal_equations`) lets many starts share one compiled program.
    """
    normal_equations, cost_only = equations or _make_normal_equations(problem, cfg.loss,
                                                                      cfg.f_scale)
    x = np.clip(np.asarray(x0, np.float64), lower, upper)
    jtj, jtr, cost = (np.asarray(a) for a in normal_equations(jnp.asarray(x)))
    lam, nu = 1e-3, 2.0
    for it in range(1, cfg.max_iterations + 1):
        progress(it, float(cost))
        projected = np.where((x <= lower) & (jtr > 0) | (x >= upper) & (jtr < 0), 0.0, jtr)
        if np.max(np.abs(projected)) <= cfg.gtol * max(1.0, float(cost)):
            return _Solution(x, float(cost), it, True, "gradient tolerance reached (gtol)")
        diag = np.where(np.diag(jtj) > 0, np.diag(jtj), 1.0)
        while True:
            try:
                step = np.linalg.solve(jtj + lam * np.diag(diag), -jtr)
            except np.linalg.LinAlgError:
                step = np.full_like(x, np.nan)
            x_new = np.clip(x + step, lower, upper)
            finite = np.all(np.isfinite(x_new))
            new_cost = float(cost_only(jnp.asarray(x_new))) if finite else np.inf
            delta = x_new - x
            predicted = -(jtr @ delta) - 0.5 * delta @ jtj @ delta
            if new_cost < cost and predicted > 0:
                rho = (cost - new_cost) / predicted
                lam, nu = lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 2.0
                break
            lam, nu = lam * nu, nu * 2.0
            if lam > 1e16:
                return _Solution(x, float(cost), it, True,
                                 "no step reduces the cost further (converged to precision)")
        small_step = np.all(np.abs(delta) <= cfg.xtol * (np.abs(x) + cfg.xtol))
        reduction = (cost - new_cost) / max(cost, 1e-300)
        x = x_new
        jtj, jtr, cost = (np.asarray(a) for a in normal_equations(jnp.asarray(x)))
        if reduction < cfg.ftol:
            return _Solution(x, float(cost), it, True, "cost tolerance reached (ftol)")
        if small_step:
            return _Solution(x, float(cost), it, True, "step tolerance reached (xtol)")
    return _Solution(x, float(cost), cfg.max_iterations, False,
                     f"maximum number of iterations ({cfg.max_iterations}) reached")


def _solve_full(problem, x0, lower, upper, cfg: NLSQConfig, progress) -> _Solution:
    """The nlsq package's trust-region reflective solver on the whole residual vector."""
    # nlsq logs every solve at INFO on its own loggers; keep them out of our output
    # (its own handler still prints its warnings).
    logging.getLogger("nlsq").propagate = False

    def residual(x, ia, ja, y, mask):
        return problem.residuals(problem.full_params(x), ia, ja, y, mask).ravel()

    def callback(iteration, cost, params, info):
        progress(iteration, float(cost))

    result = _import_least_squares()().least_squares(
        residual, np.clip(x0, lower, upper), bounds=(lower, upper), method="trf",
        x_scale="jac", loss=cfg.loss, f_scale=cfg.f_scale, ftol=cfg.ftol, xtol=cfg.xtol,
        gtol=cfg.gtol, max_nfev=cfg.max_iterations, callback=callback,
        args=problem.arrays(),
    )
    return _Solution(np.asarray(result["x"], np.float64), float(result["cost"]),
                     int(result["nit"]), bool(result["success"]) and int(result["status"]) > 0,
                     str(result["message"]))


# ---------------------------------------------------------------------------- the fit


@dataclass(frozen=True)
class FitResult:
    """Outcome of one NLSQ fit; parameters in the layout ``[physical, scaling]``."""

    mode: str
    per_angle_mode: str
    per_angle_effective: str
    names: tuple[str, ...]
    values: np.ndarray
    uncertainties: np.ndarray
    covariance: np.ndarray
    free: np.ndarray
    contrast: np.ndarray
    offset: np.ndarray
    chi2: float
    reduced_chi2: float
    dof: int
    n_points: int
    iterations: int
    success: bool
    message: str
    strategy: str
    loss: str
    seconds: float
    starts: int = 1
    at_bounds: tuple[str, ...] = field(default_factory=tuple)
    # the global search (docs/physics.md, "NLSQ"): starts, distinct optima found on the
    # subsample, the per-angle choice; every refined optimum (best first) with its χ²; the
    # χ² a Gauss-Newton step still removes (units of χ²_red); data vs model one-time g2;
    # χ² 3σ along each physical parameter against the quadratic its covariance implies
    search: dict = field(default_factory=dict)
    optima: tuple[dict, ...] = ()
    remaining_chi2: float = 0.0
    decay_check: dict | None = None
    linearity: dict = field(default_factory=dict)
    # a power law whose exponent the data cannot tell from 0 while prefactor and offset are
    # free, refitted with the offset fixed at 0: does the exponent then differ from 0?
    profiles: dict = field(default_factory=dict)
    # what homodyne.quality judges the fit against: bounds and start of every parameter,
    # and whether sigma was estimated from the data (then chi2_red should be near 1)
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    start: np.ndarray | None = None
    sigma_from_data: bool = True

    @property
    def physical(self) -> dict[str, float]:
        """Physical parameter values by name."""
        n = len(registry.names(self.mode))
        return dict(zip(self.names[:n], map(float, self.values[:n]), strict=True))


def _scaled_inverse(jtj: np.ndarray):
    """Inverse of ``JᵀJ`` on its numerically non-null directions, in the coordinates scaled
    by ``√diag``: ``(inverse, scale, eigenvectors, null mask)``."""
    scale = np.sqrt(np.where(np.diag(jtj) > 0, np.diag(jtj), 1.0))
    eigval, eigvec = np.linalg.eigh(jtj / np.outer(scale, scale))
    null = eigval <= 1e-14 * len(eigval) * max(eigval.max(), 1.0) if len(eigval) else eigval > 0
    kept = eigvec[:, ~null]
    return (kept / eigval[~null]) @ kept.T, scale, eigvec, null


def _free_covariance(jtj: np.ndarray, reduced_chi2: float) -> np.ndarray:
    """``inv(JᵀJ) · χ²_red`` over the free parameters.

    A pseudo-inverse would silently drop directions the data do not constrain and report a
    small σ for parameters that are not identifiable; instead, every parameter with weight
    in a numerically null direction of ``JᵀJ`` gets an infinite variance.
    """
    inv_scaled, scale, eigvec, null = _scaled_inverse(jtj)
    cov = inv_scaled / np.outer(scale, scale) * max(reduced_chi2, 0.0)
    unconstrained = np.any(np.abs(eigvec[:, null]) > 1e-3, axis=1)
    cov[unconstrained, :] = np.nan
    cov[:, unconstrained] = np.nan
    cov[unconstrained, unconstrained] = np.inf
    return cov


def _remaining_decrease(x, lower, upper, jtj, jtr, cost_only, reduced_chi2: float) -> float:
    """The most χ² (in units of χ²_red) that a Gauss-Newton or lightly damped
    Levenberg-Marquardt step from ``x`` (clipped to the bounds) actually removes; 0 at a
    minimum.

    The step is evaluated, not predicted: along directions the data barely determine the
    quadratic model's prediction is dominated by round-off, the cost function is not.
    """
    cost = float(cost_only(jnp.asarray(x)))
    diag = np.where(np.diag(jtj) > 0, np.diag(jtj), 1.0)
    best = 0.0
    for damping in (0.0, 1e-6, 1e-3):
        try:
            step = np.linalg.lstsq(jtj + damping * np.diag(diag), -jtr, rcond=1e-14)[0]
        except np.linalg.LinAlgError:
            continue
        trial = np.clip(x + step, lower, upper)
        if np.all(np.isfinite(trial)):
            best = max(best, cost - float(cost_only(jnp.asarray(trial))))
    return 2.0 * best / max(reduced_chi2, 1e-300)


PROBE_SIGMAS = 3.0
"""The quadratic check probes χ² this many 1σ from the optimum along each physical
parameter (:func:`_linearity`)."""


def _linearity(problem: Problem, x, cov_free, lower, upper, cost_only,
               reduced_chi2: float) -> dict[str, list[float]]:
    """How far χ² is from the quadratic its covariance implies, per free physical parameter.

    Along ``d = C e_i / σ_i`` (parameter i moves by σ_i and the others follow their linear
    regression on it) a quadratic χ² rises by exactly k² at ``x ± k d``.  The ratio of the
    actual rise (in units of χ²_red) to k² is 1 there; in the curved valley of a degenerate
    combination (D0·t^alpha + D_offset of a stationary sample, gamma_dot_t0·t^beta +
    gamma_dot_t_offset) it is tens to thousands, and the 1σ of every parameter in it means
    nothing.  Returns ``{name: [ratio at +k, ratio at -k]}`` (NaN where the probe leaves the
    bounds or σ is not finite).
    """
    cost = float(cost_only(jnp.asarray(x)))
    names = [n for n, f in zip(problem.names, problem.free, strict=True) if f]
    out = {}
    for k in range(int(problem.free[: problem.n_physical].sum())):
        ratios = [math.nan, math.nan]
        if np.isfinite(cov_free[k, k]) and cov_free[k, k] > 0 and np.all(
                np.isfinite(cov_free[:, k])):
            direction = cov_free[:, k] / math.sqrt(cov_free[k, k])
            for side, sign in enumerate((1.0, -1.0)):
                trial = x + sign * PROBE_SIGMAS * direction
                if np.all((trial >= lower) & (trial <= upper)):
                    rise = 2.0 * (float(cost_only(jnp.asarray(trial))) - cost)
                    ratios[side] = rise / max(reduced_chi2, 1e-300) / PROBE_SIGMAS**2
        out[names[k]] = ratios
    return out


def _certify(problem: Problem, x_free: np.ndarray, reduced_chi2: float, linear=None):
    """Covariance (:func:`_free_covariance` of the plain, linear-loss residuals, in the full
    layout), :func:`_remaining_decrease` and :func:`_linearity` at ``x_free``.

    ``linear``: the problem's linear-loss normal equations when the fit already compiled
    them (``loss: linear``, the default); built here otherwise."""
    normal_equations, cost_only = linear or _make_normal_equations(problem, "linear", 1.0)
    jtj, jtr, _ = (np.asarray(a) for a in normal_equations(jnp.asarray(x_free)))
    cov_free = _free_covariance(jtj, reduced_chi2)
    lo, hi = problem.lower[problem.free], problem.upper[problem.free]
    remaining = _remaining_decrease(x_free, lo, hi, jtj, jtr, cost_only, reduced_chi2)
    linearity = _linearity(problem, x_free, cov_free, lo, hi, cost_only, reduced_chi2)
    n = len(problem.start)
    cov = np.zeros((n, n))
    idx = np.flatnonzero(problem.free)
    cov[np.ix_(idx, idx)] = cov_free
    return cov, remaining, linearity


# ------------------------------------------------------------------------ global search


@dataclass
class _Candidate:
    """One end point of the search: its start (full layout of the problem it ran on) and
    the solution."""

    start: np.ndarray
    sol: _Solution


def _explore(data: XPCSData, analysis: AnalysisConfig, cfg: NLSQConfig):
    """Local fits from every start on a subsample; ``(problem, subsample, candidates best
    first, covariance of the best subsample fit)``."""
    problem = build_problem(data, analysis, exploration_form(analysis, data.n_phi))
    sub = (problem if problem.n_points <= 2 * EXPLORE_POINTS
           else problem.subsample(EXPLORE_POINTS, cfg.seed))
    n_phys = problem.n_physical
    names = problem.names[:n_phys]
    center = {k: v for k, v in data_start(data, problem.mode, analysis.L).items()
              if k not in analysis.initial}
    starts = search.draw_starts(names, problem.start[:n_phys], center, problem.lower[:n_phys],
                                problem.upper[:n_phys], problem.free[:n_phys],
                                float(np.median(data.t)), extra=cfg.multistart, seed=cfg.seed)
    free = problem.free
    lo, hi = problem.lower[free], problem.upper[free]
    equations = _make_normal_equations(sub, cfg.loss, cfg.f_scale)
    quick = replace(cfg, max_iterations=min(cfg.max_iterations, EXPLORE_ITERATIONS),
                    ftol=max(cfg.ftol, EXPLORE_FTOL), xtol=max(cfg.xtol, EXPLORE_FTOL))
    found = []
    for k, phys in enumerate(starts):
        full = np.concatenate([phys, problem.start[n_phys:]])
        sol = _refine_chunked(sub, full[free], lo, hi, quick, lambda it, cost: None, equations)
        log.info("  start %2d/%d on %d points: cost %.6e after %d iterations", k + 1,
                 len(starts), sub.n_points, sol.cost, sol.iterations)
        found.append(_Candidate(full, sol))
    found = sorted((c for c in found if np.isfinite(c.sol.cost)), key=lambda c: c.sol.cost)
    if not found:
        raise FitError("NLSQ: every start ended with a non-finite cost; check the data and "
                       "the initial values")
    jtj, _, cost = (np.asarray(a) for a in equations[0](jnp.asarray(found[0].sol.x)))
    dof = max(sub.n_points - int(free.sum()), 1)
    return problem, sub, found, _free_covariance(jtj, 2 * float(cost) / dof)


def _refine_candidates(found, sigma, phys_free, sub_points: int) -> list:
    """The distinct optima worth refining on all points: the best, and up to
    :data:`REFINE_MAX` - 1 others whose subsample χ² is within :data:`REFINE_WINDOW`
    standard deviations of the best's (a subsample ranks close optima by chance); and the
    subsample χ² of every distinct optimum."""
    points = [c.sol.x[phys_free] for c in found]
    keep = search.distinct(points, [c.sol.cost for c in found], sigma[phys_free])
    window = REFINE_WINDOW * math.sqrt(2.0 * sub_points)
    best = found[keep[0]].sol.cost
    return ([found[k] for k in keep[:REFINE_MAX] if 2 * (found[k].sol.cost - best) <= window],
            [2 * found[k].sol.cost for k in keep])


def _transfer(candidate_x, explored: Problem, final: Problem) -> np.ndarray:
    """A free vector of ``explored`` in the layout of ``final`` (same physics, maybe another
    per-angle form): per-angle contrast and offset projected onto the final form."""
    full = np.asarray(explored.full_params(jnp.asarray(candidate_x)))
    n = explored.n_physical
    contrast, offset = (np.asarray(a) for a in explored.scaling.expand(full[n:]))
    sc = final.scaling
    m = sc.basis.shape[1]
    theta = np.zeros(sc.n_free)
    if m:
        theta[:m] = np.linalg.lstsq(sc.basis, contrast - sc.fixed_contrast, rcond=None)[0]
        theta[m:] = np.linalg.lstsq(sc.basis, offset - sc.fixed_offset, rcond=None)[0]
    out = np.concatenate([full[:n], theta])
    out = np.where(final.free, out, final.start)
    return np.clip(out, final.lower, final.upper)[final.free]


def _scaling_choice(explored: Problem, best: _Candidate, sub_cov: np.ndarray,
                    analysis: AnalysisConfig) -> tuple[str | None, str]:
    """The per-angle form ``auto`` settles on, from the exploration's per-angle values.

    Returns ``(form, why)``; form None keeps the exploration's own (``individual``, or
    whatever a configured mode resolved to).  The values and their covariance are those of
    the subsample fit: its per-angle values scatter about the full data's by their
    subsample σ, so that σ, not the full data's, is the yardstick.
    """
    n = explored.n_physical
    if explored.scaling.effective != "individual" or exploration_form(
            analysis, len(explored.phi)) is None:
        return None, ""
    idx = np.flatnonzero(explored.free)
    scaling_pos = np.flatnonzero(idx >= n)
    if len(scaling_pos) != explored.scaling.n_free:
        return None, "individual: some per-angle values are fixed"
    theta = best.sol.x[scaling_pos]
    cov = sub_cov[np.ix_(scaling_pos, scaling_pos)]
    form, why = search.choose_scaling(theta, cov, explored.phi, analysis.fourier_order)
    return (None if form == "individual" else form), why


def _optimum(problem: Problem, x_free) -> dict:
    """χ² and physical values of one refined optimum (for the record and the verdict)."""
    full = problem.full_params(jnp.asarray(x_free))
    r = np.asarray(problem.residuals(full, *problem.arrays()))
    names = problem.names[: problem.n_physical]
    return {"chi2": float(np.sum(r**2)),
            "parameters": dict(zip(names, map(float, np.asarray(full)[: problem.n_physical]),
                                   strict=True))}


def _decay_check(data: XPCSData, problem: Problem, values) -> dict:
    """Data and fitted model reduced to one-time g2 over the same pairs, compared lag by lag
    (:func:`homodyne.twotime.decay_agreement`)."""
    check = twotime.decay_agreement(data.c2, problem.model_matrix(values), data.pair_ok,
                                    data.t, data.dt)
    return {"phi": [float(p) for p in data.phi], **check}


def _offset_profiles(problem: Problem, x_free: np.ndarray, sigma: np.ndarray, chi2: float,
                     reduced_chi2: float, cfg: NLSQConfig) -> dict:
    """For every power law ``prefactor·t^exponent + offset`` whose three parameters are free
    and whose exponent the data cannot tell from 0 (:func:`homodyne.diagnosis.is_null`):
    the exponent refitted with the offset fixed at 0, ``{exponent: {offset, value,
    uncertainty, chi2, delta_chi2, prefactor, prefactor_value, prefactor_uncertainty}}``
    (``delta_chi2`` in units of χ²_red).

    An exponent "consistent with 0" because it trades off against the offset (ρ near ±1)
    is not evidence of a stationary sample: with the offset fixed it may be clearly
    non-zero (the CHX matrix: alpha −0.20 ± 0.20 free, −0.52 ± 0.05 with D_offset = 0).
    The diagnosis reads these refits to tell a stationary sample from an ageing one whose
    offset is the redundant parameter."""
    from homodyne.diagnosis import DEGENERATE_FAMILIES, is_null

    free_names = [n for n, f in zip(problem.names, problem.free, strict=True) if f]
    out = {}
    for pre, exponent, offset, *_ in DEGENERATE_FAMILIES:
        if not {pre, exponent, offset} <= set(free_names):
            continue
        k = free_names.index(exponent)
        if not is_null(float(x_free[k]), float(sigma[k])):
            continue
        free = problem.free & (np.asarray(problem.names) != offset)
        where = problem.names.index(offset)
        if not problem.lower[where] <= 0.0 <= problem.upper[where]:
            continue
        start = np.array(problem.full_params(jnp.asarray(x_free)))
        start[where] = 0.0
        fixed = replace(problem, free=free, start=start)
        lo, hi = fixed.lower[free], fixed.upper[free]
        equations = _make_normal_equations(fixed, "linear", 1.0)
        sol = _refine_chunked(fixed, start[free], lo, hi, replace(cfg, loss="linear"),
                              lambda it, cost: None, equations)
        jtj = np.asarray(equations[0](jnp.asarray(sol.x))[0])
        chi2_fixed = 2.0 * sol.cost
        dof = max(fixed.n_points - int(free.sum()), 1)
        cov = _free_covariance(jtj, chi2_fixed / dof)
        names = [n for n, f in zip(fixed.names, free, strict=True) if f]
        j, i = names.index(exponent), names.index(pre)
        out[exponent] = {"offset": offset, "value": float(sol.x[j]),
                         "uncertainty": float(np.sqrt(abs(cov[j, j]))), "chi2": chi2_fixed,
                         "delta_chi2": (chi2_fixed - chi2) / max(reduced_chi2, 1e-300),
                         "prefactor": pre, "prefactor_value": float(sol.x[i]),
                         "prefactor_uncertainty": float(np.sqrt(abs(cov[i, i])))}
        log.info("  %s with %s fixed at 0: %.4g ± %.2g (χ² +%.3g χ²_red units)", exponent,
                 offset, out[exponent]["value"], out[exponent]["uncertainty"],
                 out[exponent]["delta_chi2"])
    return out


def fit(data: XPCSData, analysis: AnalysisConfig, cfg: NLSQConfig | None = None) -> FitResult:
    """Fit one dataset by a global search; return values, 1σ, χ², convergence and the
    evidence that this is the best optimum found (docs/physics.md, "NLSQ").

    1. Starting values from the data's decay times (:mod:`homodyne.initial`), the configured
       start, random starts around the first and ``multistart`` uniform ones
       (:func:`homodyne.search.draw_starts`), each fitted locally on a subsample of about
       :data:`homodyne.problem.EXPLORE_POINTS` points (whole block rows: every angle and lag).
    2. ``per_angle_mode: auto`` (three or more angles) explores with a contrast and offset
       per angle and then keeps the simplest form the data do not reject.
    3. The best distinct optima (up to :data:`REFINE_MAX`) are refined on every point; the
       best is reported, the others are recorded in ``optima``.

    ``success`` is true only when the solver reports convergence, the χ² is finite and the
    free parameters moved from their start (a solver that returns its start is not
    believed).
    """
    require_float64("homodyne.nlsq.fit")
    cfg = cfg or NLSQConfig()
    began = time.perf_counter()
    explored, sub, found, sub_cov = _explore(data, analysis, cfg)
    phys_free = np.arange(int(explored.free[: explored.n_physical].sum()))  # free layout
    sigma_sub = np.sqrt(np.abs(np.diag(sub_cov)))
    chosen, choice = _scaling_choice(explored, found[0], sub_cov, analysis)
    problem = explored if chosen is None else build_problem(data, analysis, chosen)
    if choice:
        log.info("  per_angle_mode auto: %s", choice)
    candidates, distinct_chi2 = _refine_candidates(found, sigma_sub, phys_free, sub.n_points)
    strategy = choose_strategy(cfg.strategy, problem.n_points, int(problem.free.sum()))
    lo, hi = problem.lower[problem.free], problem.upper[problem.free]
    log.info("NLSQ %s: %d starts on %d points, %d distinct optima; refining %d on all %d "
             "points, %d free parameters, %s strategy, loss %s", problem.mode, len(found),
             sub.n_points, len(distinct_chi2), len(candidates), problem.n_points,
             int(problem.free.sum()), strategy, cfg.loss)
    equations = _make_normal_equations(problem, cfg.loss, cfg.f_scale)
    refined = []

    def progress(it, cost, which):
        log.info("  optimum %s iteration %3d  cost %.6e", which, it, cost)

    for k, cand in enumerate(candidates):
        label = f"{k + 1}/{len(candidates)}"
        x0 = _transfer(cand.sol.x, explored, problem)
        sol = _refine_chunked(problem, x0, lo, hi, cfg,
                              lambda it, cost, label=label: progress(it, cost, label),
                              equations)
        if np.isfinite(sol.cost):
            start = np.concatenate([cand.start[: problem.n_physical],
                                    problem.start[problem.n_physical:]])
            refined.append((start, sol))
    if not refined:
        raise FitError("NLSQ: every refined optimum ended with a non-finite cost; check the "
                       "data and the initial values")
    refined.sort(key=lambda r: r[1].cost)
    start, sol = refined[0]
    if strategy == "full":  # the nlsq package's trust region has the last word
        polished = _solve_full(problem, sol.x, lo, hi, cfg, lambda it, cost: progress(
            it, cost, "polish"))
        if np.isfinite(polished.cost) and polished.cost <= sol.cost:
            polished.iterations += sol.iterations
            sol = polished
            refined[0] = (start, sol)
    values = np.asarray(problem.full_params(jnp.asarray(sol.x)))
    optima = tuple(_optimum(problem, s.x) for _, s in refined)
    chi2 = optima[0]["chi2"]
    dof = problem.n_points - int(problem.free.sum())
    reduced = chi2 / dof if dof > 0 else math.nan
    x0 = start[problem.free]
    moved = np.any(np.abs(sol.x - x0) > 1e-9 * (hi - lo))
    success = sol.converged and math.isfinite(chi2) and bool(moved)
    message = sol.message if moved else f"{sol.message}; parameters did not move from the start"
    cov, remaining, linearity = _certify(problem, sol.x, reduced,
                                         equations if cfg.loss == "linear" else None)
    at_bounds = tuple(problem.names[k] for k, v in zip(np.flatnonzero(problem.free), sol.x,
                                                       strict=True)
                      if quality.at_bound(v, problem.lower[k], problem.upper[k]))
    contrast, offset = (np.asarray(a) for a in
                        problem.scaling.expand(values[problem.n_physical:]))
    decay = _decay_check(data, problem, values)
    sigma_free = np.sqrt(np.abs(np.diag(cov)))[problem.free]
    profiles = _offset_profiles(problem, sol.x, sigma_free, chi2, reduced, cfg)
    result = FitResult(
        mode=problem.mode, per_angle_mode=problem.scaling.requested,
        per_angle_effective=problem.scaling.effective, names=problem.names, values=values,
        uncertainties=np.sqrt(np.abs(np.diag(cov))), covariance=cov,
        free=problem.free, contrast=contrast, offset=offset, chi2=chi2, reduced_chi2=reduced,
        dof=dof, n_points=problem.n_points, iterations=sol.iterations, success=success,
        message=message, strategy=strategy, loss=cfg.loss,
        seconds=time.perf_counter() - began, starts=len(found), at_bounds=at_bounds,
        lower=problem.lower, upper=problem.upper,
        start=np.asarray(problem.full_params(jnp.asarray(x0))),
        sigma_from_data=analysis.sigma is None,
        search={"starts": len(found), "points": sub.n_points,
                "distinct_optima": len(distinct_chi2), "distinct_chi2": distinct_chi2,
                "subsample_chi2": [2 * c.sol.cost for c in found], "refined": len(refined),
                "per_angle_choice": choice},
        optima=optima, remaining_chi2=remaining, decay_check=decay, linearity=linearity,
        profiles=profiles,
    )
    log.info("NLSQ done: success=%s, reduced chi2 %.4f, %d iterations, %.1f s (%s)",
             success, reduced, sol.iterations, result.seconds, message)
    return result
