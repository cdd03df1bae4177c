"""One function per pipeline step, from its declared input files to its declared outputs.

The Snakemake rules call these through their short scripts (one job per step and shard),
and ``homodyne run`` (:mod:`homodyne.runner`) calls the same functions, in the same order, on
the same files, so both drivers produce the same results.  A step reads only the files it is
given and writes only the files it is given (their paths come from :mod:`homodyne.layout`);
every file is written atomically by the functions underneath.  Each result records the
settings it was computed with (:mod:`homodyne.settings`).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import numpy as np

import homodyne
from homodyne import quality, signals
from homodyne.config import DatasetConfig, parse_config
from homodyne.data import (
    exclude_frames,
    load,
    read_xpcs,
    require_finite,
    select_angles,
    write_xpcs,
)
from homodyne.diagnosis import diagnose
from homodyne.errors import DataFormatError, DataQualityError
from homodyne.io import write_json
from homodyne.layout import DatasetLayout
from homodyne.nlsq import FitResult, fit
from homodyne.outputs import parameter_table, write_cmc, write_nlsq, write_twotime
from homodyne.settings import step_settings

log = logging.getLogger(__name__)


@contextmanager
def logged(path: str | Path | None):
    """Send the package's log records to ``path`` (a rule's ``log:``) while a step runs.

    Every workflow job enters here first, so this is where SIGINT/SIGTERM handling starts
    (:mod:`homodyne.signals`); a step that returns has written its outputs, so a signal
    after it no longer fails the job (:func:`homodyne.signals.finished`).
    """
    signals.install()
    if path is None:
        yield
        signals.finished()
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield
        signals.finished()
    except Exception:
        log.exception("step failed")
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def dataset_from(config: dict, name: str) -> DatasetConfig:
    """The resolved settings of dataset ``name`` from a (validated) config mapping."""
    return parse_config(config).dataset(name)


def load_step(ds: DatasetConfig, out: str | Path) -> Path:
    """Read every angle of the dataset's q ring in its frame window into ``out``, after the
    data checks of ``homodyne validate`` (:func:`check_data`).

    Non-finite values are kept here: whether they matter depends on the angles the filter
    step keeps.  With ``mask_nonfinite`` the window shrinks to the frames that are finite in
    the kept angles, so this step reads only those angles (``phi_ranges``; the filter step
    then keeps them all) and leaves the masking to the loader.
    """
    if ds.mask_nonfinite:
        data = load(ds.file, q=ds.q, dt=ds.analysis.dt, frames=ds.frames,
                    phi_ranges=ds.phi_ranges, mask_nonfinite=True)
    else:
        data = load(ds.file, q=ds.q, dt=ds.analysis.dt, frames=ds.frames, check_finite=False)
    log.info("%s: q = %.6g 1/Å, %d angles, %d frames from %s", ds.name, data.q, data.n_phi,
             data.n_frames, ds.file)
    check_data(ds, data)
    return write_xpcs(out, data)


def check_data(ds: DatasetConfig, data) -> None:
    """The data checks of ``homodyne validate`` on the angles the dataset keeps: data no fit
    can use (a matrix stored as c2 - 1, no contrast, ...) stop the dataset here with every
    reason; doubtful data and candidate bad frames are logged as warnings.

    They run in the load step, not when Snakemake starts: a start reads the config and the
    file names only, so a dry run of many large datasets takes seconds.  Data with NaN/Inf
    in the kept angles are left to the filter step, whose error names the remedies.

    Raises:
        DataQualityError: the ``failed`` reasons (:func:`homodyne.quality.refuse`).
    """
    from homodyne.validate import bad_frame_suggestions  # the checks validate runs

    kept = select_angles(data, ds.phi_ranges)
    if not np.isfinite(kept.c2).all():
        return
    reasons = quality.data_reasons(kept.c2, str(ds.file), phi=kept.phi, raw=True)
    refused = quality.refuse(reasons)
    if refused:
        raise DataQualityError(f"{ds.name}: {refused}")
    for warning in [r["message"] for r in reasons] + bad_frame_suggestions(ds, kept):
        log.warning("%s: %s", ds.name, warning)


def filter_step(ds: DatasetConfig, loaded: str | Path, out: str | Path) -> Path:
    """Keep the configured angles (``phi_ranges``), which must hold finite values only, and
    mark the frames of ``frames_exclude``: every step after this one leaves their pairs out,
    while the models still integrate over the whole time grid."""
    data = require_finite(select_angles(read_xpcs(loaded), ds.phi_ranges))
    data = exclude_frames(data, ds.frames_exclude)
    log.info("%s: %d angles kept: %s", ds.name, data.n_phi,
             ", ".join(f"{p:g}" for p in data.phi))
    if ds.frames_exclude:
        log.info("%s: %d of %d frames excluded (frames_exclude %s)", ds.name,
                 int((~data.frame_ok).sum()), data.n_frames, list(ds.frames_exclude))
    return write_xpcs(out, data)


def nlsq_step(ds: DatasetConfig, filtered: str | Path, out: DatasetLayout) -> FitResult:
    """Fit the filtered data; write ``out``'s NLSQ files; log the parameter table."""
    data = read_xpcs(filtered)
    result = fit(data, ds.analysis, ds.nlsq)
    paths = write_nlsq(out, result, data, ds.analysis, step_settings(ds, "nlsq"))
    log.info("%s\n%s", ds.name, parameter_table(result))
    log.info("%s: NLSQ written to %s", ds.name, ", ".join(map(str, paths)))
    return result


