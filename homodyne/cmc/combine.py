"""Consensus of the shard posteriors (docs/physics.md; Scott et al. 2016).

Draw ``g`` of the consensus is the precision-weighted average of draw ``g`` of every shard::

    θ_g = (Σ_s W_s)⁻¹ Σ_s W_s θ_{s,g},    W_s = inverse of shard s's sample covariance

with ``g`` = (chain c, draw d): chain c of the consensus is built from chain c of every
shard, so R-hat and ESS of the consensus still compare chains.  ``W_s`` is the full matrix
(all chains pooled), so correlations between parameters survive.  For Gaussian shard
posteriors this is exact: the consensus draws are draws of the product of the shard
posteriors (which is the full posterior because each shard carries the prior to the 1/K).

After combining, :func:`homodyne.cmc.check.self_check` compares the consensus with the full
data (PSIS) and reweights it when it can.  A shard is left out, with the reason reported,
when its sampling failed (``error`` attribute), any draw is non-finite, its divergence rate
exceeds ``max_divergence_rate``, or its sample covariance is singular (a parameter that
never moved).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from homodyne.cmc.check import SelfCheck, posterior_mode, self_check
from homodyne.cmc.diagnostics import chain_diagnostics, heterogeneity
from homodyne.cmc.shard import read_shard
from homodyne.config import CMCConfig
from homodyne.data.readers import REMAKE
from homodyne.errors import DataFormatError, FitError
from homodyne.runtime import require_float64

log = logging.getLogger(__name__)

SINGULAR_EIGENVALUE = 1e-12
"""Smallest eigenvalue of a shard's correlation matrix below which it is singular."""


@dataclass(frozen=True, eq=False)
class ShardPosterior:
    """One shard's posterior file: draws ``(chain, draw, parameter)`` and its statistics."""

    path: Path
    names: tuple[str, ...]
    draws: np.ndarray
    diverging: np.ndarray
    step_size: float
    attrs: dict


@dataclass(frozen=True)
class ShardReport:
    """Per-shard diagnostics and whether the shard entered the consensus (and why not)."""

    index: int
    used: bool
    reason: str | None
    n_points: int
    seconds: float
    divergences: int
    divergence_rate: float
    step_size: float
    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    mean: np.ndarray
    sd: np.ndarray
    continuations: int = 0
    """How often the shard's chains went on because R-hat was high
    (:data:`homodyne.cmc.sample.CONTINUATIONS`)."""


@dataclass(frozen=True, eq=False)
class ConsensusResult:
    """The combined posterior and everything needed to judge it.

    Attributes:
        names: sampled parameters, the last axis of ``draws``.
        draws: consensus draws ``(chain, draw, parameter)`` in physical units.
        mode: physical model.
        shards: one report per shard file, in shard-index order.
        heterogeneity: CV of the used shards' means by parameter
            (:func:`homodyne.cmc.diagnostics.heterogeneity`).
        heterogeneous: parameters whose CV exceeds ``cmc.heterogeneity_cv``.
        r_hat, ess_bulk, ess_tail: per-parameter diagnostics of ``draws``.
        divergences, divergence_rate: over the used shards' draws.
        fixed: parameters held at their NLSQ value, by name.
        check: the PSIS self-check (:mod:`homodyne.cmc.check`); ``draws`` are its
            reweighted draws when ``check.reweighted``, the Scott consensus otherwise.
        priors: bounds, prior sd and NLSQ value of each sampled parameter, by name
            (:func:`homodyne.cmc.sample.prior_record`), for the quality checks.
        mode_check: χ² at the posterior mean against the NLSQ optimum's
            (:func:`homodyne.cmc.check.posterior_mode`); None without the shard files.
    """

    names: tuple[str, ...]
    draws: np.ndarray
    mode: str
    shards: tuple[ShardReport, ...]
    heterogeneity: dict
    heterogeneous: tuple[str, ...]
    r_hat: np.ndarray
    ess_bulk: np.ndarray
    ess_tail: np.ndarray
    divergences: int
    divergence_rate: float
    fixed: dict
    check: SelfCheck
    priors: dict = field(default_factory=dict)
    mode_check: dict | None = None

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    @property
    def n_shards_used(self) -> int:
        return sum(s.used for s in self.shards)

    @property
    def chains(self) -> int:
        return self.draws.shape[0]

    @property
    def draws_per_chain(self) -> int:
        return self.draws.shape[1]


