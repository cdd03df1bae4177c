"""Read the result files of SPEC §8 into plain records for plotting.

Plots take arrays, never files, so they can be tested with synthetic numbers; this module is
the only place that knows the file layout.  Every problem (missing folder, missing file, a
file without the expected keys) raises :class:`~homodyne.errors.DataFormatError` naming the
path and what to do, which the CLI prints as one line with exit status 2.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homodyne.errors import DataFormatError

# The paths of homodyne.outputs, repeated rather than imported: that module pulls in the
# whole fitting stack, which plotting a finished result does not need (a test keeps them equal).
NLSQ_JSON = "nlsq/nlsq_results.json"
NLSQ_NPZ = "nlsq/nlsq_results.npz"
CMC_NPZ = "cmc/mcmc_results.npz"
CMC_PARAMETERS = "cmc/mcmc_parameters.json"
CMC_DIAGNOSTICS = "cmc/mcmc_diagnostics.json"

_NLSQ_KEYS = ("names", "parameters", "uncertainties", "phi", "t", "sigma", "c2_exp", "c2_fit")
_CMC_KEYS = ("draws", "names", "shard_means", "shard_sds", "shard_used")


@dataclass(frozen=True)
class NLSQRecord:
    """What the NLSQ plots need of one dataset.

    Attributes:
        name: dataset name (its folder name).
        mode, per_angle_mode: as fitted.  q: 1/Å.  reduced_chi2: of the fit.
        names, values, uncertainties: every fitted parameter, physical first (NaN: unknown).
        phi: angles (degrees).  t: time grid (s).  sigma: per-angle noise of one element.
        c2_exp, c2_fit: measured and fitted c2, shape ``(n_phi, N, N)``.
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


@dataclass(frozen=True)
class CMCRecord:
    """What the CMC plots need of one dataset.

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


def number(value) -> float:
    """JSON number or null -> float (null, the writer's NaN/Inf, becomes NaN)."""
    return math.nan if value is None else float(value)


def read_json(path: Path) -> dict:
    """Parse a JSON result file; DataFormatError if it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: result file not found") from exc
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable JSON result file ({exc})") from exc


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataFormatError(f"{path}: missing array(s) {', '.join(missing)}; the "
                                      f"file holds {', '.join(z.files)}")
            return {k: z[k] for k in keys}
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: result file not found") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"{path}: not a readable .npz result file ({exc})") from exc


def has_nlsq(dataset_dir: Path) -> bool:
    return (dataset_dir / NLSQ_JSON).is_file()


def has_cmc(dataset_dir: Path) -> bool:
    return (dataset_dir / CMC_NPZ).is_file()


def dataset_dirs(results_dir: str | Path) -> list[Path]:
    """Folders of ``results_dir`` holding NLSQ or CMC results, sorted by name.

    Raises:
        DataFormatError: ``results_dir`` is not a folder or holds no results.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise DataFormatError(f"{results_dir}: results folder not found; pass the --output "
                              "folder of `homodyne run`")
    found = sorted(d for d in results_dir.iterdir() if d.is_dir() and (has_nlsq(d) or has_cmc(d)))
    if not found:
        raise DataFormatError(f"{results_dir}: no dataset results inside (expected "
                              f"<dataset>/{NLSQ_JSON} or <dataset>/{CMC_NPZ})")
    return found


def nlsq_summary(dataset_dir: Path) -> dict:
    """The parsed ``nlsq/nlsq_results.json`` of one dataset (no arrays: cheap)."""
    return read_json(dataset_dir / NLSQ_JSON)


def read_nlsq(dataset_dir: str | Path, name: str | None = None) -> NLSQRecord:
    """Read one dataset's NLSQ JSON and npz; ``name`` defaults to the folder name."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DataFormatError(f"{dataset_dir}: dataset results folder not found")
    summary = nlsq_summary(dataset_dir)
    arrays = _read_npz(dataset_dir / NLSQ_NPZ, _NLSQ_KEYS)
    return NLSQRecord(
        name=name or dataset_dir.name,
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
    )


def read_cmc(dataset_dir: str | Path, name: str | None = None) -> CMCRecord:
    """Read one dataset's CMC draws and per-shard summaries.

    Mode and q come from :func:`dataset_meta`; drop reasons from ``cmc/mcmc_diagnostics.json``
    when it exists (the plot itself needs only the ``shard_used`` flags of the npz).
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DataFormatError(f"{dataset_dir}: dataset results folder not found")
    arrays = _read_npz(dataset_dir / CMC_NPZ, _CMC_KEYS)
    draws = np.asarray(arrays["draws"], dtype=np.float64)
    names = tuple(str(n) for n in arrays["names"])
    if draws.ndim != 3 or draws.shape[2] != len(names):
        raise DataFormatError(f"{dataset_dir / CMC_NPZ}: draws have shape {draws.shape}, "
                              f"expected (chains, draws, {len(names)})")
    used = np.asarray(arrays["shard_used"], dtype=bool)
    reasons: list[str | None] = [None if u else "dropped" for u in used]
    if (dataset_dir / CMC_DIAGNOSTICS).is_file():
        for shard in read_json(dataset_dir / CMC_DIAGNOSTICS).get("shards", []):
            k = shard.get("index")
            if isinstance(k, int) and 0 <= k < len(reasons) and not used[k]:
                reasons[k] = shard.get("reason") or "dropped"
    mode, q = dataset_meta(dataset_dir)
    return CMCRecord(
        name=name or dataset_dir.name, mode=mode, q=q, names=names, draws=draws,
        shard_means=np.asarray(arrays["shard_means"], dtype=np.float64),
        shard_sds=np.asarray(arrays["shard_sds"], dtype=np.float64),
        shard_used=used, shard_reasons=tuple(reasons),
    )


def dataset_meta(dataset_dir: Path) -> tuple[str, float]:
    """``(mode, q)`` of a dataset from its NLSQ JSON or, without one, its CMC JSON.

    ``("?", nan)`` when neither says: titles then show the gap instead of failing.
    """
    meta: dict = {}
    for source in (dataset_dir / NLSQ_JSON, dataset_dir / CMC_PARAMETERS):
        if source.is_file():
            meta = {**read_json(source), **meta}
    return str(meta.get("mode", "?")), number(meta.get("q"))


def cmc_summary(dataset_dir: Path) -> dict[str, tuple[float, float]]:
    """Posterior ``{name: (mean, sd)}`` of one dataset, or ``{}`` without CMC results."""
    path = dataset_dir / CMC_PARAMETERS
    if not path.is_file():
        return {}
    return {name: (number(p.get("mean")), number(p.get("sd")))
            for name, p in read_json(path).get("parameters", {}).items()}
