"""One function per workflow step, from input files to output files.

The Snakemake rules call these through their short scripts (one job per step and shard),
and ``homodyne run`` calls the same functions in one process, so both produce the same
files.  Every file is written atomically by the functions underneath.
"""

from __future__ import annotations

import json
import logging
import platform
from contextlib import contextmanager
from pathlib import Path

import homodyne
from homodyne.config import DatasetConfig, parse_config
from homodyne.data import load, read_xpcs, select_angles, write_xpcs
from homodyne.io import sha256_file, write_json
from homodyne.nlsq import FitResult, fit
from homodyne.outputs import NLSQ_JSON, parameter_table, write_cmc, write_nlsq

log = logging.getLogger(__name__)


@contextmanager
def logged(path: str | Path | None):
    """Send the package's log records to ``path`` (a rule's ``log:``) while a step runs."""
    if path is None:
        yield
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
    """Read the dataset's q ring and frame window (all angles) into an intermediate file."""
    data = load(ds.file, q=ds.q, dt=ds.analysis.dt, frames=ds.frames)
    log.info("%s: q = %.6g 1/Å, %d angles, %d frames from %s", ds.name, data.q, data.n_phi,
             data.n_frames, ds.file)
    return write_xpcs(out, data)


def filter_step(ds: DatasetConfig, loaded: str | Path, out: str | Path) -> Path:
    """Keep the configured angles (``phi_ranges``)."""
    data = select_angles(read_xpcs(loaded), ds.phi_ranges)
    log.info("%s: %d angles kept: %s", ds.name, data.n_phi,
             ", ".join(f"{p:g}" for p in data.phi))
    return write_xpcs(out, data)


def fit_and_write(ds: DatasetConfig, data, outdir: str | Path) -> FitResult:
    """Fit ``data``; write ``nlsq/nlsq_results.{json,npz}`` under ``outdir``; log the table."""
    result = fit(data, ds.analysis, ds.nlsq)
    paths = write_nlsq(outdir, result, data, ds.analysis)
    log.info("%s\n%s", ds.name, parameter_table(result))
    log.info("%s: NLSQ written to %s", ds.name, ", ".join(map(str, paths)))
    return result


def nlsq_step(ds: DatasetConfig, filtered: str | Path, outdir: str | Path) -> FitResult:
    """Fit the filtered data (see :func:`fit_and_write`)."""
    return fit_and_write(ds, read_xpcs(filtered), outdir)


def shard_step(ds: DatasetConfig, filtered: str | Path, nlsq_json: str | Path,
               outdir: str | Path) -> list[Path]:
    """Split the filtered data into shard files with priors from the NLSQ result."""
    from homodyne.cmc import make_shards, read_nlsq_estimate

    estimate = read_nlsq_estimate(nlsq_json)
    paths = make_shards(read_xpcs(filtered), estimate, ds.cmc, outdir, analysis=ds.analysis)
    log.info("%s: %d shards in %s", ds.name, len(paths), outdir)
    return paths


def nuts_step(ds: DatasetConfig, shard: str | Path, out: str | Path, *,
              cache_dir: str | Path | None = None) -> Path:
    """NUTS on one shard file; the posterior is written to ``out``."""
    from homodyne.cmc import sample_shard

    return sample_shard(shard, ds.cmc, out, cache_dir=cache_dir)


def combine_step(ds: DatasetConfig, posteriors, outdir: str | Path):
    """Consensus of the shard posteriors; the four CMC result files under ``outdir``.

    Returns:
        The :class:`homodyne.cmc.ConsensusResult`.
    """
    from homodyne.cmc import combine

    result = combine(posteriors, ds.cmc)
    paths = write_cmc(outdir, result)
    log.info("%s: CMC used %d of %d shards; written to %s", ds.name, result.n_shards_used,
             result.n_shards, ", ".join(map(str, paths)))
    return result


def plot_step(ds: DatasetConfig, dataset_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """All figures of one dataset (CMC figures when its consensus exists)."""
    from homodyne.plots import plot_cmc, plot_nlsq

    paths = plot_nlsq(dataset_dir, out_dir, name=ds.name)
    if (Path(dataset_dir) / "cmc" / "mcmc_results.npz").exists():
        paths += plot_cmc(dataset_dir, out_dir, name=ds.name)
    log.info("%s: %d figures in %s", ds.name, len(paths), out_dir)
    return paths


def plot_datasets_step(results_dir: str | Path, out: str | Path) -> Path:
    """Physical parameters against dataset, for runs with several datasets."""
    from homodyne.plots import plot_datasets

    made = plot_datasets(results_dir, Path(out).parent)
    log.info("parameters across datasets: %s", made)
    return made


def summary_step(ds: DatasetConfig, dataset_dir: str | Path, out: str | Path,
                 config_raw: dict) -> Path:
    """``analysis_summary.json``: NLSQ and CMC side by side, timings and provenance."""
    dataset_dir = Path(dataset_dir)
    nlsq = json.loads((dataset_dir / NLSQ_JSON).read_text())
    cmc_file = dataset_dir / "cmc" / "mcmc_parameters.json"
    diag_file = dataset_dir / "cmc" / "mcmc_diagnostics.json"
    cmc = json.loads(cmc_file.read_text()) if cmc_file.exists() else None
    diagnostics = json.loads(diag_file.read_text()) if diag_file.exists() else None
    parameters = {}
    for name, entry in nlsq["parameters"].items():
        row = {"nlsq_value": entry["value"], "nlsq_uncertainty": entry["uncertainty"]}
        if cmc and name in cmc["parameters"]:
            row.update({f"cmc_{k}": v for k, v in cmc["parameters"][name].items()})
        parameters[name] = row
    import jax
    import numpyro

    summary = {
        "dataset": ds.name,
        "mode": nlsq["mode"],
        "q": nlsq["q"],
        "parameters": parameters,
        "nlsq": {k: nlsq[k] for k in ("success", "message", "reduced_chi2", "chi2", "dof",
                                      "iterations", "seconds", "strategy")},
        "cmc": None if cmc is None else {
            "n_shards": cmc.get("n_shards"), "n_shards_used": cmc.get("n_shards_used"),
            "overall": (diagnostics or {}).get("overall"),
            "seconds": sum(s.get("seconds") or 0.0 for s in (diagnostics or {}).get(
                "shards", [])),
        },
        "provenance": {
            "input_file": str(ds.file),
            "input_sha256": sha256_file(ds.file),
            "config": config_raw,
            "seed": {"nlsq": ds.nlsq.seed, "cmc": getattr(ds.cmc, "seed", None)},
            "versions": {"homodyne": homodyne.__version__, "jax": jax.__version__,
                         "numpyro": numpyro.__version__, "python": platform.python_version()},
        },
    }
    return write_json(out, summary)
