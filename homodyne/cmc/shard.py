"""Sharding (docs/physics.md): split a dataset's points into K self-contained HDF5 shard files.

A shard file holds everything one NUTS job needs and nothing it has to look up elsewhere:
its points ``(i, j, p, y)``, the time grid and angles, ``q, dt, L``, the mode, the per-angle
scaling layout, parameter names and bounds, the NLSQ values (fixed parameters stay at them),
the tempered priors, the per-angle noise, its own seed and provenance.  A shard job can
therefore run on any node, in any order, and be rerun alone.

Points are the off-diagonal upper triangle of every angle (what NLSQ fits).  Each angle's
points are shuffled (seeded) and dealt round-robin over the shards, so every shard sees every
angle and every lag range, and shard sizes differ by at most one point.  All shards of a run
are padded to the same length when sampled (:attr:`Shard.pad_to`), so they compile to one
program and the persistent compilation cache serves shards 2..K.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from homodyne import __version__
from homodyne import params as registry
from homodyne.cmc.priors import prior_scale, temper
from homodyne.config import AnalysisConfig, CMCConfig
from homodyne.data import XPCSData
from homodyne.data.readers import open_hdf5
from homodyne.errors import DataFormatError, FitError
from homodyne.io import write_atomic
from homodyne.nlsq import build_problem
from homodyne.physics import AngleScaling, compute_c2_points

FORMAT = "homodyne-cmc-shard"
FORMAT_VERSION = 1
AUTO_POINTS_PER_SHARD = {"static": 20_000, "laminar_flow": 6_000, "heterodyne": 2_500}
"""``points_per_shard: auto`` by mode: about a minute per shard job with the default 4 chains
× (500 + 500) iterations on a 2-core VM (benchmarks/cmc.py).  NUTS cost grows linearly
with points; one laminar_flow gradient costs ~3.6 and one heterodyne gradient ~8.8 static
ones, and larger shards make the consensus more exact, so shards are as large as that
budget allows."""

_ARRAYS = ("free", "values", "nlsq_uncertainty", "lower", "upper", "prior_loc", "prior_scale",
           "prior_scale_untempered", "t", "phi", "sigma", "i", "j", "p", "y")
_SCALING = ("basis", "fixed_contrast", "fixed_offset")
_ATTRS = ("index", "n_shards", "seed", "global_seed", "mode", "names", "n_physical", "q", "dt",
          "L", "pad_to", "per_angle_requested", "per_angle_effective", "scaling_names")


@dataclass(frozen=True, eq=False)
class Shard:
    """One shard: its points and the model, priors and seed to sample them with.

    Parameter arrays (``free``, ``values``, ``nlsq_uncertainty``, ``lower``, ``upper``,
    ``prior_*``) are in the NLSQ layout ``[physical, scaling]`` of ``names``; only ``free``
    entries are sampled.
    ``prior_scale`` is the tempered sd (``√n_shards ×`` ``prior_scale_untempered``).
    """

    index: int
    n_shards: int
    seed: int
    global_seed: int
    mode: str
    names: tuple[str, ...]
    n_physical: int
    free: np.ndarray
    values: np.ndarray
    nlsq_uncertainty: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    prior_loc: np.ndarray
    prior_scale: np.ndarray
    prior_scale_untempered: np.ndarray
    t: np.ndarray
    phi: np.ndarray
    q: float
    dt: float
    L: float
    sigma: np.ndarray
    scaling: AngleScaling
    i: np.ndarray
    j: np.ndarray
    p: np.ndarray
    y: np.ndarray
    pad_to: int
    provenance: dict

    @property
    def n_points(self) -> int:
        return len(self.y)

    @property
    def free_names(self) -> tuple[str, ...]:
        return tuple(n for n, f in zip(self.names, self.free, strict=True) if f)

    def model_c2(self, full, i, j, p):
        """Model c2 at points ``(i, j, p)`` for a full parameter vector (JAX-traceable).

        The same path as NLSQ: :meth:`AngleScaling.expand` then ``compute_c2_points``.
        """
        contrast, offset = self.scaling.expand(full[self.n_physical:])
        return compute_c2_points(self.mode, full[: self.n_physical], self.t, self.phi, i, j, p,
                                 q=self.q, dt=self.dt, L=self.L, contrast=contrast,
                                 offset=offset)


def shard_seed(global_seed: int, index: int) -> int:
    """NUTS seed of shard ``index``: independent streams from one global seed."""
    return int(np.random.SeedSequence([global_seed, index]).generate_state(1)[0])


def resolve_points_per_shard(cfg: CMCConfig, mode: str) -> int:
    """``cfg.points_per_shard``, or the measured default of ``mode`` when it is ``auto``."""
    if cfg.points_per_shard == "auto":
        return AUTO_POINTS_PER_SHARD[registry.canonical_mode(mode)]
    return int(cfg.points_per_shard)


def balanced_split(p: np.ndarray, n_shards: int, seed: int) -> list[np.ndarray]:
    """Indices of each shard: every angle shuffled and dealt round-robin, continuing the deal
    across angles so shard sizes differ by at most one.  Each index appears exactly once;
    each shard's indices are sorted (angle-major, as the points come)."""
    rng = np.random.default_rng(seed)
    owner = np.empty(len(p), dtype=np.int64)
    dealt = 0
    for angle in np.unique(p):
        idx = rng.permutation(np.flatnonzero(p == angle))
        owner[idx] = (dealt + np.arange(len(idx))) % n_shards
        dealt += len(idx)
    return [np.flatnonzero(owner == k) for k in range(n_shards)]


