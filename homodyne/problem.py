"""The problem of one dataset and the plan of its run: one definition for NLSQ, the CMC
shards and ``homodyne validate`` (docs/physics.md).

The fit, the shards and validate's prediction must agree on which points a dataset has,
which parameters are free, how the fit splits its work and how many shards the sampler gets.
Each of them once held its own copy of these decisions, and copies drift: so they live here,
and the fitter (:mod:`homodyne.nlsq`) only solves.

* :class:`Problem`, built by :func:`build_problem` from a loaded dataset: points, parameters,
  bounds and noise, which NLSQ fits and whose block rows each CMC shard samples
  (:mod:`homodyne.cmc.shard`).
* :func:`point_mask`: the points, off-diagonal frame pairs in the block layout of
  :func:`homodyne.physics.folded_triangle` less the pairs touching a frame of
  ``frames_exclude``.
* :func:`plan`: what the run of a dataset will do, from its shape (angles, frames, excluded
  frames) and its config, before any matrix is read: points, free parameters, NLSQ strategy
  and memory, CMC shards.  It calls the functions the run calls (:func:`point_mask`,
  :func:`exploration_form`, :func:`check_fixed`, :func:`choose_strategy`,
  :func:`resolve_shards`, :func:`choose_method`), so ``homodyne validate`` cannot predict
  something else than what runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import jax.numpy as jnp
import numpy as np

from homodyne import params as registry
from homodyne import resources
from homodyne.config import AnalysisConfig, CMCConfig, DatasetConfig
from homodyne.data import XPCSData
from homodyne.errors import FitError
from homodyne.physics import (
    AngleScaling,
    angle_scaling,
    compute_c2,
    compute_c2_block,
    folded_triangle,
    scaling_names,
)

FULL_STRATEGY_MAX_ELEMENTS = 20_000_000
"""Largest points × free parameters solved with the dense ``full`` strategy."""
EXPLORE_POINTS = 30_000
"""Points of the subsample every start of the global search is fitted on (whole block rows,
so every angle and lag): 3 % of 23 angles × 300 frames, where one local fit takes a fraction
of a second, and enough to tell basins apart (their χ² differ by hundreds there when they
differ by tens of thousands on all points).  Data with fewer than twice this many points are
explored whole."""
CHUNK_POINTS = 65_536
"""Points per chunk of the ``chunked`` strategy's accumulated normal equations."""
AUTO_MAX_POINTS = {"static": 10_000_000, "laminar_flow": 3_000_000, "heterodyne": 1_200_000}
"""``cmc.shards: auto``: one shard (full-data NUTS) up to this many points, else as many
equal shards as keep each below it.  On one machine K shards cost at least as much CPU as
one shard of all the points (each shard pays its own warmup, and K shards with the data
split K ways need K times the draws for the same consensus), and the consensus is only
exact for Gaussian shard posteriors, which large shards are and small ones are not
(benchmarks/README.md, "Production scale").  The limits keep one NUTS job's memory and run
time those of the 23 × 500 laminar_flow benchmark; one laminar_flow gradient costs ~3.6 and
one heterodyne gradient ~8.8 static ones."""


@dataclass(frozen=True, eq=False)
class Problem:
    """A least-squares problem in the parameter layout ``[physical, scaling]``.

    The one definition of points, parameters, bounds and noise that NLSQ fits and that a CMC
    shard samples (a shard is :meth:`rows` of the dataset's problem).  Points are the
    off-diagonal upper triangle of every angle, laid out densely by :func:`point_mask`:
    ``ia, ja`` ``(R, C)`` frame pairs shared by all angles, ``mask`` false on padding and on
    pairs touching a frame of ``frames_exclude`` (the model still integrates over every
    frame of ``t``), ``y`` ``(n_phi, R, C)`` the data at those pairs and ``sigma`` the noise
    of each angle.
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
        """``(y - model) / sigma`` ``(n_phi, R, C)``, exactly 0 on padding (multiplied by the
        mask, not selected: a select of a computed value stops the CPU compiler vectorising
        the loop, see :mod:`homodyne.physics.primitives`)."""
        r = (y - self.model(full, ia, ja)) / jnp.asarray(self.sigma)[:, None, None]
        return r * mask[None].astype(r.dtype)

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


def point_mask(frame_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ia, ja, mask)``: the frame pairs of :func:`homodyne.physics.folded_triangle` for
    ``len(frame_ok)`` frames, ``mask`` also false on pairs touching a frame that is not
    ``frame_ok`` (``frames_exclude``: left out, still on the time grid)."""
    ok = np.asarray(frame_ok, dtype=bool)
    ia, ja, mask = folded_triangle(len(ok))
    return ia, ja, mask & ok[ia] & ok[ja]


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


