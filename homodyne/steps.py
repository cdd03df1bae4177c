"""One function per pipeline step, from its declared input files to its declared outputs.

The Snakemake rules call these through their short scripts (one job per step and shard),
and ``homodyne run`` (:mod:`homodyne.runner`) calls the same functions, in the same order, on
the same files, so both drivers produce the same results.  A step reads only the files it is
given and writes only the files it is given (their paths come from :mod:`homodyne.layout`),
through the readers and writers of :mod:`homodyne.results`.  The step computes and the
writer writes: the fitted model, the verdict, the model-free views and the posterior table
are computed here and handed to the writer, so writing never calls back into the fit or the
checks.  Each result records the settings it was computed with (:mod:`homodyne.settings`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from homodyne import quality, results, signals, twotime
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
from homodyne.errors import DataQualityError
from homodyne.layout import DatasetLayout
from homodyne.nlsq import FitResult, fit
from homodyne.problem import build_problem
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
    """Fit the filtered data; write ``out``'s NLSQ files with the fitted model on the full
    grid and the fit's verdict; log the parameter table.

    The model is evaluated by the problem the fit solved: built with the per-angle form
    the fit settled on (``per_angle_mode: auto`` may settle on another than the one it
    starts from), so the model has the fitted parameters' layout.
    """
    data = read_xpcs(filtered)
    result = fit(data, ds.analysis, ds.nlsq)
    problem = build_problem(data, ds.analysis, result.per_angle_effective)
    paths = results.write_nlsq(out, result, data, c2_fit=problem.model_matrix(result.values),
                               verdict=quality.nlsq_verdict(result),
                               settings=step_settings(ds, "nlsq"))
    log.info("%s\n%s", ds.name, _parameter_table(result))
    log.info("%s: NLSQ written to %s", ds.name, ", ".join(map(str, paths)))
    return result


def _parameter_table(result: FitResult) -> str:
    """A fixed-width table of the fitted parameters for the log."""
    lines = [f"{'parameter':<22} {'value':>14} {'1σ':>12}", "-" * 50]
    for name, value, sd, free in zip(result.names, result.values, result.uncertainties,
                                     result.free, strict=True):
        sd_text = f"{sd:12.4g}" if free else f"{'fixed':>12}"
        lines.append(f"{name:<22} {value:14.6g} {sd_text}")
    lines.append("-" * 50)
    lines.append(f"chi2 {result.chi2:.6g}  reduced {result.reduced_chi2:.4f}  dof {result.dof}  "
                 f"iterations {result.iterations}  success {result.success}")
    return "\n".join(lines)


def twotime_step(ds: DatasetConfig, filtered: str | Path, nlsq_npz: str | Path,
                 out: DatasetLayout) -> list[Path]:
    """The model-free views (one-time g2, ageing) of the filtered data with the NLSQ model
    reduced the same way.  Their figures are drawn by :func:`plot_step`, after CMC, so that
    they carry the dataset's verdict as every other figure does.

    Data and fitted model (``c2_fit`` of the NLSQ file, checked to be on the data's grid)
    are reduced by the same functions over the same pairs: every pair off the diagonal whose
    frames are not excluded.
    """
    data = read_xpcs(filtered)
    c2_fit = results.read_c2_fit(nlsq_npz, data)
    keep, n_windows = data.pair_ok, ds.twotime.age_windows
    one_time = twotime.one_time_from_two_time(data.c2, keep, data.dt)
    _, g2_model, _, _ = twotime.one_time_from_two_time(c2_fit, keep, data.dt)
    age = twotime.ageing(data.c2, keep, data.t, data.dt, n_windows)
    age_model = twotime.ageing(c2_fit, keep, data.t, data.dt, n_windows)
    paths = results.write_twotime(out, data, one_time=one_time, g2_model=g2_model,
                                  ageing=age, ageing_model=age_model,
                                  settings=step_settings(ds, "twotime"))
    for p, phi in enumerate(data.phi):
        log.info("%s φ = %+.1f°: decay time per age window (s): data %s, fit %s%s",
                 ds.name, phi, _times(age.decay_time[p]), _times(age_model.decay_time[p]),
                 "".join(f"; window {w + 1}: {r}" for w, r in enumerate(age.reason[p]) if r))
    log.info("%s: model-free views written to %s", ds.name, ", ".join(map(str, paths)))
    return paths


def _times(values) -> str:
    return "[" + ", ".join("–" if not np.isfinite(v) else f"{v:.3g}" for v in values) + "]"


def shard_step(ds: DatasetConfig, filtered: str | Path, nlsq_json: str | Path,
               out_dir: str | Path) -> list[Path]:
    """Split the filtered data into shard files with priors from the NLSQ result.

    When the NLSQ verdict's diagnosis is a degenerate combination (a stationary sample, an
    offset the data do not determine), the shards say that NUTS should not continue past
    its first run: a degeneracy is not cured by more draws (the CHX matrix: 9 minutes per
    run, three runs), and the verdict names the remedy either way."""
    from homodyne.cmc import make_shards, read_nlsq_estimate

    estimate = read_nlsq_estimate(nlsq_json)
    record = results.read_nlsq_summary(nlsq_json)
    degenerate = [d["finding"].split(":", 1)[0] for d in
                  diagnose((record.get("quality") or {}).get("reasons", []), record)
                  if d["cause"].startswith("degenerate_")]
    paths = make_shards(read_xpcs(filtered), estimate, ds.cmc, out_dir, analysis=ds.analysis,
                        no_continuation="; ".join(degenerate))
    log.info("%s: %d shards in %s", ds.name, len(paths), out_dir)
    return paths


def nuts_step(ds: DatasetConfig, shard: str | Path, out: str | Path) -> Path:
    """NUTS on one shard file; the posterior is written to ``out``."""
    from homodyne.cmc import sample_shard

    return sample_shard(shard, ds.cmc, out)


def combine_step(ds: DatasetConfig, posteriors: Sequence[str | Path],
                 shards: Sequence[str | Path], out: DatasetLayout):
    """Consensus of the shard posteriors, checked against the shards' data (all of the
    run's shard files); ``out``'s four CMC result files, with the posterior table and the
    consensus's verdict (which reads the self-check's k̂).

    Returns:
        The :class:`homodyne.cmc.ConsensusResult`.
    """
    from homodyne.cmc import combine
    from homodyne.cmc.diagnostics import posterior_table

    result = combine(posteriors, ds.cmc, shards)
    paths = results.write_cmc(out, result, table=posterior_table(result.names, result.draws),
                              verdict=quality.cmc_verdict(result, khat=result.check.k_hat),
                              settings=step_settings(ds, "combine"))
    log.info("%s: CMC used %d of %d shards; written to %s", ds.name, result.n_shards_used,
             result.n_shards, ", ".join(map(str, paths)))
    return result


def plot_step(ds: DatasetConfig, files: DatasetLayout, out_dir: str | Path,
              plots: Mapping, truth: str | Path | None = None) -> list[Path]:
    """The figures of one dataset: NLSQ figures, CMC figures when CMC is enabled (with the
    true values of simulated data from its ``truth`` file, when there is one), and the
    model-free views' figures beside their files; all with the dataset's verdict."""
    from homodyne.plots import plot_cmc, plot_nlsq, plot_twotime

    svg = bool(plots.get("svg", False))
    paths = plot_nlsq(files, out_dir, svg=svg)
    if ds.cmc.enable:
        paths += plot_cmc(files, out_dir, svg=svg, truth=truth)
    paths += plot_twotime(files, mode=ds.analysis.mode, svg=svg)
    log.info("%s: %d figures in %s", ds.name, len(paths), out_dir)
    return paths


def plot_datasets_step(datasets: Sequence[DatasetConfig], files: Sequence[DatasetLayout],
                       out: str | Path, plots: Mapping) -> Path:
    """Physical parameters across the configured datasets (two or more)."""
    from homodyne.plots import plot_datasets

    cmc = [r for ds, r in zip(datasets, files, strict=True) if ds.cmc.enable]
    made = plot_datasets(list(files), cmc, out, svg=bool(plots.get("svg", False)))
    log.info("parameters across %d datasets: %s", len(files), made)
    return made


def summary_step(ds: DatasetConfig, files: DatasetLayout, out: str | Path) -> Path:
    """``analysis_summary.json``: NLSQ and CMC side by side, with the dataset's verdict (the
    steps' verdicts merged, with their diagnosis), the settings each result records, timings
    and provenance."""
    nlsq = results.read_nlsq_summary(files.nlsq_json)
    cmc = diagnostics = None
    if ds.cmc.enable:
        cmc = results.read_cmc_parameters(files.cmc_parameters)
        diagnostics = results.read_cmc_diagnostics(files.cmc_diagnostics)
    merged = quality.merge(nlsq.get("quality"), (diagnostics or {}).get("quality"))
    merged["diagnosis"] = diagnose(merged["reasons"], nlsq,
                                   ((cmc or {}).get("settings") or {}).get("cmc_nuts"))
    path = results.write_summary(out, ds.name, nlsq, cmc, diagnostics, merged)
    log.info("%s: verdict %s; summary written to %s", ds.name, merged["verdict"], path)
    return path


def tables_step(files: DatasetLayout) -> list[Path]:
    """The parameters, diagnostics and provenance pages of one dataset, rendered from its
    summary (and CMC diagnostics) for the report."""
    from homodyne.tables import write_tables

    paths = write_tables(files)
    log.info("%s: tables %s", files.name, ", ".join(map(str, paths)))
    return paths


def verdicts_step(files: Sequence[DatasetLayout], cmc: Mapping[str, bool],
                  out: str | Path) -> Path:
    """The report's table of every dataset's verdict (``cmc``: whether CMC is enabled, by
    dataset name), read from the result files as the end of the run prints them."""
    from homodyne.tables import write_verdicts
    from homodyne.verdicts import dataset_verdict

    path = write_verdicts([dataset_verdict(r, cmc=cmc[r.name]) for r in files], out)
    log.info("verdicts of %d datasets: %s", len(files), path)
    return path