def twotime_step(ds: DatasetConfig, filtered: str | Path, nlsq_npz: str | Path,
                 out: DatasetLayout) -> list[Path]:
    """The model-free views (one-time g2, ageing) of the filtered data with the NLSQ model
    reduced the same way.  Their figures are drawn by :func:`plot_step`, after CMC, so that
    they carry the dataset's verdict as every other figure does."""
    data = read_xpcs(filtered)
    c2_fit = _fitted_matrix(nlsq_npz, data)
    settings = step_settings(ds, "twotime")
    paths = write_twotime(out, data, c2_fit, ds.twotime.age_windows, settings)
    with np.load(out.ageing, allow_pickle=False) as z:
        for p, phi in enumerate(data.phi):
            log.info("%s φ = %+.1f°: decay time per age window (s): data %s, fit %s%s",
                     ds.name, phi, _times(z["decay_time"][p]),
                     _times(z["decay_time_model"][p]),
                     "".join(f"; window {w + 1}: {r}" for w, r in
                             enumerate(z["decay_reason"][p]) if r))
    log.info("%s: model-free views written to %s", ds.name, ", ".join(map(str, paths)))
    return paths


def _times(values) -> str:
    return "[" + ", ".join("–" if not np.isfinite(v) else f"{v:.3g}" for v in values) + "]"


def _fitted_matrix(nlsq_npz: str | Path, data) -> np.ndarray:
    """``c2_fit`` of the NLSQ result, checked to be on the data's angles and grid.

    Raises:
        DataFormatError: the NLSQ file is of other data (rerun NLSQ).
    """
    from homodyne.plots.files import read_npz  # the plots package: not in every job (NUTS)

    fit = read_npz(Path(nlsq_npz), ("c2_fit", "phi", "t"))
    if (fit["c2_fit"].shape != data.c2.shape or not np.array_equal(fit["phi"], data.phi)
            or not np.array_equal(fit["t"], data.t)):
        raise DataFormatError(f"{nlsq_npz}: the fit is of other angles or frames than the "
                              f"filtered data ({fit['c2_fit'].shape} vs {data.c2.shape}); "
                              "rerun the NLSQ step")
    return np.asarray(fit["c2_fit"], dtype=np.float64)


def shard_step(ds: DatasetConfig, filtered: str | Path, nlsq_json: str | Path,
               out_dir: str | Path) -> list[Path]:
    """Split the filtered data into shard files with priors from the NLSQ result."""
    from homodyne.cmc import make_shards, read_nlsq_estimate

    estimate = read_nlsq_estimate(nlsq_json)
    paths = make_shards(read_xpcs(filtered), estimate, ds.cmc, out_dir, analysis=ds.analysis)
    log.info("%s: %d shards in %s", ds.name, len(paths), out_dir)
    return paths


def nuts_step(ds: DatasetConfig, shard: str | Path, out: str | Path) -> Path:
    """NUTS on one shard file; the posterior is written to ``out``."""
    from homodyne.cmc import sample_shard

    return sample_shard(shard, ds.cmc, out)