def read_posterior(path: str | Path) -> ShardPosterior:
    """Read a posterior file written by :func:`homodyne.cmc.sample_shard`.

    Raises:
        DataFormatError: missing or unreadable file, or no posterior/sample_stats groups.
    """
    path = Path(path)
    try:
        tree = xr.open_datatree(path, engine="netcdf4")
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot read the shard posterior ({exc}); {REMAKE}"
                              ) from exc
    with tree:
        if "posterior" not in tree.children or "sample_stats" not in tree.children:
            raise DataFormatError(f"{path}: not a shard posterior (no posterior and "
                                  f"sample_stats groups); {REMAKE}")
        post = tree["posterior"].to_dataset()
        stats = tree["sample_stats"].to_dataset()
        names = tuple(str(n) for n in post.data_vars)
        draws = np.stack([post[n].values for n in names], axis=-1).astype(np.float64)
        step = stats["step_size"].values if "step_size" in stats else np.array([np.nan])
        return ShardPosterior(path=path, names=names, draws=draws,
                              diverging=stats["diverging"].values.astype(bool),
                              step_size=float(np.mean(step)), attrs=dict(tree.attrs))


def consensus_draws(shard_draws: list[np.ndarray]) -> np.ndarray:
    """Scott et al. consensus of draws ``(chain, draw, parameter)`` of equal shape.

    Computed in coordinates scaled by each parameter's median shard sd, where every
    covariance is of order one (D0 ~ 1e4 next to contrast ~ 0.3 would otherwise make the
    inverses lose digits); the consensus formula is equivariant under that scaling.
    The consensus of one shard is its draws, returned unchanged (not even rounded).
    """
    if len(shard_draws) == 1:
        return np.asarray(shard_draws[0], dtype=np.float64)
    stack = np.stack([np.asarray(d, dtype=np.float64) for d in shard_draws])
    n_shards, chains, draws, n_par = stack.shape
    flat = stack.reshape(n_shards, chains * draws, n_par)
    scale = np.median(flat.std(axis=1), axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    flat = flat / scale
    total = np.zeros((n_par, n_par))
    weighted = np.zeros((chains * draws, n_par))
    for x in flat:
        w = np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False)))
        total += w
        weighted += x @ w
    combined = np.linalg.solve(total, weighted.T).T * scale
    return combined.reshape(chains, draws, n_par)


def _reason(post: ShardPosterior, max_divergence_rate: float) -> str | None:
    """Why a shard cannot enter the consensus, or None."""
    if post.attrs.get("error"):
        return f"sampling failed: {post.attrs['error']}"
    if not np.all(np.isfinite(post.draws)):
        return f"{int(np.sum(~np.isfinite(post.draws)))} non-finite draws"
    rate = float(post.diverging.mean())
    if rate > max_divergence_rate:
        return f"divergence rate {rate:.3f} > max_divergence_rate {max_divergence_rate}"
    flat = post.draws.reshape(-1, post.draws.shape[-1])
    frozen = [n for n, spread in zip(post.names, np.ptp(flat, axis=0), strict=True)
              if spread == 0]
    if frozen:
        return f"draws of {', '.join(frozen)} never moved (singular covariance)"
    corr = np.atleast_2d(np.corrcoef(flat, rowvar=False))
    if np.linalg.eigvalsh(corr)[0] < SINGULAR_EIGENVALUE:
        return "sample covariance is singular (perfectly correlated parameters)"
    return None


def _report(post: ShardPosterior, reason: str | None) -> ShardReport:
    diag = {}
    if np.all(np.isfinite(post.draws)):
        with np.errstate(invalid="ignore", divide="ignore"):  # a frozen shard: R-hat NaN
            diag = chain_diagnostics(post.draws)
    flat = post.draws.reshape(-1, post.draws.shape[-1])
    return ShardReport(
        index=int(post.attrs.get("index", -1)), used=reason is None, reason=reason,
        n_points=int(post.attrs.get("n_points", 0)),
        seconds=float(post.attrs.get("seconds", np.nan)),
        divergences=int(post.diverging.sum()), divergence_rate=float(post.diverging.mean()),
        step_size=post.step_size, r_hat_max=diag.get("r_hat_max", np.nan),
        ess_bulk_min=diag.get("ess_bulk_min", np.nan),
        ess_tail_min=diag.get("ess_tail_min", np.nan),
        mean=flat.mean(axis=0), sd=flat.std(axis=0, ddof=1),
        continuations=int(post.attrs.get("continuations", 0)),
    )


