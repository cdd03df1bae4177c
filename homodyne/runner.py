"""In-process analysis of configured datasets: what ``homodyne run`` does, step by step.

The workflow runs the same library calls as separate Snakemake jobs; this module chains
them for users without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

from homodyne import steps
from homodyne.config import DatasetConfig
from homodyne.data import XPCSData, load
from homodyne.nlsq import FitResult, fit

log = logging.getLogger(__name__)


def load_dataset(ds: DatasetConfig) -> XPCSData:
    """Read a configured dataset from its HDF5 file (q, angles and frames as configured)."""
    return load(ds.file, q=ds.q, dt=ds.analysis.dt, phi_ranges=ds.phi_ranges, frames=ds.frames)


def run_nlsq(ds: DatasetConfig, outdir: str | Path) -> FitResult:
    """Load, fit and write ``<outdir>/nlsq/nlsq_results.{json,npz}`` for one dataset."""
    data = load_dataset(ds)
    log.info("%s: q = %.6g 1/Å, %d angles, %d frames, %d points", ds.name, data.q, data.n_phi,
             data.n_frames, data.n_points)
    return steps.fit_and_write(ds, data, outdir)


def run_cmc(ds: DatasetConfig, outdir: str | Path, *, data: XPCSData | None = None,
            nlsq_result: FitResult | None = None, cache_dir: str | Path | None = None):
    """Consensus Monte Carlo of one dataset, every step in this process, same files as the
    workflow: ``<outdir>/cmc/shards/shard_XXX.h5``, ``<outdir>/cmc/posteriors/
    posterior_XXX.nc``, then the four result files of :func:`homodyne.outputs.write_cmc`.

    Args:
        ds: the dataset and its settings.
        outdir: the dataset's output folder.
        data: the loaded dataset; read from ``ds.file`` when None.
        nlsq_result: the NLSQ fit giving priors and start; fitted here when None (its
            result files are then not written: the priors are recorded in the shard files).
        cache_dir: JAX persistent compilation cache; shards 2..K reuse shard 1's program.

    Returns:
        The :class:`homodyne.cmc.ConsensusResult`.
    """
    from homodyne.cmc import make_shards  # NumPyro loads only for CMC

    outdir = Path(outdir)
    data = load_dataset(ds) if data is None else data
    if nlsq_result is None:
        log.info("%s: NLSQ fit for the CMC priors", ds.name)
        nlsq_result = fit(data, ds.analysis, ds.nlsq)
    shards = make_shards(data, nlsq_result, ds.cmc, outdir / "cmc" / "shards",
                         analysis=ds.analysis)
    log.info("%s: %d points in %d shards", ds.name, data.n_points, len(shards))
    posteriors = []
    for k, shard in enumerate(shards):
        out = outdir / "cmc" / "posteriors" / f"posterior_{k:03d}.nc"
        posteriors.append(steps.nuts_step(ds, shard, out, cache_dir=cache_dir))
    for stale in set((outdir / "cmc" / "posteriors").glob("posterior_*.nc")) - set(posteriors):
        stale.unlink()
    return steps.combine_step(ds, posteriors, outdir)
