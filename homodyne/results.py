"""Every result file of a dataset, read and written here: one writer and one reader each.

The steps, the report's tables, the verdict lines and the figures all read the same files.
With the general reader inside ``homodyne/plots/`` a summary, tables or verdicts job
imported matplotlib to parse JSON (issue 23); this module imports numpy and the package's
file helpers only, so a job that does not draw never loads matplotlib
(tests/test_results.py runs those jobs and checks), and :mod:`homodyne.plots` draws what it
reads here.

Writers compute nothing.  The step hands each writer what it writes: the fitted model on
the data's grid, the verdict of :mod:`homodyne.quality`, the model-free views, the
posterior table; writing a file never climbs back into the fit, the checks or the sampler.
The mapping of each JSON file is a pure function of what it is given (:func:`nlsq_summary`,
:func:`cmc_parameters`, :func:`cmc_diagnostics`, :func:`analysis_summary`; docs/outputs.md
describes every key), and every file is written atomically (:mod:`homodyne.io`).

Readers raise :class:`~homodyne.errors.DataFormatError` naming the file and what to do
(missing, not JSON, an array or key missing), which the CLI prints as one line with exit
status 2.  Paths come from :mod:`homodyne.layout`::

    file                              writer          readers
    nlsq/nlsq_results.json, .npz      write_nlsq      read_nlsq_summary, read_nlsq,
                                                      read_c2_fit
    twotime/one_time.npz, ageing.npz  write_twotime   read_twotime
    cmc/mcmc_parameters.json          write_cmc       read_cmc_parameters
    cmc/mcmc_diagnostics.json         write_cmc       read_cmc_diagnostics
    cmc/mcmc_results.npz              write_cmc       read_cmc
    cmc/mcmc_inference_data.nc        write_cmc       (for ArviZ users; never read back)
    analysis_summary.json             write_summary   read_summary
    the quality of a JSON result                      read_quality
    <stem>.truth.json of simulated data               read_truth
    a results folder's datasets                       dataset_layouts
"""

from __future__ import annotations

import json
import math
import platform
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import homodyne
from homodyne import layout
from homodyne.errors import DataFormatError
from homodyne.io import write_json, write_npz
from homodyne.layout import DatasetLayout

if TYPE_CHECKING:
    from homodyne.cmc import ConsensusResult
    from homodyne.data import XPCSData
    from homodyne.nlsq import FitResult
    from homodyne.twotime import Ageing

WRITE_IT = "run the step that writes it (snakemake, or homodyne run, on the same config)"
"""The remedy of a missing result file."""
REWRITE = "delete it and run the step that writes it again"
"""The remedy of a damaged result file, or one of another version."""

_NLSQ_KEYS = ("names", "parameters", "uncertainties", "phi", "t", "sigma", "c2_exp", "c2_fit")
_CMC_KEYS = ("draws", "names", "shard_means", "shard_sds", "shard_used")
_ONE_TIME_KEYS = ("phi", "tau", "g2", "g2_err", "g2_model", "q")
_AGEING_KEYS = ("phi", "age", "age_edges", "decay_time", "decay_time_model", "q")


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def number(value) -> float:
    """JSON number or null -> float (null, the writer's NaN/Inf, becomes NaN)."""
    return math.nan if value is None else float(value)


def _read_json(path: str | Path) -> dict:
    """Parse a JSON result file; DataFormatError if it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: result file not found; {WRITE_IT}") from exc
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable JSON result file ({exc}); "
                              f"{REWRITE}") from exc


def _read_npz(path: str | Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an npz result file; DataFormatError naming it if it is missing,
    unreadable or lacks one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataFormatError(f"{path}: missing array(s) {', '.join(missing)}; the "
                                      f"file holds {', '.join(z.files)}; {REWRITE}")
            return {k: z[k] for k in keys}
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: result file not found; {WRITE_IT}") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"{path}: not a readable .npz result file ({exc}); "
                              f"{REWRITE}") from exc


def read_quality(path: str | Path) -> dict | None:
    """The ``quality`` record (``{verdict, reasons, ...}``) a JSON result file carries, None
    where it carries none."""
    record = _read_json(path).get("quality")
    return record if isinstance(record, dict) and "verdict" in record else None


def dataset_layouts(results_dir: str | Path) -> list[DatasetLayout]:
    """The datasets of a results folder a user points ``homodyne plot`` at, sorted by name.

    Raises:
        DataFormatError: ``results_dir`` is not a folder or holds no results.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DataFormatError(f"{results_dir}: results folder not found; pass the --output "
                              "folder of `homodyne run`")
    found = [layout.dataset(results_dir, d.name) for d in sorted(results_dir.iterdir())
             if d.is_dir()]
    found = [d for d in found if d.has_nlsq() or d.has_cmc() or d.has_twotime()]
    if not found:
        example = layout.dataset(results_dir, "<dataset>")
        raise DataFormatError(f"{results_dir}: no dataset results inside (expected "
                              f"{example.nlsq_json} or {example.cmc_npz})")
    return found


