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

Importance sampling (:mod:`homodyne.cmc.importance`) needs no consensus: one shard's job
has already weighed and resampled the proposal draws; with several shards every shard's job
evaluated its log likelihood at the same proposal draws, and here they are added into the
full-data log posterior, exactly, before PSIS weighs them.  When those weights fail their
check under ``cmc.method: auto``, NUTS samples every shard in this job (one after another)
and the consensus above is formed from them, with the reason logged and recorded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from homodyne.cmc import density, importance
from homodyne.cmc.check import SelfCheck, posterior_mode, self_check
from homodyne.cmc.diagnostics import chain_diagnostics, heterogeneity
from homodyne.cmc.shard import Shard, read_shard
from homodyne.config import CMCConfig
from homodyne.data.readers import REMAKE
from homodyne.errors import DataFormatError, FitError
from homodyne.runtime import require_float64

log = logging.getLogger(__name__)

SINGULAR_EIGENVALUE = 1e-12
"""Smallest eigenvalue of a shard's correlation matrix below which it is singular."""


@dataclass(frozen=True, eq=False)
class ShardPosterior:
    """One shard's posterior file: draws ``(chain, draw, parameter)`` and its statistics.

    ``method`` is ``nuts`` or ``importance`` (the file's ``method`` attribute); an importance
    file of a sharded run holds no draws (``draws`` None) but ``log_likelihood``, the shard's
    log likelihood at each of the run's proposal draws; ``importance`` is the file's record
    of importance sampling (proposal, k̂, fallback), ``{}`` for planned NUTS.
    """

    path: Path
    names: tuple[str, ...]
    draws: np.ndarray | None
    diverging: np.ndarray
    step_size: float
    attrs: dict
    method: str = "nuts"
    log_likelihood: np.ndarray | None = None
    importance: dict = field(default_factory=dict)


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
    method: str = "nuts"
    importance: dict = field(default_factory=dict)
    """``method``: how the draws were made, ``nuts`` (per shard, combined) or ``importance``;
    ``importance``: the record of importance sampling (proposal, k̂ and its limit, weights'
    ESS, draws, whether accepted; ``fallback`` when NUTS took over), ``{}`` for planned
    NUTS."""

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
        DataFormatError: missing or unreadable file, or neither a NUTS posterior (posterior
            and sample_stats groups) nor an importance-sampling one.
    """
    path = Path(path)
    try:
        tree = xr.open_datatree(path, engine="netcdf4")
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot read the shard posterior ({exc}); {REMAKE}"
                              ) from exc
    with tree:
        groups = set(tree.children)
        method = str(tree.attrs.get("method", "nuts"))
        wanted = {"posterior", "sample_stats"} if method == "nuts" else {"importance"}
        if not wanted <= groups:
            missing = " and ".join(sorted(wanted))
            raise DataFormatError(f"{path}: not a shard posterior (no {missing} group); "
                                  f"{REMAKE}")
        names = draws = loglik = None
        if "posterior" in groups:
            post = tree["posterior"].to_dataset()
            names = tuple(str(n) for n in post.data_vars)
            draws = np.stack([post[n].values for n in names], axis=-1).astype(np.float64)
        if "importance" in groups:
            loglik = tree["importance"].to_dataset()["log_likelihood"].values.ravel()
        record = json.loads(str(tree.attrs.get("importance", "{}")) or "{}")
        if names is None:
            names = tuple(record["proposal"]["names"])
        if method == "nuts":
            stats = tree["sample_stats"].to_dataset()
            step = stats["step_size"].values if "step_size" in stats else np.array([np.nan])
            diverging = stats["diverging"].values.astype(bool)
        else:
            step, diverging = np.array([np.nan]), np.zeros((1, 1), bool)
        return ShardPosterior(path=path, names=names, draws=draws, diverging=diverging,
                              step_size=float(np.mean(step)), attrs=dict(tree.attrs),
                              method=method, log_likelihood=loglik, importance=record)


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


def _read_shards(shard_files) -> list[Shard]:
    shards = sorted((read_shard(f) for f in shard_files), key=lambda s: s.index)
    if not shards or [s.index for s in shards] != list(range(shards[0].n_shards)):
        raise FitError(f"combine: the shard files {[str(f) for f in shard_files]} are not "
                       "one run's complete set of shards; remake the shards")
    return shards


def _importance_draws(posteriors: list[ShardPosterior], cfg: CMCConfig,
                      shards: list[Shard] | None) -> tuple[np.ndarray, dict]:
    """Importance-sampling draws ``(1, S, d)`` and their record: one shard's resampled draws
    as its job wrote them, or, for several shards, the proposal draws weighed by the sum of
    every shard's log likelihood (exact) and the prior, then resampled.

    Raises:
        FitError: several shards without their shard files, a shard whose sampling failed,
            or shards whose proposal draws differ (made by different shard steps).
    """
    if len(posteriors) == 1 and posteriors[0].draws is not None:
        return posteriors[0].draws, dict(posteriors[0].importance)
    if shards is None:
        raise FitError("combine: importance sampling of several shards needs the shard files "
                       "(their proposal draws)")
    failed = [f"shard {p.attrs.get('index')}: {p.attrs['error']}" for p in posteriors
              if p.attrs.get("error")]
    if failed:
        raise FitError(f"combine: importance sampling needs every shard's likelihood "
                       f"({'; '.join(failed)}); fix the cause and rerun those shards")
    marks = {s.proposal["record"]["fingerprint"] for s in shards} | {
        p.importance["proposal"]["fingerprint"] for p in posteriors}
    if len(marks) != 1 or len(posteriors) != len(shards):
        raise FitError("combine: the shard posteriors were not evaluated at one run's proposal "
                       "draws; remake the shards and rerun every shard")
    drawn = shards[0].proposal
    total = np.sum([p.log_likelihood for p in posteriors], axis=0)
    target = total + density.shard_log_prior(shards[0], drawn["draws"])
    outcome = importance.reweigh(drawn["draws"], drawn["log_density"], target, cfg.seed)
    log.info("importance sampling of %d shards: %s", len(shards), outcome.message)
    return outcome.draws, {"proposal": drawn["record"], **outcome.record()}


def _nuts_fallback(shards: list[Shard], cfg: CMCConfig) -> list[ShardPosterior]:
    """NUTS on every shard, here and one after another: what a sharded run falls back to
    when the importance weights of ``cmc.method: auto`` fail their check."""
    from dataclasses import replace

    from homodyne.cmc.sample import sample  # NumPyro only when it samples

    out = []
    for shard in shards:
        groups, attrs = sample(replace(shard, method="nuts"), cfg)
        out.append(ShardPosterior(
            path=Path(f"shard {shard.index} (NUTS fallback)"),
            names=shard.sampled_names(cfg.sample_sigma),
            draws=groups["posterior"], diverging=groups["sample_stats"]["diverging"],
            step_size=float(np.mean(groups["sample_stats"].get("step_size", np.nan))),
            attrs=attrs))
    return out


def _importance_result(posteriors, draws, record, shards) -> ConsensusResult:
    """The :class:`ConsensusResult` of importance-sampling ``draws`` (R-hat does not apply to
    resampled draws; their ESS is the weights')."""
    names = posteriors[0].names
    first = posteriors[0].attrs
    flat = draws.reshape(-1, len(names))
    one = len(posteriors) == 1
    reports = tuple(ShardReport(
        index=int(p.attrs.get("index", -1)), used=True, reason=None,
        n_points=int(p.attrs.get("n_points", 0)), seconds=float(p.attrs.get("seconds", np.nan)),
        divergences=0, divergence_rate=0.0, step_size=np.nan, r_hat_max=np.nan,
        ess_bulk_min=np.nan, ess_tail_min=np.nan,
        mean=flat.mean(axis=0) if one else np.full(len(names), np.nan),
        sd=flat.std(axis=0, ddof=1) if one else np.full(len(names), np.nan))
        for p in posteriors)
    ess = np.full(len(names), float(record.get("ess", np.nan)))
    check = SelfCheck(np.nan, float(record.get("ess", np.nan)), flat.shape[0], False,
                      "importance sampling: its own PSIS weights are the check (k̂ under "
                      "'importance')")
    mode_check = posterior_mode(draws, names, shards) if shards is not None else None
    return ConsensusResult(
        names=names, draws=draws, mode=str(first.get("mode", "")), shards=reports,
        heterogeneity=dict.fromkeys(names, np.nan), heterogeneous=(),
        r_hat=np.full(len(names), np.nan),
        ess_bulk=ess, ess_tail=ess, divergences=0, divergence_rate=0.0,
        fixed=json.loads(first.get("fixed", "{}")), check=check,
        priors=json.loads(first.get("priors", "{}")), mode_check=mode_check,
        method="importance", importance=record)


def combine(posterior_files, cfg: CMCConfig, shard_files=None) -> ConsensusResult:
    """Combine shard posterior files into the posterior of the dataset and check it.

    NUTS: with one shard the consensus is that shard's draws unchanged (full-data NUTS);
    with several, the Scott consensus, checked against the full data
    (:func:`homodyne.cmc.check.self_check`) and reweighted when the check allows.
    Importance sampling: the draws one shard's job resampled, or the proposal draws weighed
    by the sum of every shard's log likelihood; when those weights fail their check under
    ``cmc.method: auto``, NUTS on every shard here and their consensus.

    Args:
        posterior_files: files written by :func:`homodyne.cmc.sample_shard` for one run.
        cfg: ``max_divergence_rate``, ``heterogeneity_cv`` and ``seed`` are used (and the
            NUTS settings by the fallback).
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
    shards = None if shard_files is None else _read_shards(shard_files)
    if {p.method for p in posteriors} == {"importance"}:
        draws, record = _importance_draws(posteriors, cfg, shards)
        if record.get("accepted") or cfg.method == "importance":
            return _importance_result(posteriors, draws, record, shards)
        record["fallback"] = (f"{record['message']}; NUTS sampled every shard in the combine "
                              "step instead")
        log.warning("importance sampling not used: %s", record["fallback"])
        posteriors = _nuts_fallback(shards, cfg)
        return _consensus(posteriors, cfg, shards, record)
    return _consensus(posteriors, cfg, shards, posteriors[0].importance if
                      len(posteriors) == 1 else {})


def _consensus(posteriors: list[ShardPosterior], cfg: CMCConfig, shards: list[Shard] | None,
               record: dict) -> ConsensusResult:
    """The Scott consensus of NUTS shard posteriors, checked against the full data when the
    ``shards`` are given; ``record``: an importance-sampling attempt NUTS replaced."""
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
    if shards is None:
        draws, check = consensus, SelfCheck(np.nan, np.nan, consensus[..., 0].size, False,
                                            "not checked: no shard files given")
        mode_check = None
    else:
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
        method="nuts", importance=record,
    )