def combine_step(ds: DatasetConfig, posteriors: Sequence[str | Path],
                 shards: Sequence[str | Path], out: DatasetLayout):
    """Consensus of the shard posteriors, checked against the shards' data (all of the
    run's shard files); ``out``'s four CMC result files.

    Returns:
        The :class:`homodyne.cmc.ConsensusResult`.
    """
    from homodyne.cmc import combine

    result = combine(posteriors, ds.cmc, shards)
    paths = write_cmc(out, result, step_settings(ds, "combine"))
    log.info("%s: CMC used %d of %d shards; written to %s", ds.name, result.n_shards_used,
             result.n_shards, ", ".join(map(str, paths)))
    return result


def plot_step(ds: DatasetConfig, results: DatasetLayout, out_dir: str | Path,
              plots: Mapping, truth: str | Path | None = None) -> list[Path]:
    """The figures of one dataset: NLSQ figures, CMC figures when CMC is enabled (with the
    true values of simulated data from its ``truth`` file, when there is one), and the
    model-free views' figures beside their files; all with the dataset's verdict."""
    from homodyne.plots import plot_cmc, plot_nlsq, plot_twotime

    svg = bool(plots.get("svg", False))
    paths = plot_nlsq(results, out_dir, svg=svg)
    if ds.cmc.enable:
        paths += plot_cmc(results, out_dir, svg=svg, truth=truth)
    paths += plot_twotime(results, mode=ds.analysis.mode, svg=svg)
    log.info("%s: %d figures in %s", ds.name, len(paths), out_dir)
    return paths


def plot_datasets_step(datasets: Sequence[DatasetConfig], results: Sequence[DatasetLayout],
                       out: str | Path, plots: Mapping) -> Path:
    """Physical parameters across the configured datasets (two or more)."""
    from homodyne.plots import plot_datasets

    cmc = [r for ds, r in zip(datasets, results, strict=True) if ds.cmc.enable]
    made = plot_datasets(list(results), cmc, out, svg=bool(plots.get("svg", False)))
    log.info("parameters across %d datasets: %s", len(results), made)
    return made


def summary_step(ds: DatasetConfig, results: DatasetLayout, out: str | Path) -> Path:
    """``analysis_summary.json``: NLSQ and CMC side by side, with the settings each result
    records, timings and provenance."""
    from homodyne.plots.files import read_json

    nlsq = read_json(Path(results.nlsq_json))
    cmc = diagnostics = None
    if ds.cmc.enable:
        cmc = read_json(Path(results.cmc_parameters))
        diagnostics = read_json(Path(results.cmc_diagnostics))
    parameters = {}
    for name, entry in nlsq["parameters"].items():
        row = {"nlsq_value": entry["value"], "nlsq_uncertainty": entry["uncertainty"]}
        if cmc and name in cmc["parameters"]:
            row.update({f"cmc_{k}": v for k, v in cmc["parameters"][name].items()})
        parameters[name] = row
    merged = quality.merge(nlsq.get("quality"), (diagnostics or {}).get("quality"))
    merged["diagnosis"] = diagnose(merged["reasons"], nlsq,
                                   ((cmc or {}).get("settings") or {}).get("cmc_nuts"))
    summary = {
        "dataset": ds.name,
        "mode": nlsq["mode"],
        "q": nlsq["q"],
        "parameters": parameters,
        "quality": merged,
        "nlsq": {k: nlsq[k] for k in ("success", "message", "reduced_chi2", "chi2", "dof",
                                      "iterations", "seconds", "strategy")},
        "cmc": None if cmc is None else {
            "n_shards": cmc.get("n_shards"), "n_shards_used": cmc.get("n_shards_used"),
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
    path = write_json(out, summary)
    log.info("%s: verdict %s; summary written to %s", ds.name, summary["quality"]["verdict"],
             path)
    return path


def tables_step(results: DatasetLayout) -> list[Path]:
    """The parameters, diagnostics and provenance pages of one dataset, rendered from its
    summary (and CMC diagnostics) for the report."""
    from homodyne.tables import write_tables

    paths = write_tables(results)
    log.info("%s: tables %s", results.name, ", ".join(map(str, paths)))
    return paths


def verdicts_step(results: Sequence[DatasetLayout], cmc: Mapping[str, bool],
                  out: str | Path) -> Path:
    """The report's table of every dataset's verdict (``cmc``: whether CMC is enabled, by
    dataset name), read from the result files as the end of the run prints them."""
    from homodyne.tables import write_verdicts
    from homodyne.verdicts import dataset_verdict

    path = write_verdicts([dataset_verdict(r, cmc=cmc[r.name]) for r in results], out)
    log.info("verdicts of %d datasets: %s", len(results), path)
    return path