# ----------------------------------------------------------------------------- NLSQ


def nlsq_summary(result: FitResult, data: XPCSData, verdict: Mapping, settings: dict) -> dict:
    """The ``nlsq_results.json`` mapping: values and 1σ by name, fit quality, its
    ``verdict`` (:func:`homodyne.quality.nlsq_verdict`), provenance, and the settings the fit
    was computed with (:func:`homodyne.settings.step_settings`)."""
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
        "quality": verdict,
        "strategy": result.strategy,
        "loss": result.loss,
        "starts": result.starts,
        "search": result.search,
        "optima": list(result.optima),
        "remaining_chi2": result.remaining_chi2,
        "decay_check": result.decay_check,
        "linearity": result.linearity,
        "profiles": result.profiles,
        "seconds": result.seconds,
        "n_points": result.n_points,
        "q": data.q,
        "dt": data.dt,
        "provenance": asdict(data.provenance),
        "settings": settings,
        "timestamp": _timestamp(),
        "version": homodyne.__version__,
    }


def write_nlsq(ds: DatasetLayout, result: FitResult, data: XPCSData, *, c2_fit: np.ndarray,
               verdict: Mapping, settings: dict) -> list[Path]:
    """Write the dataset's ``nlsq_results.json`` and ``.npz``; return the paths.

    The npz holds the fitted model on the full grid (``c2_fit``, ``(n_phi, N, N)``, as the
    fit's problem evaluates it) and the residuals ``c2_exp - c2_fit``; ``sigma`` is stored
    so they can be normalised, ``excluded`` (frames of ``frames_exclude``, whose pairs the
    fit left out) so figures can grey them.
    """
    npz = write_npz(
        ds.nlsq_npz,
        parameters=result.values, names=np.array(result.names), covariance=result.covariance,
        uncertainties=result.uncertainties, phi=data.phi, t=data.t, sigma=data.sigma,
        c2_exp=data.c2, c2_fit=c2_fit, residuals=data.c2 - c2_fit,
        contrast=result.contrast, offset=result.offset, excluded=~data.frame_ok,
    )
    js = write_json(ds.nlsq_json, nlsq_summary(result, data, verdict, settings))
    return [js, npz]


def read_nlsq_summary(path: str | Path) -> dict:
    """The parsed ``nlsq_results.json`` (no arrays: cheap)."""
    return _read_json(path)


@dataclass(frozen=True)
class NLSQRecord:
    """What the NLSQ figures need of one dataset.

    Attributes:
        name: dataset name (its folder name).
        mode, per_angle_mode: as fitted.  q: 1/Å.  reduced_chi2: of the fit.
        names, values, uncertainties: every fitted parameter, physical first (NaN: unknown).
        phi: angles (degrees).  t: time grid (s).  sigma: per-angle noise of one element.
        c2_exp, c2_fit: measured and fitted c2, shape ``(n_phi, N, N)``.
        excluded: ``(N,)`` bool, frames the fit left out (``frames_exclude``); all false
            in files written before exclusions existed.
    """

    name: str
    mode: str
    per_angle_mode: str
    q: float
    reduced_chi2: float
    names: tuple[str, ...]
    values: np.ndarray
    uncertainties: np.ndarray
    phi: np.ndarray
    t: np.ndarray
    sigma: np.ndarray
    c2_exp: np.ndarray
    c2_fit: np.ndarray
    excluded: np.ndarray