def _check_estimate(problem, estimate) -> None:
    if tuple(estimate.names) != problem.names:
        raise FitError(f"NLSQ result has parameters {tuple(estimate.names)} but this dataset "
                       f"and config give {problem.names}; refit NLSQ with the same config")
    if not np.array_equal(np.asarray(estimate.free, bool), problem.free):
        raise FitError("NLSQ result fixed other parameters than the config's analysis.fixed; "
                       "refit NLSQ with the same config")
    if not np.all(np.isfinite(estimate.values)):
        raise FitError(f"NLSQ values are not all finite ({estimate.values}); CMC priors are "
                       "centred on them, so fix the NLSQ fit first")


def make_shards(data: XPCSData, nlsq_result, cfg: CMCConfig, outdir: str | Path, *,
                analysis: AnalysisConfig) -> list[Path]:
    """Split ``data`` into shard files ``outdir/shard_XXX.h5`` and return their paths.

    Args:
        data: the dataset (the same one NLSQ fitted).
        nlsq_result: a :class:`homodyne.nlsq.FitResult` or
            :class:`homodyne.cmc.priors.NLSQEstimate` (names, values, uncertainties, free).
        cfg: the ``cmc`` settings (points per shard, prior width, seed).
        outdir: folder of the shard files; shard files of an earlier run with more shards
            are removed so a folder listing shows exactly this run's shards.
        analysis: the analysis settings NLSQ used (mode, scaling, bounds, fixed, sigma).

    Raises:
        FitError: the NLSQ result does not belong to this dataset and config.
    """
    problem = build_problem(data, analysis)
    _check_estimate(problem, nlsq_result)
    n_shards = max(1, round(problem.n_points / resolve_points_per_shard(cfg, problem.mode)))
    parts = balanced_split(problem.p, n_shards, cfg.seed)
    untempered = prior_scale(nlsq_result.uncertainties, problem.lower, problem.upper,
                             cfg.prior_width)
    first_of_angle = np.searchsorted(problem.p, np.arange(len(problem.phi)))
    common = {
        "n_shards": n_shards, "global_seed": cfg.seed, "mode": problem.mode,
        "names": problem.names, "n_physical": problem.n_physical, "free": problem.free,
        "values": np.asarray(nlsq_result.values, np.float64),
        "nlsq_uncertainty": np.asarray(nlsq_result.uncertainties, np.float64),
        "lower": problem.lower,
        "upper": problem.upper, "prior_loc": np.asarray(nlsq_result.values, np.float64),
        "prior_scale": temper(untempered, n_shards), "prior_scale_untempered": untempered,
        "t": problem.t, "phi": problem.phi, "q": problem.q, "dt": problem.dt, "L": problem.L,
        "sigma": 1.0 / problem.weight[first_of_angle], "scaling": problem.scaling,
        "pad_to": max(len(part) for part in parts),
        "provenance": {"source": data.provenance.source, "sha256": data.provenance.sha256,
                       "homodyne_version": __version__},
    }
    outdir = Path(outdir)
    paths = []
    for k, part in enumerate(parts):
        shard = Shard(index=k, seed=shard_seed(cfg.seed, k), i=problem.i[part],
                      j=problem.j[part], p=problem.p[part], y=problem.y[part], **common)
        paths.append(write_shard(outdir / f"shard_{k:03d}.h5", shard))
    for stale in set(outdir.glob("shard_*.h5")) - set(paths):
        stale.unlink()
    return paths