def exploration_form(analysis: AnalysisConfig, n_phi: int) -> str | None:
    """The per-angle form the global search explores with: ``individual`` for ``auto`` with
    three or more angles (then :func:`homodyne.search.choose_scaling` decides from it),
    else the configured form."""
    return "individual" if analysis.per_angle_mode == "auto" and n_phi >= 3 else None


def build_problem(data: XPCSData, analysis: AnalysisConfig,
                  scaling_form: str | None = None) -> Problem:
    """Assemble points, noise, start values, bounds and free mask of one dataset.

    ``scaling_form`` overrides the per-angle form ``per_angle_mode`` resolves to: the global
    search explores with :func:`exploration_form` and may settle ``auto`` on another, which
    a fit records (``per_angle_effective``) for everything built from it afterwards.
    """
    mode = registry.canonical_mode(analysis.mode)
    ok = data.frame_ok
    used = data.c2 if ok.all() else data.c2[:, ok][:, :, ok]  # estimates skip excluded pairs
    scaling = angle_scaling(
        analysis.per_angle_mode, data.phi, used, data.t[ok],
        fourier_order=analysis.fourier_order,
        contrast_bounds=analysis.scaling_bounds("contrast"),
        offset_bounds=analysis.scaling_bounds("offset"), effective=scaling_form,
    )
    init, lo, hi = analysis.physical_start()
    names = registry.names(mode) + scaling.names
    free = check_fixed(names, analysis.fixed, scaling.effective)
    sigma = _sigma(data, analysis)
    ia, ja, mask = point_mask(ok)
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


def choose_strategy(requested: str, n_points: int, n_free: int) -> str:
    """``full`` or ``chunked``: ``requested`` unless it is ``auto``, then ``full`` up to
    :data:`FULL_STRATEGY_MAX_ELEMENTS` points × free parameters."""
    if requested != "auto":
        return requested
    return "full" if n_points * n_free <= FULL_STRATEGY_MAX_ELEMENTS else "chunked"


def resolve_shards(cfg: CMCConfig, mode: str, n_points: int, n_rows: int) -> int:
    """Number of shards for ``n_points`` points in ``n_rows`` block rows.

    ``cfg.shards`` when it is a number, else one shard up to :data:`AUTO_MAX_POINTS` of the
    mode and as many as keep each shard below it beyond.

    Raises:
        FitError: more shards than block rows (each shard needs at least one row).
    """
    if cfg.shards == "auto":
        return max(1, math.ceil(n_points / AUTO_MAX_POINTS[registry.canonical_mode(mode)]))
    if int(cfg.shards) > n_rows:
        raise FitError(f"cmc.shards {cfg.shards} exceeds the {n_rows} block rows of this "
                       f"dataset (half its frames); set cmc.shards to at most {n_rows}")
    return int(cfg.shards)


