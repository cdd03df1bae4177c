"""The per-dataset result files of SPEC §8, shared by ``homodyne run`` and the workflow.

Functions here turn results into plain mappings and arrays (pure) and write them with the
atomic helpers of :mod:`homodyne.io`, so a result file either is complete or does not exist.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import homodyne
from homodyne.data import XPCSData
from homodyne.io import write_json, write_npz
from homodyne.nlsq import FitResult, build_problem

NLSQ_JSON = "nlsq/nlsq_results.json"
NLSQ_NPZ = "nlsq/nlsq_results.npz"


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def nlsq_summary(result: FitResult, data: XPCSData) -> dict:
    """The ``nlsq_results.json`` mapping: values and 1σ by name, fit quality, provenance."""
    return {
        "parameters": {
            name: {"value": float(v), "uncertainty": float(u), "fixed": not bool(f)}
            for name, v, u, f in zip(result.names, result.values, result.uncertainties,
                                     result.free, strict=True)
        },
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
        "strategy": result.strategy,
        "loss": result.loss,
        "starts": result.starts,
        "seconds": result.seconds,
        "n_points": result.n_points,
        "q": data.q,
        "dt": data.dt,
        "provenance": asdict(data.provenance),
        "timestamp": _timestamp(),
        "version": homodyne.__version__,
    }


def write_nlsq(outdir: str | Path, result: FitResult, data: XPCSData, analysis) -> list[Path]:
    """Write ``nlsq/nlsq_results.json`` and ``.npz`` under ``outdir``; return the paths.

    The npz holds the fitted model on the full grid (``c2_fit``) and the residuals
    ``c2_exp - c2_fit``; ``sigma`` is stored so they can be normalised.
    """
    outdir = Path(outdir)
    c2_fit = build_problem(data, analysis).model_matrix(result.values)
    npz = write_npz(
        outdir / NLSQ_NPZ,
        parameters=result.values, names=np.array(result.names), covariance=result.covariance,
        uncertainties=result.uncertainties, phi=data.phi, t=data.t, sigma=data.sigma,
        c2_exp=data.c2, c2_fit=c2_fit, residuals=data.c2 - c2_fit,
        contrast=result.contrast, offset=result.offset,
    )
    js = write_json(outdir / NLSQ_JSON, nlsq_summary(result, data))
    return [js, npz]


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
