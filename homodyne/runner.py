"""In-process analysis of configured datasets: what ``homodyne run`` does, step by step.

The workflow runs the same library calls as separate Snakemake jobs; this module chains
them for users without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

from homodyne.config import DatasetConfig
from homodyne.data import XPCSData, load
from homodyne.nlsq import FitResult, fit
from homodyne.outputs import parameter_table, write_nlsq

log = logging.getLogger(__name__)


def load_dataset(ds: DatasetConfig) -> XPCSData:
    """Read a configured dataset from its HDF5 file (q, angles and frames as configured)."""
    return load(ds.file, q=ds.q, dt=ds.analysis.dt, phi_ranges=ds.phi_ranges, frames=ds.frames)


def run_nlsq(ds: DatasetConfig, outdir: str | Path) -> FitResult:
    """Load, fit and write ``<outdir>/nlsq/nlsq_results.{json,npz}`` for one dataset."""
    data = load_dataset(ds)
    log.info("%s: q = %.6g 1/Å, %d angles, %d frames, %d points", ds.name, data.q, data.n_phi,
             data.n_frames, data.n_points)
    result = fit(data, ds.analysis, ds.nlsq)
    paths = write_nlsq(outdir, result, data, ds.analysis)
    log.info("%s\n%s", ds.name, parameter_table(result))
    log.info("%s: NLSQ written to %s", ds.name, ", ".join(map(str, paths)))
    return result