def _check_compatible(posteriors: list[ShardPosterior]) -> None:
    first = posteriors[0]
    for post in posteriors[1:]:
        if post.names != first.names or post.draws.shape != first.draws.shape:
            raise FitError(
                f"{post.path} has parameters {post.names} and draws {post.draws.shape}, but "
                f"{first.path} has {first.names} and {first.draws.shape}: the posteriors come "
                "from different runs or settings; rerun every shard with the same config")


def combine(posterior_files, cfg: CMCConfig, shard_files=None) -> ConsensusResult:
    """Combine shard posterior files into the consensus posterior and check it.

    With one shard the consensus is that shard's draws unchanged (full-data NUTS).  With
    several, the consensus is checked against the full data (:func:`homodyne.cmc.check.
    self_check`) and reweighted when the check allows.

    Args:
        posterior_files: files written by :func:`homodyne.cmc.sample_shard` for one run.
        cfg: ``max_divergence_rate``, ``heterogeneity_cv`` and ``seed`` are used.
        shard_files: the run's shard files (all of them: together they are the dataset).
            The pipeline always passes them; without them (posteriors examined on their
            own) the consensus is not checked and ``check`` says so.

    Raises:
        FitError: no files, incompatible files, or no shard left after the checks.
        SetupError: shard files given (the self-check evaluates the model) and JAX runs in
            float32: call :func:`homodyne.runtime.configure` first.
    """
    if shard_files is not None:
        require_float64("homodyne.cmc.combine (its self-check against the full data)")
    posteriors = sorted((read_posterior(f) for f in posterior_files),
                        key=lambda post: int(post.attrs.get("index", -1)))
    if not posteriors:
        raise FitError("combine: no shard posterior files given")
    _check_compatible(posteriors)
    reports = [_report(post, _reason(post, cfg.max_divergence_rate)) for post in posteriors]
    for report in reports:
        if not report.used:
            log.warning("shard %d left out of the consensus: %s", report.index, report.reason)
    used = [post for post, report in zip(posteriors, reports, strict=True) if report.used]
    if not used:
        reasons = "; ".join(f"shard {r.index}: {r.reason}" for r in reports)
        raise FitError(f"combine: no usable shard posterior ({reasons})")
    names = posteriors[0].names
    consensus = consensus_draws([post.draws for post in used])
    diag = chain_diagnostics(consensus)  # of the chains, before any resampling
    if shard_files is None:
        draws, check = consensus, SelfCheck(np.nan, np.nan, consensus[..., 0].size, False,
                                            "not checked: no shard files given")
        mode_check = None
    else:
        shards = sorted((read_shard(f) for f in shard_files), key=lambda s: s.index)
        if not shards or [s.index for s in shards] != list(range(shards[0].n_shards)):
            raise FitError(f"combine: the shard files {[str(f) for f in shard_files]} are not "
                           "one run's complete set of shards; remake the shards")
        draws, check = self_check(consensus, names, shards, cfg.seed)
        mode_check = posterior_mode(draws, names, shards)
        log.info("posterior mean: χ² %.6g against %.6g at the NLSQ values (Δ %.3g χ²_red)",
                 mode_check["chi2_posterior_mean"], mode_check["chi2_nlsq"],
                 mode_check["delta"])
    used_reports = [r for r in reports if r.used]
    cv = heterogeneity(np.array([r.mean for r in used_reports]),
                       np.array([r.sd for r in used_reports]))
    flagged = tuple(n for n, c in zip(names, cv, strict=True) if c > cfg.heterogeneity_cv)
    if flagged:
        log.warning("shard means disagree beyond heterogeneity_cv %.2f for %s (cv %s); the "
                    "data may not be stationary or the model may not fit every shard",
                    cfg.heterogeneity_cv, ", ".join(flagged),
                    ", ".join(f"{c:.2f}" for n, c in zip(names, cv, strict=True)
                              if n in flagged))
    divergences = sum(r.divergences for r in used_reports)
    first = posteriors[0].attrs
    return ConsensusResult(
        names=names, draws=draws, mode=str(first.get("mode", "")), shards=tuple(reports),
        heterogeneity=dict(zip(names, cv.tolist(), strict=True)), heterogeneous=flagged,
        r_hat=diag["r_hat"], ess_bulk=diag["ess_bulk"], ess_tail=diag["ess_tail"],
        divergences=divergences,
        divergence_rate=divergences / sum(post.diverging.size for post in used),
        fixed=json.loads(first.get("fixed", "{}")), check=check,
        priors=json.loads(first.get("priors", "{}")), mode_check=mode_check,
    )
