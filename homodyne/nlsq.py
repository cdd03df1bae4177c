"""NLSQ: bounded trust-region least squares of one dataset (docs/physics.md).

Residuals are ``(c2_data - c2_model) / sigma`` over the upper triangle (i < j) of every
angle, evaluated as dense frame-pair blocks shared by all angles
(:func:`homodyne.physics.compute_c2_block`, laid out by
:func:`homodyne.physics.folded_triangle`).  Two ways to solve, picked by problem size
(``nlsq.strategy: auto``):

- ``full``: the ``nlsq`` package's trust-region reflective solver on the whole residual
  vector with its JAX Jacobian.  Its dense Jacobian and SVD need about 100 bytes per point
  and parameter, so it serves small and mid-size data.
- ``chunked``: the same bounded trust-region problem solved by Levenberg-Marquardt steps on
  the normal equations ``JᵀJ δ = -Jᵀr``, with ``JᵀJ`` and ``Jᵀr`` accumulated over chunks of
  points.  Memory is O(chunk × parameters), so 23 angles × 1000 frames fit in a few GB.

Both report covariance-based 1σ uncertainties from ``JᵀJ`` at the solution (accumulated in
chunks), scaled by the reduced χ² so a misjudged noise level does not make them dishonest.
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
from homodyne import quality
from homodyne.config import AnalysisConfig, NLSQConfig
from homodyne.data import XPCSData
from homodyne.errors import FitError
from homodyne.physics import (
    AngleScaling,
    angle_scaling,
    compute_c2,
    compute_c2_block,
    folded_triangle,
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

FULL_STRATEGY_MAX_ELEMENTS = 20_000_000
"""Largest points × free parameters solved with the dense ``full`` strategy."""
SUBSAMPLE_ELEMENTS = 4_000_000
"""Points × free parameters of the subsample the ``chunked`` strategy starts from."""
CHUNK_POINTS = 65_536
"""Points per chunk of the accumulated normal equations."""


@dataclass(frozen=True, eq=False)
class Problem:
    """A least-squares problem in the parameter layout ``[physical, scaling]``.

    The one definition of points, parameters, bounds and noise that NLSQ fits and that a CMC
    shard samples (a shard is :meth:`rows` of the dataset's problem).  Points are the
    off-diagonal upper triangle of every angle, laid out densely by
    :func:`homodyne.physics.folded_triangle`: ``ia, ja`` ``(R, C)`` frame pairs shared by all
    angles, ``mask`` false on padding and on pairs touching a frame of ``frames_exclude``
    (the model still integrates over every frame of ``t``), ``y`` ``(n_phi, R, C)`` the data
    at those pairs and ``sigma`` the noise of each angle.
    """

    mode: str
    names: tuple[str, ...]
    n_physical: int
    scaling: AngleScaling
    start: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    free: np.ndarray
    t: np.ndarray
    phi: np.ndarray
    q: float
    dt: float
    L: float
    ia: np.ndarray
    ja: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    sigma: np.ndarray

    @property
    def n_points(self) -> int:
        return len(self.phi) * int(self.mask.sum())

    @property
    def free_names(self) -> tuple[str, ...]:
        return tuple(n for n, f in zip(self.names, self.free, strict=True) if f)

    def rows(self, keep) -> Problem:
        """The same problem on the block rows ``keep`` (every angle of each)."""
        keep = np.asarray(keep)
        return replace(self, ia=self.ia[keep], ja=self.ja[keep], mask=self.mask[keep],
                       y=self.y[:, keep])

    def subsample(self, n: int, seed: int) -> Problem:
        """The same problem on whole block rows drawn without replacement (seeded), at
        least ``n`` points; each block row spans every angle and lag range."""
        per_row = len(self.phi) * self.ia.shape[1]
        n_rows = min(self.ia.shape[0], max(1, math.ceil(n / per_row)))
        return self.rows(np.sort(np.random.default_rng(seed).choice(self.ia.shape[0], n_rows,
                                                                    replace=False)))

    def full_params(self, x_free):
        """Insert free values into the full parameter vector (JAX-traceable)."""
        return jnp.asarray(self.start).at[np.flatnonzero(self.free)].set(x_free)

    def model(self, full, ia, ja):
        """Model c2 ``(n_phi, R, C)`` at the frame pairs ``(ia, ja)`` for the full vector."""
        contrast, offset = self.scaling.expand(full[self.n_physical:])
        return compute_c2_block(self.mode, full[: self.n_physical], self.t, self.phi, ia, ja,
                                q=self.q, dt=self.dt, L=self.L, contrast=contrast,
                                offset=offset)

    def residuals(self, full, ia, ja, y, mask):
        """``(y - model) / sigma`` ``(n_phi, R, C)``, exactly 0 on padding."""
        r = (y - self.model(full, ia, ja)) / jnp.asarray(self.sigma)[:, None, None]
        return jnp.where(mask[None], r, 0.0)

    def arrays(self) -> tuple:
        """``(ia, ja, y, mask)`` as JAX arrays, passed to jitted functions as arguments."""
        return tuple(jnp.asarray(a) for a in (self.ia, self.ja, self.y, self.mask))

    def model_matrix(self, full) -> np.ndarray:
        """Model c2 on the full ``(n_phi, N, N)`` grid."""
        full = jnp.asarray(full)
        contrast, offset = self.scaling.expand(full[self.n_physical:])
        return np.asarray(compute_c2(self.mode, full[: self.n_physical], self.t, self.phi,
                                     q=self.q, dt=self.dt, L=self.L, contrast=contrast,
                                     offset=offset))


def _sigma(data: XPCSData, analysis: AnalysisConfig) -> np.ndarray:
    if analysis.sigma is None:
        sigma = np.asarray(data.sigma, dtype=np.float64)
    else:
        sigma = np.broadcast_to(np.asarray(analysis.sigma, dtype=np.float64), (data.n_phi,))
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise FitError(f"{data.provenance.source or 'dataset'}: noise estimate sigma must be "
                       f"positive and finite per angle, got {sigma}; set analysis.sigma")
    return sigma


def check_fixed(names, fixed, effective: str) -> np.ndarray:
    """Free mask of ``names`` given ``analysis.fixed``; the errors a fit would raise.

    Raises:
        FitError: a fixed name is not a parameter, or every parameter is fixed.
    """
    unknown = set(fixed) - set(names)
    if unknown:
        raise FitError(f"analysis.fixed names {sorted(unknown)}, which are not free parameters "
                       f"with per_angle_mode {effective!r} (parameters: {names})")
    free = np.array([n not in fixed for n in names])
    if not free.any():
        raise FitError("analysis.fixed holds every parameter: nothing left to fit")
    return free


def build_problem(data: XPCSData, analysis: AnalysisConfig) -> Problem:
    """Assemble points, noise, start values, bounds and free mask of one dataset."""
    mode = registry.canonical_mode(analysis.mode)
    ok = data.frame_ok
    used = data.c2 if ok.all() else data.c2[:, ok][:, :, ok]  # estimates skip excluded pairs
    scaling = angle_scaling(
        analysis.per_angle_mode, data.phi, used, data.t[ok],
        fourier_order=analysis.fourier_order,
        contrast_bounds=analysis.scaling_bounds("contrast"),
        offset_bounds=analysis.scaling_bounds("offset"),
    )
    init, lo, hi = analysis.physical_start()
    names = registry.names(mode) + scaling.names
    free = check_fixed(names, analysis.fixed, scaling.effective)
    sigma = _sigma(data, analysis)
    ia, ja, mask = folded_triangle(data.n_frames)
    mask = mask & ok[ia] & ok[ja]  # frames_exclude: left out, still on the time grid
    return Problem(
        mode=mode, names=names, n_physical=len(init), scaling=scaling,
        start=np.concatenate([init, scaling.initial]).astype(np.float64),
        lower=np.concatenate([lo, scaling.lower]).astype(np.float64),
        upper=np.concatenate([hi, scaling.upper]).astype(np.float64),
        free=free, t=np.asarray(data.t, np.float64), phi=np.asarray(data.phi, np.float64),
        q=float(data.q), dt=float(data.dt), L=float(analysis.L),
        ia=ia, ja=ja, mask=mask, y=np.asarray(data.c2, np.float64)[:, ia, ja],
        sigma=np.array(sigma, dtype=np.float64),
    )


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

    Both scan over chunks of block rows; the data arrays are passed to the jitted functions
    as arguments (not closed over), so XLA does not copy them into the program as constants.
    """
    data = _chunked_arrays(problem)

    def residual(x, ia, ja, y, mask):
        return problem.residuals(problem.full_params(x), ia, ja, y, mask).ravel()

    def chunk_cost(r, mask):
        return 0.5 * f_scale**2 * jnp.sum(jnp.where(mask, _rho((r / f_scale) ** 2, loss), 0.0))

    def accumulate(carry, c):
        jtj, jtr, cost, x = carry
        r = residual(x, *c)
        jac = jax.jacfwd(residual)(x, *c)
        scale = _rho_prime((r / f_scale) ** 2, loss)
        jtj = jtj + (jac * scale[:, None]).T @ jac
        jtr = jtr + jac.T @ (scale * r)
        mask = jnp.broadcast_to(c[3][None], c[2].shape).ravel()
        return (jtj, jtr, cost + chunk_cost(r, mask), x), None

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


def _refine_chunked(problem, x0, lower, upper, cfg: NLSQConfig, progress) -> _Solution:
    """Levenberg-Marquardt on chunk-accumulated normal equations, steps clipped to bounds.

    Marquardt scaling (``λ·diag(JᵀJ)``) and Nielsen's damping update; meant to polish a
    start that is already in the basin of the optimum.
    """
    normal_equations, cost_only = _make_normal_equations(problem, cfg.loss, cfg.f_scale)
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


def _solve_chunked(problem, x0, lower, upper, cfg: NLSQConfig, progress) -> _Solution:
    """nlsq's trust region on a seeded random subsample, then refinement on every point.

    The subsample keeps every angle and lag, so it has the landscape of the whole problem
    at a fraction of the memory; the refinement then only has to converge locally.
    """
    n_sub = subsample_size(problem.n_points, len(x0))
    if n_sub:
        log.info("  trust region on a subsample of %d of %d points", n_sub, problem.n_points)
        coarse = _solve_full(problem.subsample(n_sub, cfg.seed), x0, lower, upper, cfg,
                             progress)
        x0 = coarse.x
        log.info("  refining on all points")
    fine = _refine_chunked(problem, x0, lower, upper, cfg, progress)
    if n_sub:
        fine.iterations += coarse.iterations
    return fine


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


def choose_strategy(requested: str, n_points: int, n_free: int) -> str:
    """``full`` or ``chunked``: ``requested`` unless it is ``auto``, then ``full`` up to
    :data:`FULL_STRATEGY_MAX_ELEMENTS` points × free parameters.  :mod:`homodyne.validate`
    calls this to predict the strategy."""
    if requested != "auto":
        return requested
    return "full" if n_points * n_free <= FULL_STRATEGY_MAX_ELEMENTS else "chunked"


def subsample_size(n_points: int, n_free: int) -> int:
    """Points the ``chunked`` strategy starts from (0: it starts on all of them)."""
    n_sub = max(SUBSAMPLE_ELEMENTS // n_free, 10 * n_free)
    return n_sub if n_sub < n_points else 0


def _starts(problem: Problem, cfg: NLSQConfig) -> list[np.ndarray]:
    """The configured start, then ``multistart`` seeded draws of the physical parameters.

    Positive parameters whose bounds span more than two decades are drawn log-uniformly;
    scaling parameters keep their data estimates.
    """
    free = problem.free
    x0 = problem.start[free]
    lo, hi = problem.lower[free], problem.upper[free]
    physical = (np.arange(len(problem.start)) < problem.n_physical)[free]
    rng = np.random.default_rng(cfg.seed)
    starts = [x0]
    for _ in range(cfg.multistart):
        u = rng.uniform(size=len(x0))
        logscale = (lo > 0) & (hi / np.where(lo > 0, lo, 1.0) > 100)
        draw = np.where(logscale, lo * (hi / np.where(lo > 0, lo, 1.0)) ** u, lo + u * (hi - lo))
        starts.append(np.where(physical, draw, x0))
    return starts


def _covariance(problem: Problem, x_free: np.ndarray, reduced_chi2: float) -> np.ndarray:
    """``inv(JᵀJ) · χ²_red`` of the plain (linear-loss) residuals, in the full layout.

    A pseudo-inverse would silently drop directions the data do not constrain and report a
    small σ for parameters that are not identifiable; instead, every parameter with weight
    in a numerically null direction of ``JᵀJ`` gets an infinite variance.
    """
    normal_equations, _ = _make_normal_equations(problem, "linear", 1.0)
    jtj = np.asarray(normal_equations(jnp.asarray(x_free))[0])
    scale = np.sqrt(np.where(np.diag(jtj) > 0, np.diag(jtj), 1.0))
    eigval, eigvec = np.linalg.eigh(jtj / np.outer(scale, scale))
    null = eigval <= 1e-14 * len(eigval) * max(eigval.max(), 1.0)
    kept = eigvec[:, ~null]
    cov_free = (kept / eigval[~null]) @ kept.T / np.outer(scale, scale) * max(reduced_chi2, 0.0)
    unconstrained = np.any(np.abs(eigvec[:, null]) > 1e-3, axis=1)
    cov_free[unconstrained, :] = np.nan
    cov_free[:, unconstrained] = np.nan
    cov_free[unconstrained, unconstrained] = np.inf
    n = len(problem.start)
    cov = np.zeros((n, n))
    idx = np.flatnonzero(problem.free)
    cov[np.ix_(idx, idx)] = cov_free
    return cov


def fit(data: XPCSData, analysis: AnalysisConfig, cfg: NLSQConfig | None = None) -> FitResult:
    """Fit one dataset; return values, 1σ uncertainties, χ² and convergence status.

    ``success`` is true only when the solver reports convergence, the χ² is finite and the
    free parameters moved from their start (a solver that returns its initial values is not
    believed).  With ``multistart > 0`` the best of the starts by cost is reported.
    """
    require_float64("homodyne.nlsq.fit")
    cfg = cfg or NLSQConfig()
    began = time.perf_counter()
    problem = build_problem(data, analysis)
    strategy = choose_strategy(cfg.strategy, problem.n_points, int(problem.free.sum()))
    solve = _solve_full if strategy == "full" else _solve_chunked
    lo, hi = problem.lower[problem.free], problem.upper[problem.free]
    log.info("NLSQ %s: %d points, %d free parameters, %s strategy, loss %s",
             problem.mode, problem.n_points, int(problem.free.sum()), strategy, cfg.loss)
    best = None
    starts = _starts(problem, cfg)
    for k, x0 in enumerate(starts):
        def progress(it, cost, k=k):
            log.info("  start %d/%d iteration %3d  cost %.6e", k + 1, len(starts), it, cost)

        sol = solve(problem, x0, lo, hi, cfg, progress)
        if np.isfinite(sol.cost) and (best is None or sol.cost < best[1].cost):
            best = (x0, sol)
    if best is None:
        raise FitError("NLSQ: every start ended with a non-finite cost; check the data and "
                       "the initial values")
    x0, sol = best
    values = np.asarray(problem.full_params(jnp.asarray(sol.x)))
    residuals = np.asarray(problem.residuals(jnp.asarray(values), *problem.arrays()))
    chi2 = float(np.sum(residuals**2))
    dof = problem.n_points - int(problem.free.sum())
    reduced = chi2 / dof if dof > 0 else math.nan
    moved = np.any(np.abs(sol.x - x0) > 1e-9 * (hi - lo))
    success = sol.converged and math.isfinite(chi2) and bool(moved)
    message = sol.message if moved else f"{sol.message}; parameters did not move from the start"
    cov = _covariance(problem, sol.x, reduced)
    free_idx = np.flatnonzero(problem.free)
    at_bounds = tuple(problem.names[k] for k, v in zip(free_idx, sol.x, strict=True)
                      if quality.at_bound(v, problem.lower[k], problem.upper[k]))
    contrast, offset = (np.asarray(a) for a in
                        problem.scaling.expand(values[problem.n_physical:]))
    result = FitResult(
        mode=problem.mode, per_angle_mode=problem.scaling.requested,
        per_angle_effective=problem.scaling.effective, names=problem.names, values=values,
        uncertainties=np.sqrt(np.abs(np.diag(cov))), covariance=cov,
        free=problem.free, contrast=contrast, offset=offset, chi2=chi2, reduced_chi2=reduced,
        dof=dof, n_points=problem.n_points, iterations=sol.iterations, success=success,
        message=message, strategy=strategy, loss=cfg.loss,
        seconds=time.perf_counter() - began, starts=len(starts), at_bounds=at_bounds,
        lower=problem.lower, upper=problem.upper,
        start=np.asarray(problem.full_params(jnp.asarray(x0))),
        sigma_from_data=analysis.sigma is None,
    )
    log.info("NLSQ done: success=%s, reduced chi2 %.4f, %d iterations, %.1f s (%s)",
             success, reduced, sol.iterations, result.seconds, message)
    return result