def read_nlsq(ds: DatasetLayout) -> NLSQRecord:
    """Read one dataset's NLSQ JSON and npz."""
    summary = read_nlsq_summary(ds.nlsq_json)
    arrays = _read_npz(ds.nlsq_npz, _NLSQ_KEYS)
    return NLSQRecord(
        name=ds.name,
        mode=str(summary.get("mode", "?")),
        per_angle_mode=str(summary.get("per_angle_mode", "?")),
        q=number(summary.get("q")),
        reduced_chi2=number(summary.get("reduced_chi2")),
        names=tuple(str(n) for n in arrays["names"]),
        values=arrays["parameters"].astype(np.float64),
        uncertainties=arrays["uncertainties"].astype(np.float64),
        phi=np.atleast_1d(arrays["phi"]).astype(np.float64),
        t=arrays["t"].astype(np.float64),
        sigma=np.atleast_1d(arrays["sigma"]).astype(np.float64),
        c2_exp=arrays["c2_exp"],
        c2_fit=arrays["c2_fit"],
        excluded=_excluded(Path(ds.nlsq_npz), len(arrays["t"])),
    )


def _excluded(path: Path, n: int) -> np.ndarray:
    """The ``excluded`` frames of an npz result, all false when the file has none."""
    with np.load(path, allow_pickle=False) as z:
        return (np.asarray(z["excluded"], dtype=bool) if "excluded" in z.files
                else np.zeros(n, dtype=bool))


def read_c2_fit(path: str | Path, data: XPCSData) -> np.ndarray:
    """``c2_fit`` of an ``nlsq_results.npz``, checked to be on the data's angles and grid.

    Raises:
        DataFormatError: the NLSQ file is of other data (rerun NLSQ).
    """
    fit = _read_npz(path, ("c2_fit", "phi", "t"))
    if (fit["c2_fit"].shape != data.c2.shape or not np.array_equal(fit["phi"], data.phi)
            or not np.array_equal(fit["t"], data.t)):
        raise DataFormatError(f"{path}: the fit is of other angles or frames than the "
                              f"filtered data ({fit['c2_fit'].shape} vs {data.c2.shape}); "
                              "rerun the NLSQ step")
    return np.asarray(fit["c2_fit"], dtype=np.float64)


# ------------------------------------------------------------------ model-free views


def write_twotime(ds: DatasetLayout, data: XPCSData, *, one_time: tuple, g2_model: np.ndarray,
                  ageing: Ageing, ageing_model: Ageing, settings: dict) -> list[Path]:
    """Write the model-free views ``one_time.npz`` and ``ageing.npz`` (docs/outputs.md).

    Args:
        one_time: ``(tau, g2, g2_err, count)`` of the data
            (:func:`homodyne.twotime.one_time_from_two_time`).
        g2_model: the fitted model's one-time g2, reduced over the same pairs.
        ageing, ageing_model: :func:`homodyne.twotime.ageing` of the data and the model.
        settings: recorded in each file as JSON.
    """
    tau, g2, g2_err, count = one_time
    common = {"phi": data.phi, "tau": tau, "excluded": ~data.frame_ok, "q": data.q,
              "dt": data.dt, "settings": json.dumps(settings, sort_keys=True)}
    one = write_npz(ds.one_time, g2=g2, g2_err=g2_err, g2_model=g2_model, count=count,
                    **common)
    age = write_npz(
        ds.ageing, age=ageing.age, age_edges=ageing.edges, g2=ageing.g2,
        g2_err=ageing.g2_err, g2_model=ageing_model.g2, count=ageing.count,
        baseline=ageing.baseline, baseline_model=ageing_model.baseline,
        decay_time=ageing.decay_time, decay_reason=ageing.reason,
        decay_time_model=ageing_model.decay_time, decay_reason_model=ageing_model.reason,
        **common)
    return [one, age]


