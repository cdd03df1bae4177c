"""Read a dataset's result files into plain records for plotting.

Plots take arrays, never files, so they can be tested with synthetic numbers; this module
reads the files that :mod:`homodyne.layout` names, and nothing else.  Every problem (missing
folder, missing file, a file without the expected keys) raises
:class:`~homodyne.errors.DataFormatError` naming the path and what to do, which the CLI prints
as one line with exit status 2.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homodyne import layout
from homodyne.errors import DataFormatError
from homodyne.layout import DatasetLayout

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


def read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an npz result file; DataFormatError naming it if it is missing,
    unreadable or lacks one."""
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


def nlsq_summary(ds: DatasetLayout) -> dict:
    """The parsed ``nlsq_results.json`` of one dataset (no arrays: cheap)."""
    return read_json(Path(ds.nlsq_json))


def read_nlsq(ds: DatasetLayout) -> NLSQRecord:
    """Read one dataset's NLSQ JSON and npz."""
    summary = nlsq_summary(ds)
    arrays = read_npz(Path(ds.nlsq_npz), _NLSQ_KEYS)
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


_ONE_TIME_KEYS = ("phi", "tau", "g2", "g2_err", "g2_model", "q")
_AGEING_KEYS = ("phi", "age", "age_edges", "decay_time", "decay_time_model", "q")


def read_twotime(ds: DatasetLayout) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The arrays of ``one_time.npz`` and ``ageing.npz`` the figures draw."""
    return (read_npz(Path(ds.one_time), _ONE_TIME_KEYS),
            read_npz(Path(ds.ageing), _AGEING_KEYS))


def read_cmc(ds: DatasetLayout) -> CMCRecord:
    """Read one dataset's CMC draws and per-shard summaries, with the reasons for dropped
    shards from ``mcmc_diagnostics.json``; mode and q from ``nlsq_results.json`` (the NLSQ fit
    every consensus starts from)."""
    arrays = read_npz(Path(ds.cmc_npz), _CMC_KEYS)
    draws = np.asarray(arrays["draws"], dtype=np.float64)
    names = tuple(str(n) for n in arrays["names"])
    if draws.ndim != 3 or draws.shape[2] != len(names):
        raise DataFormatError(f"{ds.cmc_npz}: draws have shape {draws.shape}, "
                              f"expected (chains, draws, {len(names)})")
    used = np.asarray(arrays["shard_used"], dtype=bool)
    reasons: list[str | None] = [None if u else "dropped" for u in used]
    for shard in read_json(Path(ds.cmc_diagnostics)).get("shards", []):
        k = shard.get("index")
        if isinstance(k, int) and 0 <= k < len(reasons) and not used[k]:
            reasons[k] = shard.get("reason") or "dropped"
    meta = nlsq_summary(ds)
    return CMCRecord(
        name=ds.name, mode=str(meta.get("mode", "?")), q=number(meta.get("q")), names=names,
        draws=draws,
        shard_means=np.asarray(arrays["shard_means"], dtype=np.float64),
        shard_sds=np.asarray(arrays["shard_sds"], dtype=np.float64),
        shard_used=used, shard_reasons=tuple(reasons),
    )


def cmc_summary(ds: DatasetLayout) -> dict[str, tuple[float, float]]:
    """Posterior ``{name: (mean, sd)}`` of one dataset."""
    return {name: (number(p.get("mean")), number(p.get("sd")))
            for name, p in read_json(Path(ds.cmc_parameters)).get("parameters", {}).items()}
