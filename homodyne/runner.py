"""``homodyne run``: the workflow's steps, in the workflow's order, on the workflow's files,
in one process for users without Snakemake.

Each dataset goes through :mod:`homodyne.steps` exactly as the Snakemake rules chain them
(load, filter, nlsq, twotime, shard, nuts per shard, combine, plot, summary, tables), with
the paths of :mod:`homodyne.layout`, so both drivers give the same result files.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from homodyne import layout, steps
from homodyne.config import DatasetConfig
from homodyne.data.simulate import existing_truth
from homodyne.nlsq import FitResult

log = logging.getLogger(__name__)


def without_cmc(ds: DatasetConfig) -> DatasetConfig:
    """``ds`` with CMC switched off (``homodyne run --method nlsq``)."""
    return replace(ds, cmc=replace(ds.cmc, enable=False))


def run_dataset(ds: DatasetConfig, root: str | Path, plots: Mapping | None = None) -> FitResult:
    """Every step of one dataset; CMC steps when ``ds.cmc.enable``; figures (those of the
    model-free views included) unless ``plots`` is None.

    Returns:
        The NLSQ fit.
    """
    out = layout.dataset(root, ds.name)
    steps.load_step(ds, out.loaded)
    steps.filter_step(ds, out.loaded, out.filtered)
    Path(out.loaded).unlink()  # temporary, as in the workflow
    result = steps.nlsq_step(ds, out.filtered, out)
    steps.twotime_step(ds, out.filtered, out.nlsq_npz, out)
    if ds.cmc.enable:
        if not result.success:
            log.warning("%s: NLSQ did not converge (%s); CMC priors are centred on its last "
                        "values", ds.name, result.message)
        shards = steps.shard_step(ds, out.filtered, out.nlsq_json, out.shards)
        posteriors = [steps.nuts_step(ds, shard, out.posterior(k))
                      for k, shard in zip(layout.shard_indices(shards), shards, strict=True)]
        for stale in set(Path(out.posteriors).glob("*")) - {Path(p) for p in posteriors}:
            stale.unlink()
        steps.combine_step(ds, posteriors, shards, out)
    if plots is not None:
        shutil.rmtree(out.plots, ignore_errors=True)  # the workflow's plot output is a folder
        steps.plot_step(ds, out, out.plots, plots, truth=existing_truth(ds.file))
    steps.summary_step(ds, out, out.summary)
    steps.tables_step(out)
    return result


def run(datasets: Sequence[DatasetConfig], root: str | Path,
        plots: Mapping | None = None) -> list[str]:
    """:func:`run_dataset` for each dataset, then the cross-dataset figure (with ``plots``
    and two or more datasets) and the table of every dataset's verdict, as the workflow.

    Returns:
        The names of the datasets whose NLSQ fit did not converge.
    """
    failed = [ds.name for ds in datasets if not run_dataset(ds, root, plots).success]
    results = [layout.dataset(root, ds.name) for ds in datasets]
    if plots is not None and len(datasets) > 1:
        steps.plot_datasets_step(datasets, results, layout.datasets_figure(root), plots)
    steps.verdicts_step(results, {ds.name: ds.cmc.enable for ds in datasets},
                        layout.verdicts_table(root, [ds.name for ds in datasets]))
    return failed
