"""Read result folders and write every figure that applies: what ``homodyne plot`` runs.

File layout (all names fixed, so scripts and the workflow can find them)::

    <results_dir>/<dataset>/plots/c2_phi_<angle>.png   one per angle, e.g. c2_phi_+045.0.png
    <results_dir>/<dataset>/plots/c2_overview.png      all angles, data above / fit below
    <results_dir>/<dataset>/plots/c2_cuts.png          c2 along constant-lag lines
    <results_dir>/<dataset>/plots/residual_histogram.png
    <results_dir>/<dataset>/plots/cmc_trace.png        (with CMC results)
    <results_dir>/<dataset>/plots/cmc_marginals.png
    <results_dir>/<dataset>/plots/cmc_pair.png
    <results_dir>/<dataset>/plots/cmc_shards.png
    <results_dir>/plots/datasets_parameters.png        (with two or more datasets)

``<angle>`` is signed, zero-padded, one decimal (:func:`~homodyne.plots.figure.angle_tag`).
With ``svg=True`` an ``.svg`` of the same name is written beside each PNG.  Figures live
beside the results they show, so copying a dataset folder keeps its plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from homodyne import params as registry
from homodyne.errors import DataFormatError
from homodyne.plots import c2, datasets, files, posterior
from homodyne.plots.figure import angle_tag, save_figure, title

PLOTS = "plots"


def _out_dir(dataset_dir: Path, out_dir) -> Path:
    return Path(out_dir) if out_dir is not None else dataset_dir / PLOTS


def plot_nlsq(dataset_dir: str | Path, out_dir: str | Path | None = None, *,
              name: str | None = None, svg: bool = False) -> list[Path]:
    """Write the NLSQ figures of one dataset: per-angle heatmaps, overview, cuts, histogram.

    Args:
        dataset_dir: ``<results_dir>/<dataset>`` holding ``nlsq/nlsq_results.{json,npz}``.
        out_dir: where to write (default ``<dataset_dir>/plots``).
        name: dataset name in titles (default the folder name).
        svg: also write SVG files.

    Returns:
        The written files.

    Raises:
        DataFormatError: the folder or its NLSQ files are missing or malformed.
    """
    dataset_dir = Path(dataset_dir)
    r = files.read_nlsq(dataset_dir, name)
    out = _out_dir(dataset_dir, out_dir)
    head = title(r.name, r.mode, r.q)
    written = []
    panels = c2.AnglePanels(r.t)
    for p, phi in enumerate(r.phi):
        fig = panels.show(r.c2_exp[p], r.c2_fit[p], r.sigma[p],
                          title=title(r.name, r.mode, r.q, phi))
        written += save_figure(fig, out / f"c2_phi_{angle_tag(phi)}.png", svg=svg)
    figures = {
        "c2_overview": c2.c2_overview_figure(r.t, r.phi, r.c2_exp, r.c2_fit, r.sigma,
                                             title=head),
        "c2_cuts": c2.c2_cuts_figure(r.t, r.phi, r.c2_exp, r.c2_fit, r.sigma, title=head),
        "residual_histogram": c2.residual_histogram_figure(
            r.c2_exp, r.c2_fit, r.sigma, title=f"{head} · χ²ᵣ = {r.reduced_chi2:.4g}"),
    }
    for stem, fig in figures.items():
        written += save_figure(fig, out / f"{stem}.png", svg=svg)
    return written


def _nlsq_reference(dataset_dir: Path) -> dict[str, tuple[float, float]]:
    """NLSQ ``{name: (value, sd)}`` of a dataset, ``{}`` without NLSQ results."""
    if not files.has_nlsq(dataset_dir):
        return {}
    return {k: (files.number(p.get("value")), files.number(p.get("uncertainty")))
            for k, p in files.nlsq_summary(dataset_dir).get("parameters", {}).items()}


def plot_cmc(dataset_dir: str | Path, out_dir: str | Path | None = None, *,
             name: str | None = None, svg: bool = False) -> list[Path]:
    """Write the CMC figures of one dataset: traces, marginals, pair plot, shards.

    The marginals mark the NLSQ value and 1σ when ``nlsq/nlsq_results.json`` exists; the pair
    plot shows the physical parameters of the mode that vary in the draws.

    Raises:
        DataFormatError: the folder or its CMC files are missing or malformed.
    """
    dataset_dir = Path(dataset_dir)
    r = files.read_cmc(dataset_dir, name)
    out = _out_dir(dataset_dir, out_dir)
    head = title(r.name, r.mode, r.q)
    flat = r.draws.reshape(-1, r.draws.shape[-1])
    nlsq = _nlsq_reference(dataset_dir)
    try:
        physical = set(registry.names(r.mode))
    except ValueError:
        physical = {n for mode in registry.MODES for n in registry.names(mode)}
    pair = [k for k, n in enumerate(r.names) if n in physical and np.ptp(flat[:, k]) > 0]
    figures = {
        "cmc_trace": posterior.trace_figure(r.draws, r.names, title=head),
        "cmc_marginals": posterior.marginals_figure(
            r.draws, r.names, title=head,
            reference={n: nlsq[n] for n in r.names if n in nlsq}),
        "cmc_pair": posterior.pair_figure(r.draws[..., pair], [r.names[k] for k in pair],
                                          title=head),
        "cmc_shards": posterior.shards_figure(
            r.shard_means, r.shard_sds, r.shard_used, r.names, flat.mean(axis=0),
            flat.std(axis=0), title=head, reasons=r.shard_reasons),
    }
    written = []
    for stem, fig in figures.items():
        written += save_figure(fig, out / f"{stem}.png", svg=svg)
    return written


def plot_datasets(results_dir: str | Path, out_dir: str | Path | None = None, *,
                  svg: bool = False) -> Path | None:
    """Write ``<results_dir>/plots/datasets_parameters.png`` comparing the datasets.

    Returns:
        The PNG path, or ``None`` when fewer than two datasets have results (nothing to
        compare).
    """
    results_dir = Path(results_dir)
    rows = []
    for d in files.dataset_dirs(results_dir):
        mode, q = files.dataset_meta(d)
        rows.append(datasets.DatasetRow(name=d.name, q=q, mode=mode, nlsq=_nlsq_reference(d),
                                        cmc=files.cmc_summary(d)))
    if len(rows) < 2:
        return None
    out = Path(out_dir) if out_dir is not None else results_dir / PLOTS
    fig = datasets.datasets_figure(rows)
    return save_figure(fig, out / "datasets_parameters.png", svg=svg)[0]


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
    found = files.dataset_dirs(results_dir)
    if dataset is not None:
        found = [d for d in found if d.name == dataset]
        if not found:
            known = ", ".join(d.name for d in files.dataset_dirs(results_dir))
            raise DataFormatError(f"{Path(results_dir) / dataset}: no results for dataset "
                                  f"{dataset!r} (datasets with results: {known})")
    written = []
    for d in found:
        if files.has_nlsq(d):
            written += plot_nlsq(d, svg=svg)
        if files.has_cmc(d):
            written += plot_cmc(d, svg=svg)
    if dataset is None and (cross := plot_datasets(results_dir, svg=svg)) is not None:
        written.append(cross)
        if svg:
            written.append(cross.with_suffix(".svg"))
    return written
