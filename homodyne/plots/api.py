"""Write the figures of a dataset's result files: the ``plot`` step and ``homodyne plot``.

Each function reads a dataset's result files through :mod:`homodyne.results` (the one
reader of every result file; nothing here opens a file) and writes its figures into the
folder it is given, under the names of the figure table :data:`homodyne.layout.FIGURES`
(per angle :func:`homodyne.layout.angle_figure_file`); the model-free views' figures go
beside their files, the cross-dataset figure to :func:`homodyne.layout.datasets_figure`.
With ``svg=True`` an ``.svg`` of the same name is written beside each PNG.  Figures live
beside the results they show, so copying a dataset folder keeps its plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from homodyne import layout, quality, results
from homodyne import params as registry
from homodyne.data.simulate import existing_truth
from homodyne.errors import DataFormatError
from homodyne.layout import DatasetLayout
from homodyne.plots import c2, datasets, posterior, twotime
from homodyne.plots.figure import save_figure, title


def plot_nlsq(ds: DatasetLayout, out_dir: str | Path, *, svg: bool = False) -> list[Path]:
    """Write the NLSQ figures of one dataset: per-angle heatmaps, overview, cuts, histogram.

    Args:
        ds: the dataset's result files (``nlsq_results.{json,npz}`` are read).
        out_dir: where to write.
        svg: also write SVG files.

    Returns:
        The written files.

    Raises:
        DataFormatError: the NLSQ files are missing or malformed.
    """
    r = results.read_nlsq(ds)
    verdict = verdict_of(ds)
    head = title(r.name, r.mode, r.q, **verdict)
    written = []
    panels = c2.AnglePanels(r.t)
    for p, phi in enumerate(r.phi):
        fig = panels.show(r.c2_exp[p], r.c2_fit[p], r.sigma[p], excluded=r.excluded,
                          title=title(r.name, r.mode, r.q, phi, **verdict))
        written += save_figure(fig, layout.angle_figure_file(out_dir, phi), svg=svg)
    used = c2.masked(r.c2_exp, r.excluded)  # excluded pairs: grey, in no statistic
    figures = {
        "c2_overview": c2.c2_overview_figure(r.t, r.phi, used, r.c2_fit, r.sigma,
                                             title=head),
        "c2_cuts": c2.c2_cuts_figure(r.t, r.phi, used, r.c2_fit, r.sigma, title=head),
        "residual_histogram": c2.residual_histogram_figure(
            used, r.c2_fit, r.sigma, title=f"{head} · χ²ᵣ = {r.reduced_chi2:.4g}"),
    }
    for stem, fig in figures.items():
        written += save_figure(fig, layout.figure_file(out_dir, stem), svg=svg)
    return written


def plot_twotime(ds: DatasetLayout, *, mode: str, svg: bool = False) -> list[Path]:
    """Write the model-free views' figures of one dataset beside their ``.npz`` files:
    ``one_time.png`` (g2 per angle, fit on top) and ``ageing.png`` (decay time vs age).

    Raises:
        DataFormatError: the view files are missing or malformed.
    """
    one, age = results.read_twotime(ds)
    head = title(ds.name, mode, float(one["q"]), **verdict_of(ds))
    figures = {
        ds.one_time_figure: twotime.one_time_figure(one["tau"], one["phi"], one["g2"],
                                                    one["g2_err"], one["g2_model"],
                                                    title=head),
        ds.ageing_figure: twotime.ageing_figure(age["age"], age["age_edges"], age["phi"],
                                                age["decay_time"], age["decay_time_model"],
                                                title=head),
    }
    written = []
    for path, fig in figures.items():
        written += save_figure(fig, path, svg=svg)
    return written


def _step_verdicts(ds: DatasetLayout, cmc: bool = True) -> dict[str, dict]:
    """``{"NLSQ": quality, "Bayesian": quality}`` of the result files that exist (the
    Bayesian one only with ``cmc``: a stale file of a dataset whose CMC is off is no
    verdict of it)."""
    paths = [("NLSQ", ds.nlsq_json)] + ([("Bayesian", ds.cmc_diagnostics)] if cmc else [])
    parts = {step: results.read_quality(path) for step, path in paths if Path(path).is_file()}
    return {step: q for step, q in parts.items() if q is not None}


def dataset_quality(ds: DatasetLayout, *, cmc: bool = True) -> str | None:
    """The dataset's verdict (worst of its NLSQ and, with ``cmc``, CMC ``quality``), None
    if unrecorded."""
    parts = _step_verdicts(ds, cmc)
    return quality.merge(*parts.values())["verdict"] if parts else None


def verdict_of(ds: DatasetLayout) -> dict[str, str | None]:
    """``title()``'s keywords for the dataset's verdict: the verdict, and the step it comes
    from where the NLSQ and Bayesian verdicts differ (every figure of a dataset then says
    the same, whichever step drew it)."""
    parts = _step_verdicts(ds)
    overall = dataset_quality(ds)
    steps = {q["verdict"] for q in parts.values()}
    step = None
    if len(steps) > 1:
        step = next(s for s, q in parts.items() if q["verdict"] == overall)
    return {"quality": overall, "step": step}


def truth_file(ds: DatasetLayout) -> Path | None:
    """The ``<stem>.truth.json`` that ``homodyne simulate`` wrote beside the input file the
    NLSQ provenance records, when it exists (``homodyne plot`` on a results folder)."""
    source = results.read_nlsq_summary(ds.nlsq_json).get("provenance", {}).get("source")
    return existing_truth(source) if source else None


def _nlsq_reference(ds: DatasetLayout) -> dict[str, tuple[float, float]]:
    """NLSQ ``{name: (value, sd)}`` of a dataset."""
    return {k: (results.number(p.get("value")), results.number(p.get("uncertainty")))
            for k, p in results.read_nlsq_summary(ds.nlsq_json).get("parameters", {}).items()}


def _cmc_reference(ds: DatasetLayout) -> dict[str, tuple[float, float]]:
    """Posterior ``{name: (mean, sd)}`` of a dataset."""
    return {k: (results.number(p.get("mean")), results.number(p.get("sd")))
            for k, p in results.read_cmc_parameters(ds.cmc_parameters)
            .get("parameters", {}).items()}


def plot_cmc(ds: DatasetLayout, out_dir: str | Path, *, svg: bool = False,
             truth: str | Path | None = None) -> list[Path]:
    """Write the CMC figures of one dataset: traces, marginals, pair plot, shards (not for
    importance sampling of several shards, which makes no per-shard posterior).

    The marginals mark the NLSQ value and 1σ and, given the ``truth`` file of simulated data,
    the true values (:func:`homodyne.results.read_truth`); the pair plot shows the physical
    parameters of the mode that vary in the draws.  Every title ends with the dataset's verdict
    (:func:`dataset_quality`).

    Raises:
        DataFormatError: the CMC or NLSQ files are missing or malformed.
    """
    r = results.read_cmc(ds)
    head = title(r.name, r.mode, r.q, **verdict_of(ds))
    flat = r.draws.reshape(-1, r.draws.shape[-1])
    nlsq = _nlsq_reference(ds)
    try:
        physical = set(registry.names(r.mode))
    except ValueError:
        physical = {n for mode in registry.MODES for n in registry.names(mode)}
    pair = [k for k, n in enumerate(r.names) if n in physical and np.ptp(flat[:, k]) > 0]
    resampled = results.read_cmc_diagnostics(ds.cmc_diagnostics).get("method") == "importance"
    figures = {
        "cmc_trace": posterior.trace_figure(r.draws, r.names, title=head, resampled=resampled),
        "cmc_marginals": posterior.marginals_figure(
            r.draws, r.names, title=head,
            reference={n: nlsq[n] for n in r.names if n in nlsq},
            truth=results.read_truth(truth, r.names)),
        "cmc_pair": posterior.pair_figure(r.draws[..., pair], [r.names[k] for k in pair],
                                          title=head),
    }
    if np.isfinite(r.shard_means).any():  # importance sampling of shards: no shard posterior
        figures["cmc_shards"] = posterior.shards_figure(
            r.shard_means, r.shard_sds, r.shard_used, r.names, flat.mean(axis=0),
            flat.std(axis=0), title=head, reasons=r.shard_reasons)
    written = []
    for stem, fig in figures.items():
        written += save_figure(fig, layout.figure_file(out_dir, stem), svg=svg)
    return written


def plot_datasets(nlsq: list[DatasetLayout], cmc: list[DatasetLayout], out: str | Path, *,
                  svg: bool = False) -> Path:
    """Write the figure comparing the parameters of the datasets ``nlsq`` (two or more).

    Args:
        nlsq: the datasets, each with NLSQ results.
        cmc: those of them whose consensus is shown beside the NLSQ values.
        out: the PNG to write.
    """
    with_cmc = {d.name for d in cmc}
    rows = []
    for d in nlsq:
        meta = results.read_nlsq_summary(d.nlsq_json)
        fixed = frozenset(k for k, p in meta.get("parameters", {}).items() if p.get("fixed"))
        rows.append(datasets.DatasetRow(
            name=d.name, q=results.number(meta.get("q")), mode=str(meta.get("mode", "?")),
            nlsq=_nlsq_reference(d), cmc=_cmc_reference(d) if d.name in with_cmc else {},
            verdict=dataset_quality(d, cmc=d.name in with_cmc), fixed=fixed))
    return save_figure(datasets.datasets_figure(rows), Path(out), svg=svg)[0]


def plot_results(results_dir: str | Path, dataset: str | None = None, *,
                 svg: bool = False) -> list[Path]:
    """Every figure that applies to a results folder (``homodyne plot``).

    NLSQ figures for each dataset with NLSQ results, CMC figures for each with CMC results,
    and the cross-dataset comparison when two or more datasets are present and no single
    ``dataset`` was asked for.

    Raises:
        DataFormatError: ``results_dir`` is missing or holds no results, or ``dataset`` is not
            among them.
    """
    found = results.dataset_layouts(results_dir)
    if dataset is not None:
        chosen = [d for d in found if d.name == dataset]
        if not chosen:
            known = ", ".join(d.name for d in found)
            raise DataFormatError(f"{Path(results_dir) / dataset}: no results for dataset "
                                  f"{dataset!r} (datasets with results: {known})")
        found = chosen
    written = []
    for d in found:
        if d.has_nlsq():
            written += plot_nlsq(d, d.plots, svg=svg)
        if d.has_cmc():
            written += plot_cmc(d, d.plots, svg=svg, truth=truth_file(d))
        if d.has_twotime() and d.has_nlsq():
            mode = str(results.read_nlsq_summary(d.nlsq_json).get("mode", "?"))
            written += plot_twotime(d, mode=mode, svg=svg)
    fitted = [d for d in found if d.has_nlsq()]
    if dataset is None and len(fitted) >= 2:
        cross = plot_datasets(fitted, [d for d in fitted if d.has_cmc()],
                              layout.datasets_figure(results_dir), svg=svg)
        written.append(cross)
        if svg:
            written.append(cross.with_suffix(".svg"))
    return written
