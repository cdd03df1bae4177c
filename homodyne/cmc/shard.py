"""Sharding (docs/physics.md): split a dataset into K self-contained HDF5 shard files.

A shard file holds everything one NUTS job needs and nothing it has to look up elsewhere:
its part of the dataset's least-squares :class:`homodyne.problem.Problem` (the same points,
parameters, bounds, scaling and noise NLSQ fitted), the NLSQ values and covariance, the
tempered priors, its own seed and provenance.  A shard job can therefore run on any node, in
any order, and be rerun alone.

A shard is a dense block: whole rows of the folded upper triangle
(:func:`homodyne.physics.folded_triangle`) at every angle, rows dealt round-robin
(interleaved) over the shards, so every shard sees every angle, every lag and the whole
time range, and shard sizes differ by at most one row.  One shard (``cmc.shards: 1``) is
the whole dataset: full-data NUTS through the same shard -> NUTS -> combine steps.  All
shards of a run are padded to the same number of rows when sampled (:attr:`Shard.pad_to`),
so they compile to one program and the persistent compilation cache serves shards 2..K.

The shard step also decides the posterior method (:func:`homodyne.problem.choose_method`,
with the NLSQ fit's proposal): NUTS, or
importance sampling from the NLSQ optimum (:mod:`homodyne.cmc.importance`).  For importance
sampling it draws the proposal once and writes the same draws into every shard file, so
that each shard job evaluates its likelihood at exactly the draws the others use and the
combine step can add them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from homodyne import __version__, layout
from homodyne.cmc import importance
from homodyne.cmc.density import NOISE_FACTOR
from homodyne.cmc.priors import prior_scale, temper
from homodyne.config import AnalysisConfig, CMCConfig
from homodyne.data import XPCSData
from homodyne.data.readers import open_hdf5
from homodyne.errors import DataFormatError, FitError
from homodyne.io import write_atomic
from homodyne.physics import AngleScaling
from homodyne.problem import Problem, build_problem, choose_method, resolve_shards

log = logging.getLogger(__name__)

FORMAT = "homodyne-cmc-shard"
FORMAT_VERSION = 3

_PROBLEM_ARRAYS = ("start", "lower", "upper", "free", "t", "phi", "ia", "ja", "mask", "y",
                   "sigma")
_PROBLEM_ATTRS = ("mode", "names", "n_physical", "q", "dt", "L")
_ARRAYS = ("values", "nlsq_uncertainty", "nlsq_covariance", "prior_loc", "prior_scale",
           "prior_scale_untempered")
_SCALING = ("basis", "fixed_contrast", "fixed_offset")
_ATTRS = ("index", "n_shards", "seed", "global_seed", "pad_to", "per_angle_requested",
          "per_angle_effective", "scaling_names", "method", "method_reason", "no_continuation")
_PROPOSAL = ("draws", "log_density")


@dataclass(frozen=True, eq=False)
class Shard:
    """One shard: its rows of the dataset's problem and the priors and seed to sample them.

    Parameter arrays (``values``, ``nlsq_uncertainty``, ``prior_*``) are in the NLSQ layout
    ``[physical, scaling]`` of ``problem.names``, ``nlsq_covariance`` is the NLSQ covariance
    in that layout; only ``problem.free`` entries are sampled.  ``prior_scale`` is the
    tempered sd (``√n_shards ×`` ``prior_scale_untempered``).  ``pad_to``: block rows every
    shard of the run is padded to.  ``method``: ``nuts`` or ``importance``
    (:func:`homodyne.problem.choose_method`, with its ``method_reason``); for importance
    sampling
    ``proposal`` holds the run's proposal draws ``(S, d)`` in physical units, their log
    density and a description (the same in every shard of a run).
    """

    index: int
    n_shards: int
    seed: int
    global_seed: int
    problem: Problem
    values: np.ndarray
    nlsq_uncertainty: np.ndarray
    nlsq_covariance: np.ndarray
    prior_loc: np.ndarray
    prior_scale: np.ndarray
    prior_scale_untempered: np.ndarray
    pad_to: int
    provenance: dict
    method: str = "nuts"
    method_reason: str = ""
    proposal: dict | None = None
    no_continuation: str = ""
    """Why NUTS should stop after its first run whatever R-hat says (the NLSQ fit's
    diagnosis of a degeneracy), ``""`` when it may continue."""

    @property
    def n_points(self) -> int:
        return self.problem.n_points

    def sampled_names(self, sample_sigma: bool) -> tuple[str, ...]:
        """Names of the sampled quantities, the last axis of the posterior draws: the free
        parameters, and the noise factor when it is sampled."""
        return self.problem.free_names + ((NOISE_FACTOR,) if sample_sigma else ())

    def padded_arrays(self) -> tuple:
        """``(ia, ja, y, mask)`` padded to :attr:`pad_to` block rows (padding masked out):
        every shard of a run then has arrays of one shape, and one compiled program."""
        problem = self.problem
        pad = self.pad_to - problem.ia.shape[0]

        def extend(a, fill, axis=0):
            widths = [(0, 0)] * a.ndim
            widths[axis] = (0, pad)
            return np.pad(a, widths, constant_values=fill)

        return (extend(problem.ia, 0), extend(problem.ja, 1), extend(problem.y, 1.0, axis=1),
                extend(problem.mask, False))


def shard_seed(global_seed: int, index: int) -> int:
    """NUTS seed of shard ``index``: independent streams from one global seed."""
    return int(np.random.SeedSequence([global_seed, index]).generate_state(1)[0])


def proposal_for(problem: Problem, estimate, untempered: np.ndarray,
                 cfg: CMCConfig) -> importance.Proposal | str:
    """The importance-sampling proposal of ``problem``'s free parameters from the NLSQ
    ``estimate`` (:func:`homodyne.cmc.importance.build_proposal`), or why there is none."""
    free = problem.free
    covariance = getattr(estimate, "covariance", None)
    if covariance is None:
        return "the NLSQ result has no covariance"
    n = len(problem.names)
    cov = np.asarray(covariance, np.float64).reshape(n, n)[np.ix_(free, free)]
    lower = np.where(np.arange(n) < problem.n_physical, problem.lower, 0.0)[free]
    return importance.build_proposal(
        problem.free_names, np.asarray(estimate.values, np.float64)[free], cov,
        untempered[free], lower, cfg.sample_sigma, float(estimate.chi2),
        int(estimate.n_points))


def interleaved_rows(n_rows: int, n_shards: int) -> list[np.ndarray]:
    """Block rows of each shard: row ``r`` goes to shard ``r mod K`` (strided, so every
    shard spans the whole time range); sizes differ by at most one."""
    return [np.arange(k, n_rows, n_shards) for k in range(n_shards)]


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
                analysis: AnalysisConfig, no_continuation: str = "") -> list[Path]:
    """Split ``data`` into shard files ``outdir/shard_XXX.h5`` and return their paths.

    Args:
        data: the dataset (the same one NLSQ fitted).
        nlsq_result: the NLSQ fit's ``FitResult`` or a
            :class:`homodyne.cmc.priors.NLSQEstimate` (names, values, uncertainties, free,
            covariance: the starting NUTS mass matrix; the per-angle form the fit settled
            on, which the shards' problem takes).
        cfg: the ``cmc`` settings (shards, prior width, seed).
        outdir: folder of the shard files; shard files of an earlier run with more shards
            are removed so a folder listing shows exactly this run's shards.
        analysis: the analysis settings NLSQ used (mode, scaling, bounds, fixed, sigma).

    Raises:
        FitError: the NLSQ result does not belong to this dataset and config, or more
            shards are asked for than the data have block rows.
    """
    problem = build_problem(data, analysis, nlsq_result.per_angle_effective)
    _check_estimate(problem, nlsq_result)
    n_rows = problem.ia.shape[0]
    n_shards = resolve_shards(cfg, problem.mode, problem.n_points, n_rows)
    parts = interleaved_rows(n_rows, n_shards)
    untempered = prior_scale(nlsq_result.uncertainties, problem.lower, problem.upper,
                             cfg.prior_width)
    n = len(problem.names)
    covariance = getattr(nlsq_result, "covariance", None)
    proposal = proposal_for(problem, nlsq_result, untempered, cfg)
    method, why = choose_method(cfg, problem.n_points,
                                proposal if isinstance(proposal, str) else None)
    drawn = None
    if method == "importance":
        draws, log_q = proposal.draw(cfg.importance_draws, cfg.seed)
        drawn = {"draws": draws, "log_density": log_q,
                 "record": {**proposal.record(), "fingerprint": importance.fingerprint(draws)}}
    common = {
        "n_shards": n_shards, "global_seed": cfg.seed,
        "values": np.asarray(nlsq_result.values, np.float64),
        "nlsq_uncertainty": np.asarray(nlsq_result.uncertainties, np.float64),
        "nlsq_covariance": (np.full((n, n), np.nan) if covariance is None
                            else np.asarray(covariance, np.float64).reshape(n, n)),
        "prior_loc": np.asarray(nlsq_result.values, np.float64),
        "prior_scale": temper(untempered, n_shards), "prior_scale_untempered": untempered,
        "pad_to": max(len(part) for part in parts),
        "provenance": {"source": data.provenance.source, "sha256": data.provenance.sha256,
                       "homodyne_version": __version__},
        "method": method, "method_reason": why, "proposal": drawn,
        "no_continuation": no_continuation,
    }
    outdir = Path(outdir)
    paths = []
    for k, part in enumerate(parts):
        shard = Shard(index=k, seed=shard_seed(cfg.seed, k), problem=problem.rows(part),
                      **common)
        paths.append(write_shard(layout.shard_file(outdir, k), shard))
    log.info("%s", why)
    for stale in set(layout.shard_files(outdir)) - set(paths):
        stale.unlink()
    return paths


def write_shard(path: str | Path, shard: Shard) -> Path:
    """Write one shard atomically (arrays as datasets, scalars and names as attributes)."""
    problem = shard.problem

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            for name in _PROBLEM_ARRAYS:
                fh.create_dataset(name, data=np.asarray(getattr(problem, name)),
                                  track_times=False)
            for name in _ARRAYS:
                fh.create_dataset(name, data=np.asarray(getattr(shard, name)), track_times=False)
            group = fh.create_group("scaling", track_order=True)
            for name in _SCALING:
                group.create_dataset(name, data=np.asarray(getattr(problem.scaling, name),
                                                           np.float64), track_times=False)
            if shard.proposal is not None:
                drawn = fh.create_group("proposal")
                for name in _PROPOSAL:
                    drawn.create_dataset(name, data=np.asarray(shard.proposal[name], np.float64),
                                         track_times=False)
                drawn.attrs["record"] = json.dumps(shard.proposal["record"])
            fh.attrs.update({
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "index": shard.index, "n_shards": shard.n_shards, "seed": shard.seed,
                "global_seed": shard.global_seed, "mode": problem.mode,
                "names": list(problem.names), "n_physical": problem.n_physical,
                "q": problem.q, "dt": problem.dt, "L": problem.L, "pad_to": shard.pad_to,
                "n_points": shard.n_points,
                "per_angle_requested": problem.scaling.requested,
                "per_angle_effective": problem.scaling.effective,
                "scaling_names": list(problem.scaling.names) or [""],
                "method": shard.method, "method_reason": shard.method_reason,
                "no_continuation": shard.no_continuation,
                **{f"provenance_{k}": v for k, v in shard.provenance.items()},
            })

    return write_atomic(path, write)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_shard(path: str | Path) -> Shard:
    """Read a shard file written by :func:`write_shard`.

    Raises:
        DataFormatError: missing or non-HDF5 file, not a shard file (or one of an older
            format), missing entries.
    """
    path = Path(path)
    remedy = (f"it is damaged or incomplete (a killed job, a full disk): delete the folder "
              f"{path.parent} and run the same command again to remake the shards")
    with open_hdf5(path, "a CMC shard file written by homodyne.cmc.make_shards",
                   remedy) as fh:
        if _text(fh.attrs.get("format", "")) != FORMAT:
            raise DataFormatError(f"{path}: not a CMC shard file (root attribute 'format' is "
                                  f"not {FORMAT!r}); make shards with homodyne.cmc.make_shards")
        if int(fh.attrs.get("format_version", 0)) != FORMAT_VERSION:
            raise DataFormatError(f"{path}: shard format version "
                                  f"{fh.attrs.get('format_version')} is not {FORMAT_VERSION}; "
                                  "remake the shards")
        wanted = _PROBLEM_ARRAYS + _ARRAYS
        missing = ([n for n in wanted if n not in fh] + [f"scaling/{n}" for n in _SCALING
                                                         if f"scaling/{n}" not in fh]
                   + [n for n in _ATTRS + _PROBLEM_ATTRS if n not in fh.attrs])
        if missing:
            raise DataFormatError(f"{path}: shard file lacks {', '.join(missing)}; "
                                  "remake the shards")
        a = {k: fh.attrs[k] for k in _ATTRS + _PROBLEM_ATTRS}
        arrays = {n: fh[n][()] for n in wanted}
        sc = {n: fh[f"scaling/{n}"][()] for n in _SCALING}
        proposal = None
        if "proposal" in fh:
            proposal = {n: fh[f"proposal/{n}"][()] for n in _PROPOSAL}
            proposal["record"] = json.loads(_text(fh["proposal"].attrs["record"]))
        provenance = {k.removeprefix("provenance_"): _text(v) for k, v in fh.attrs.items()
                      if k.startswith("provenance_")}
    n_phys = int(a["n_physical"])
    scaling = AngleScaling(
        requested=_text(a["per_angle_requested"]), effective=_text(a["per_angle_effective"]),
        names=tuple(_text(n) for n in a["scaling_names"] if _text(n)),
        basis=sc["basis"].reshape(len(arrays["phi"]), -1),
        fixed_contrast=sc["fixed_contrast"], fixed_offset=sc["fixed_offset"],
        initial=arrays["start"][n_phys:], lower=arrays["lower"][n_phys:],
        upper=arrays["upper"][n_phys:],
    )
    problem = Problem(
        mode=_text(a["mode"]), names=tuple(_text(n) for n in a["names"]), n_physical=n_phys,
        scaling=scaling, q=float(a["q"]), dt=float(a["dt"]), L=float(a["L"]),
        **{n: arrays[n] for n in _PROBLEM_ARRAYS},
    )
    problem = _with_types(problem)
    return Shard(
        index=int(a["index"]), n_shards=int(a["n_shards"]), seed=int(a["seed"]),
        global_seed=int(a["global_seed"]), problem=problem, pad_to=int(a["pad_to"]),
        provenance=provenance, method=_text(a["method"]),
        method_reason=_text(a["method_reason"]), proposal=proposal,
        no_continuation=_text(a["no_continuation"]),
        **{n: arrays[n] for n in _ARRAYS},
    )


def _with_types(problem: Problem) -> Problem:
    """HDF5 gives back what was written; restore the bool masks' dtype explicitly."""
    return replace(problem, free=problem.free.astype(bool), mask=problem.mask.astype(bool))


def shard_method(path: str | Path) -> str:
    """The posterior method a shard file was made for (its ``method`` attribute), read
    without its data: the workflow sizes the combine job by it."""
    with h5py.File(path, "r") as fh:
        return _text(fh.attrs.get("method", "nuts"))


def merged_problem(shards: list[Shard]) -> Problem:
    """The dataset's problem from all its shards (their rows put back together)."""
    first = shards[0].problem
    parts = [s.problem for s in shards]
    return replace(first, ia=np.concatenate([p.ia for p in parts]),
                   ja=np.concatenate([p.ja for p in parts]),
                   mask=np.concatenate([p.mask for p in parts]),
                   y=np.concatenate([p.y for p in parts], axis=1))
