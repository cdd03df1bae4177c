"""The contents of the per-dataset result files, shared by ``homodyne run`` and the workflow.

Functions here turn results into plain mappings and arrays (pure) and write them with the
atomic helpers of :mod:`homodyne.io`, so a result file either is complete or does not exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import homodyne
from homodyne import quality
from homodyne.data import XPCSData
from homodyne.io import write_json, write_npz
from homodyne.layout import DatasetLayout
from homodyne.nlsq import FitResult
from homodyne.problem import build_problem


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def nlsq_summary(result: FitResult, data: XPCSData, settings: dict) -> dict:
    """The ``nlsq_results.json`` mapping: values and 1σ by name, fit quality, provenance, and
    the settings the fit was computed with (:func:`homodyne.settings.step_settings`)."""
    return {
        "parameters": {
            name: {"value": float(v), "uncertainty": float(u), "fixed": not bool(f)}
            for name, v, u, f in zip(result.names, result.values, result.uncertainties,
                                     result.free, strict=True)
        },
        "covariance": result.covariance,
        "chi2": result.chi2,
        "reduced_chi2": result.reduced_chi2,
        "dof": result.dof,
        "iterations": result.iterations,
        "success": result.success,
        "message": result.message,
        "mode": result.mode,
        "per_angle_mode": result.per_angle_mode,
        "per_angle_effective": result.per_angle_effective,
        "phi": data.phi,
        "contrast": result.contrast,
        "offset": result.offset,
        "sigma": data.sigma,
        "at_bounds": list(result.at_bounds),
        "quality": quality.nlsq_verdict(result),
        "strategy": result.strategy,
        "loss": result.loss,
        "starts": result.starts,
        "search": result.search,
        "optima": list(result.optima),
        "remaining_chi2": result.remaining_chi2,
        "decay_check": result.decay_check,
        "linearity": result.linearity,
        "seconds": result.seconds,
        "n_points": result.n_points,
        "q": data.q,
        "dt": data.dt,
        "provenance": asdict(data.provenance),
        "settings": settings,
        "timestamp": _timestamp(),
        "version": homodyne.__version__,
    }


def write_nlsq(ds: DatasetLayout, result: FitResult, data: XPCSData, analysis,
               settings: dict) -> list[Path]:
    """Write the dataset's ``nlsq_results.json`` and ``.npz``; return the paths.

    The npz holds the fitted model on the full grid (``c2_fit``) and the residuals
    ``c2_exp - c2_fit``; ``sigma`` is stored so they can be normalised, ``excluded`` (frames
    of ``frames_exclude``, whose pairs the fit left out) so figures can grey them.
    """
    c2_fit = build_problem(data, analysis, result.per_angle_effective).model_matrix(
        result.values)
    npz = write_npz(
        ds.nlsq_npz,
        parameters=result.values, names=np.array(result.names), covariance=result.covariance,
        uncertainties=result.uncertainties, phi=data.phi, t=data.t, sigma=data.sigma,
        c2_exp=data.c2, c2_fit=c2_fit, residuals=data.c2 - c2_fit,
        contrast=result.contrast, offset=result.offset, excluded=~data.frame_ok,
    )
    js = write_json(ds.nlsq_json, nlsq_summary(result, data, settings))
    return [js, npz]


def write_twotime(ds: DatasetLayout, data: XPCSData, c2_fit: np.ndarray, n_windows: int,
                  settings: dict) -> list[Path]:
    """Write the model-free views ``one_time.npz`` and ``ageing.npz`` (docs/outputs.md).

    Data and fitted model (``c2_fit``, ``(n_phi, N, N)`` on the data's grid) are reduced by
    the same functions over the same pairs: every pair off the diagonal whose frames are
    not excluded.  Each file records ``settings`` as JSON.
    """
    from homodyne import twotime

    keep = data.pair_ok
    tau, g2, g2_err, count = twotime.one_time_from_two_time(data.c2, keep, data.dt)
    _, g2_model, _, _ = twotime.one_time_from_two_time(c2_fit, keep, data.dt)
    data_age = twotime.ageing(data.c2, keep, data.t, data.dt, n_windows)
    model_age = twotime.ageing(c2_fit, keep, data.t, data.dt, n_windows)
    common = {"phi": data.phi, "tau": tau, "excluded": ~data.frame_ok, "q": data.q,
              "dt": data.dt, "settings": json.dumps(settings, sort_keys=True)}
    one = write_npz(ds.one_time, g2=g2, g2_err=g2_err, g2_model=g2_model, count=count,
                    **common)
    age = write_npz(
        ds.ageing, age=data_age.age, age_edges=data_age.edges, g2=data_age.g2,
        g2_err=data_age.g2_err, g2_model=model_age.g2, count=data_age.count,
        baseline=data_age.baseline, baseline_model=model_age.baseline,
        decay_time=data_age.decay_time, decay_reason=data_age.reason,
        decay_time_model=model_age.decay_time, decay_reason_model=model_age.reason,
        **common)
    return [one, age]


def parameter_table(result: FitResult) -> str:
    """A fixed-width table of the fitted parameters for the terminal."""
    lines = [f"{'parameter':<22} {'value':>14} {'1σ':>12}", "-" * 50]
    for name, value, sd, free in zip(result.names, result.values, result.uncertainties,
                                     result.free, strict=True):
        sd_text = f"{sd:12.4g}" if free else f"{'fixed':>12}"
        lines.append(f"{name:<22} {value:14.6g} {sd_text}")
    lines.append("-" * 50)
    lines.append(f"chi2 {result.chi2:.6g}  reduced {result.reduced_chi2:.4f}  dof {result.dof}  "
                 f"iterations {result.iterations}  success {result.success}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ CMC

def cmc_parameters(result, settings: dict) -> dict:
    """The ``mcmc_parameters.json`` mapping of a :class:`homodyne.cmc.ConsensusResult`:
    mean, sd and 94 % HDI (``hdi_3``, ``hdi_97``) of each sampled parameter."""
    import arviz as az  # loaded only when CMC results are written

    flat = result.draws.reshape(-1, len(result.names))
    hdi = np.asarray(az.hdi(flat, prob=0.94, axis=0)).reshape(len(result.names), 2)
    return {
        "parameters": {
            name: {"mean": float(np.mean(col)), "sd": float(np.std(col, ddof=1)),
                   "hdi_3": float(lo), "hdi_97": float(hi)}
            for name, col, (lo, hi) in zip(result.names, flat.T, hdi, strict=True)
        },
        "fixed": result.fixed,
        "n_shards": result.n_shards,
        "n_shards_used": result.n_shards_used,
        "chains": result.chains,
        "draws": result.draws_per_chain,
        "mode": result.mode,
        "settings": settings,
        "timestamp": _timestamp(),
        "version": homodyne.__version__,
    }


def cmc_diagnostics(result) -> dict:
    """The ``mcmc_diagnostics.json`` mapping: consensus R-hat/ESS, divergences, one entry
    per shard (used or why not), the heterogeneity CV of the shard means, and the verdict
    of :func:`homodyne.quality.cmc_verdict` (which reads k̂ when the mapping records it)."""
    diagnostics = {
        "overall": {
            "r_hat_max": float(np.max(result.r_hat)),
            "ess_bulk_min": float(np.min(result.ess_bulk)),
            "ess_tail_min": float(np.min(result.ess_tail)),
            "divergences": result.divergences,
            "divergence_rate": result.divergence_rate,
        },
        "parameters": {
            name: {"r_hat": float(r), "ess_bulk": float(b), "ess_tail": float(t)}
            for name, r, b, t in zip(result.names, result.r_hat, result.ess_bulk,
                                     result.ess_tail, strict=True)
        },
        "shards": [
            {"index": s.index, "used": s.used, "reason": s.reason, "n_points": s.n_points,
             "r_hat_max": s.r_hat_max, "ess_bulk_min": s.ess_bulk_min,
             "ess_tail_min": s.ess_tail_min, "divergences": s.divergences,
             "divergence_rate": s.divergence_rate, "step_size": s.step_size,
             "seconds": s.seconds, "continuations": s.continuations}
            for s in result.shards
        ],
        "heterogeneity": result.heterogeneity,
        "heterogeneous": list(result.heterogeneous),
        "self_check": result.check.as_dict(),
        "posterior_mode": result.mode_check,
    }
    diagnostics["quality"] = quality.cmc_verdict(result, khat=quality.find_khat(diagnostics))
    return diagnostics


def write_cmc(ds: DatasetLayout, result, settings: dict) -> list[Path]:
    """Write the dataset's four CMC result files; return the paths.

    ``mcmc_results.npz`` holds the consensus draws (chain × draw × parameter), the
    parameter names, and per-shard means and sds with the shards' indices and use, for
    plots of shards against the consensus.  ``mcmc_inference_data.nc`` is the consensus as
    an ArviZ DataTree (posterior group, NetCDF4).
    """
    from homodyne.cmc.sample import posterior_tree, write_tree  # NumPyro only for CMC

    shards = result.shards
    npz = write_npz(
        ds.cmc_npz, draws=result.draws, names=np.array(result.names),
        shard_index=np.array([s.index for s in shards]),
        shard_used=np.array([s.used for s in shards]),
        shard_means=np.array([s.mean for s in shards]),
        shard_sds=np.array([s.sd for s in shards]),
        r_hat=result.r_hat, ess_bulk=result.ess_bulk, ess_tail=result.ess_tail,
    )
    attrs = {"mode": result.mode, "n_shards": result.n_shards,
             "n_shards_used": result.n_shards_used,
             "shards_used": ",".join(str(s.index) for s in shards if s.used),
             "method": ("full-data NUTS" if result.n_shards == 1 else
                        "consensus Monte Carlo (Scott et al. 2016)"
                        + (", PSIS-reweighted" if result.check.reweighted else "")),
             "homodyne_version": homodyne.__version__}
    nc = write_tree(ds.cmc_netcdf, posterior_tree(result.names, result.draws, None, attrs))
    return [write_json(ds.cmc_parameters, cmc_parameters(result, settings)),
            write_json(ds.cmc_diagnostics, cmc_diagnostics(result)), npz, nc]