def read_twotime(ds: DatasetLayout) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The arrays of ``one_time.npz`` and ``ageing.npz`` the figures draw."""
    return _read_npz(ds.one_time, _ONE_TIME_KEYS), _read_npz(ds.ageing, _AGEING_KEYS)


# ------------------------------------------------------------------------------ CMC


def cmc_parameters(result: ConsensusResult, table: Mapping, settings: dict) -> dict:
    """The ``mcmc_parameters.json`` mapping of a consensus: ``table`` (mean, sd and 94 % HDI
    of each sampled parameter, :func:`homodyne.cmc.diagnostics.posterior_table`), the fixed
    values, shard and draw counts and the settings."""
    return {
        "parameters": dict(table),
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


def cmc_diagnostics(result: ConsensusResult, verdict: Mapping) -> dict:
    """The ``mcmc_diagnostics.json`` mapping: the method, consensus R-hat/ESS, divergences,
    one entry per shard (used or why not), the heterogeneity CV of the shard means, the
    importance-sampling record and the ``verdict`` (:func:`homodyne.quality.cmc_verdict`).
    For importance sampling R-hat is NaN (written null: resampled draws are no Markov
    chain) and the ESS is the weights'."""
    return {
        "method": result.method,
        "importance": result.importance or None,
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
        "quality": verdict,
    }


def method_text(result: ConsensusResult) -> str:
    """How the posterior draws were made, in words (``full-data NUTS``, ``importance
    sampling of 4 shards ...``), for the NetCDF file's ``method`` attribute."""
    if result.method == "importance":
        shards = f" of {result.n_shards} shards" if result.n_shards > 1 else ""
        return f"importance sampling{shards} from the NLSQ optimum (PSIS-resampled)"
    fallback = (" (importance sampling's weights failed: NUTS instead)"
                if result.importance.get("fallback") else "")
    if result.n_shards == 1:
        return "full-data NUTS" + fallback
    return ("consensus Monte Carlo (Scott et al. 2016)"
            + (", PSIS-reweighted" if result.check.reweighted else "") + fallback)


def write_cmc(ds: DatasetLayout, result: ConsensusResult, *, table: Mapping,
              verdict: Mapping, settings: dict) -> list[Path]:
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
             "method": method_text(result),
             "homodyne_version": homodyne.__version__}
    nc = write_tree(ds.cmc_netcdf, posterior_tree(result.names, {"posterior": result.draws},
                                                  attrs))
    return [write_json(ds.cmc_parameters, cmc_parameters(result, table, settings)),
            write_json(ds.cmc_diagnostics, cmc_diagnostics(result, verdict)), npz, nc]


def read_cmc_parameters(path: str | Path) -> dict:
    """The parsed ``mcmc_parameters.json``."""
    return _read_json(path)


def read_cmc_diagnostics(path: str | Path) -> dict:
    """The parsed ``mcmc_diagnostics.json``."""
    return _read_json(path)


@dataclass(frozen=True)
class CMCRecord:
    """What the CMC figures need of one dataset.

    Attributes:
        name: dataset name.  mode: model.  q: 1/Å.
        names: parameter names of the last axis of ``draws`` and of the shard arrays.
        draws: consensus draws, shape ``(chains, draws, parameters)``.
        shard_means, shard_sds: per-shard posterior mean and sd, shape ``(K, parameters)``.
        shard_used: ``(K,)`` bool, False for a shard left out of the consensus.
        shard_reasons: why each shard was dropped (``None`` for used shards).
    """

    name: str
    mode: str
    q: float
    names: tuple[str, ...]
    draws: np.ndarray
    shard_means: np.ndarray
    shard_sds: np.ndarray
    shard_used: np.ndarray
    shard_reasons: tuple[str | None, ...]


def read_cmc(ds: DatasetLayout) -> CMCRecord:
    """Read one dataset's CMC draws and per-shard summaries, with the reasons for dropped
    shards from ``mcmc_diagnostics.json``; mode and q from ``nlsq_results.json`` (the NLSQ fit
    every consensus starts from)."""
    arrays = _read_npz(ds.cmc_npz, _CMC_KEYS)
    draws = np.asarray(arrays["draws"], dtype=np.float64)
    names = tuple(str(n) for n in arrays["names"])
    if draws.ndim != 3 or draws.shape[2] != len(names):
        raise DataFormatError(f"{ds.cmc_npz}: draws have shape {draws.shape}, "
                              f"expected (chains, draws, {len(names)}); {REWRITE}")
    used = np.asarray(arrays["shard_used"], dtype=bool)
    reasons: list[str | None] = [None if u else "dropped" for u in used]
    for shard in read_cmc_diagnostics(ds.cmc_diagnostics).get("shards", []):
        k = shard.get("index")
        if isinstance(k, int) and 0 <= k < len(reasons) and not used[k]:
            reasons[k] = shard.get("reason") or "dropped"
    meta = read_nlsq_summary(ds.nlsq_json)
    return CMCRecord(
        name=ds.name, mode=str(meta.get("mode", "?")), q=number(meta.get("q")), names=names,
        draws=draws,
        shard_means=np.asarray(arrays["shard_means"], dtype=np.float64),
        shard_sds=np.asarray(arrays["shard_sds"], dtype=np.float64),
        shard_used=used, shard_reasons=tuple(reasons),
    )