def write_shard(path: str | Path, shard: Shard) -> Path:
    """Write one shard atomically (arrays as datasets, scalars and names as attributes)."""

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            for name in _ARRAYS:
                fh.create_dataset(name, data=np.asarray(getattr(shard, name)), track_times=False)
            group = fh.create_group("scaling", track_order=True)
            for name in _SCALING:
                group.create_dataset(name, data=np.asarray(getattr(shard.scaling, name),
                                                           np.float64), track_times=False)
            fh.attrs.update({
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "index": shard.index, "n_shards": shard.n_shards, "seed": shard.seed,
                "global_seed": shard.global_seed, "mode": shard.mode,
                "names": list(shard.names), "n_physical": shard.n_physical,
                "q": shard.q, "dt": shard.dt, "L": shard.L, "pad_to": shard.pad_to,
                "n_points": shard.n_points,
                "per_angle_requested": shard.scaling.requested,
                "per_angle_effective": shard.scaling.effective,
                "scaling_names": list(shard.scaling.names) or [""],
                **{f"provenance_{k}": v for k, v in shard.provenance.items()},
            })

    return write_atomic(path, write)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_shard(path: str | Path) -> Shard:
    """Read a shard file written by :func:`write_shard`.

    Raises:
        DataFormatError: missing or non-HDF5 file, not a shard file, missing entries.
    """
    path = Path(path)
    remedy = (f"it is damaged or incomplete (a killed job, a full disk): delete the folder "
              f"{path.parent} and run the same command again to remake the shards")
    with open_hdf5(path, "a CMC shard file written by homodyne.cmc.make_shards",
                   remedy) as fh:
        if _text(fh.attrs.get("format", "")) != FORMAT:
            raise DataFormatError(f"{path}: not a CMC shard file (root attribute 'format' is "
                                  f"not {FORMAT!r}); make shards with homodyne.cmc.make_shards")
        missing = ([n for n in _ARRAYS if n not in fh] + [f"scaling/{n}" for n in _SCALING
                                                          if f"scaling/{n}" not in fh]
                   + [n for n in _ATTRS if n not in fh.attrs])
        if missing:
            raise DataFormatError(f"{path}: shard file lacks {', '.join(missing)}; "
                                  "remake the shards")
        a = {k: fh.attrs[k] for k in _ATTRS}
        arrays = {n: fh[n][()] for n in _ARRAYS}
        sc = {n: fh[f"scaling/{n}"][()] for n in _SCALING}
        provenance = {k.removeprefix("provenance_"): _text(v) for k, v in fh.attrs.items()
                      if k.startswith("provenance_")}
    names = tuple(_text(n) for n in a["names"])
    n_phys = int(a["n_physical"])
    scaling = AngleScaling(
        requested=_text(a["per_angle_requested"]), effective=_text(a["per_angle_effective"]),
        names=tuple(_text(n) for n in a["scaling_names"] if _text(n)),
        basis=sc["basis"].reshape(len(arrays["phi"]), -1),
        fixed_contrast=sc["fixed_contrast"], fixed_offset=sc["fixed_offset"],
        initial=arrays["values"][n_phys:], lower=arrays["lower"][n_phys:],
        upper=arrays["upper"][n_phys:],
    )
    return Shard(
        index=int(a["index"]), n_shards=int(a["n_shards"]), seed=int(a["seed"]),
        global_seed=int(a["global_seed"]), mode=_text(a["mode"]), names=names,
        n_physical=n_phys, free=arrays.pop("free").astype(bool), scaling=scaling,
        q=float(a["q"]), dt=float(a["dt"]), L=float(a["L"]), pad_to=int(a["pad_to"]),
        provenance=provenance, **arrays,
    )