@dataclass(frozen=True)
class Plan:
    """What the run of one dataset will do, known before any matrix is read.

    ``free_names``: the free parameters the global search fits, with ``auto`` (three or more
    angles) a contrast and offset per angle, the most the fit can settle on (the data may
    settle it on fewer).  ``strategy`` and ``nlsq_bytes``: the NLSQ strategy on those and
    its estimated peak memory (:func:`homodyne.resources.nlsq_peak_bytes`).  ``method``:
    the posterior method the shard step will choose if the NLSQ covariance gives a proposal
    (:func:`choose_method`; NUTS otherwise, or when importance sampling's check fails under
    ``auto``).  ``errors``:
    where the run will stop instead, config key -> the message it will stop with; what
    depends on a failing key is ``None``.
    """

    n_points: int
    free_names: tuple[str, ...] | None
    strategy: str | None
    nlsq_bytes: int | None
    n_shards: int | None
    method: str = "nuts"
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def n_free(self) -> int | None:
        return None if self.free_names is None else len(self.free_names)


def choose_method(cfg: CMCConfig, n_points: int,
                  no_proposal: str | None = None) -> tuple[str, str]:
    """``(method, why)``: ``nuts`` or ``importance`` for a dataset of ``n_points`` points.

    ``cmc.method: auto`` takes importance sampling from :data:`homodyne.cmc.importance.
    MIN_POINTS` points on, unless the NLSQ covariance gives no proposal (``no_proposal``
    says why; :func:`plan` assumes it will); its k̂ is checked after sampling and NUTS takes
    over when it says no.

    Raises:
        FitError: ``cmc.method: importance`` without a usable NLSQ covariance.
    """
    from homodyne.cmc.importance import MIN_POINTS  # the sampler's constant, not JAX's

    if cfg.method == "nuts":
        return "nuts", "cmc.method: nuts"
    if no_proposal is not None:
        if cfg.method == "importance":
            raise FitError(f"cmc.method importance needs a proposal from the NLSQ fit, but "
                           f"{no_proposal}; set cmc.method to auto or nuts")
        return "nuts", f"NUTS: no importance-sampling proposal ({no_proposal})"
    if cfg.method == "auto" and n_points < MIN_POINTS:
        return "nuts", (f"NUTS: {n_points:,} points, fewer than the {MIN_POINTS:,} from which "
                        "cmc.method auto tries importance sampling")
    return "importance", (f"importance sampling ({cfg.method}): {n_points:,} points, "
                          f"{cfg.importance_draws} proposal draws")


def _planned_free_names(analysis: AnalysisConfig, n_phi: int) -> tuple[str, ...]:
    """The free parameter names :func:`build_problem` gives the global search's problem
    (raises what it raises for ``analysis.fixed``); the names need no data."""
    effective, scaling = scaling_names(analysis.per_angle_mode, n_phi,
                                       fourier_order=analysis.fourier_order,
                                       effective=exploration_form(analysis, n_phi))
    names = registry.names(analysis.mode) + scaling
    free = check_fixed(names, analysis.fixed, effective)
    return tuple(n for n, f in zip(names, free, strict=True) if f)


def plan(ds: DatasetConfig, n_phi: int, frame_ok: np.ndarray) -> Plan:
    """The plan of a run of ``ds`` on ``n_phi`` angles and the fitted frames ``frame_ok``
    (true where used; ``len(frame_ok)`` frames after dropping the one at t = 0)."""
    ia, _, mask = point_mask(frame_ok)
    n_points = n_phi * int(mask.sum())
    errors = {}
    try:
        free_names = _planned_free_names(ds.analysis, n_phi)
    except FitError as exc:
        errors["analysis.fixed"] = str(exc)
        free_names = None
    try:
        n_shards = resolve_shards(ds.cmc, ds.analysis.mode, n_points, ia.shape[0])
    except FitError as exc:
        errors["cmc.shards"] = str(exc)
        n_shards = None
    strategy = nlsq_bytes = None
    if free_names is not None:
        strategy = choose_strategy(ds.nlsq.strategy, n_points, len(free_names))
        nlsq_bytes = resources.nlsq_peak_bytes(
            strategy, n_points, len(free_names), n_phi, len(frame_ok),
            chunk_points=CHUNK_POINTS, explore_points=EXPLORE_POINTS)
    method, _ = choose_method(ds.cmc, n_points)
    return Plan(n_points=n_points, free_names=free_names, strategy=strategy,
                nlsq_bytes=nlsq_bytes, n_shards=n_shards, method=method, errors=errors)