# -------------------------------------------------------------------------- summary


def analysis_summary(name: str, nlsq: Mapping, cmc: Mapping | None,
                     diagnostics: Mapping | None, verdict: Mapping) -> dict:
    """The ``analysis_summary.json`` mapping: NLSQ and CMC side by side from their parsed
    result files (``cmc`` and ``diagnostics`` None without CMC), the dataset's ``verdict``
    (both steps' reasons merged, with the diagnosis), the settings each result records,
    timings and provenance."""
    parameters = {}
    for pname, entry in nlsq["parameters"].items():
        row = {"nlsq_value": entry["value"], "nlsq_uncertainty": entry["uncertainty"]}
        if cmc and pname in cmc["parameters"]:
            row.update({f"cmc_{k}": v for k, v in cmc["parameters"][pname].items()})
        parameters[pname] = row
    return {
        "dataset": name,
        "mode": nlsq["mode"],
        "q": nlsq["q"],
        "parameters": parameters,
        "quality": verdict,
        "nlsq": {k: nlsq[k] for k in ("success", "message", "reduced_chi2", "chi2", "dof",
                                      "iterations", "seconds", "strategy")},
        "cmc": None if cmc is None else {
            "n_shards": cmc.get("n_shards"), "n_shards_used": cmc.get("n_shards_used"),
            "method": diagnostics.get("method", "nuts"),
            "importance": diagnostics.get("importance"),
            "overall": diagnostics.get("overall"),
            "self_check": diagnostics.get("self_check"),
            "seconds": sum(s.get("seconds") or 0.0 for s in diagnostics.get("shards", [])),
        },
        "settings": {"nlsq": nlsq.get("settings"),
                     "cmc": None if cmc is None else cmc.get("settings")},
        "provenance": {
            "input_file": nlsq["provenance"]["source"],
            "input_sha256": nlsq["provenance"]["sha256"],
            "versions": {"homodyne": homodyne.__version__, "python": platform.python_version(),
                         **{p: version(p) for p in ("jax", "nlsq", "numpyro")}},
        },
    }


def write_summary(path: str | Path, name: str, nlsq: Mapping, cmc: Mapping | None,
                  diagnostics: Mapping | None, verdict: Mapping) -> Path:
    """Write :func:`analysis_summary` of the arguments to ``path``."""
    return write_json(path, analysis_summary(name, nlsq, cmc, diagnostics, verdict))


def read_summary(path: str | Path) -> dict:
    """The parsed ``analysis_summary.json``."""
    return _read_json(path)


# ----------------------------------------------------------------------------- truth


def read_truth(path: str | Path | None, names) -> dict[str, float]:
    """True values of simulated data from a ``<stem>.truth.json`` (``{}`` without one).

    Physical parameters by name; ``contrast``/``offset`` (one value or one per angle) for
    the scaling names that match (``contrast``, ``contrast_<k>``).
    """
    if path is None:
        return {}
    truth = _read_json(path)
    known = {k: float(v) for k, v in truth.get("parameters", {}).items()}
    for scale in ("contrast", "offset"):
        value = truth.get(scale)
        values = value if isinstance(value, list) else []
        for n in names:
            suffix = n.removeprefix(f"{scale}_")
            if n == scale and not isinstance(value, list) and value is not None:
                known[n] = float(value)
            elif suffix != n and suffix.isdigit() and int(suffix) < len(values):
                known[n] = float(values[int(suffix)])
    return {n: known[n] for n in names if n in known}
