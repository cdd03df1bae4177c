"""Pre-run validation (``homodyne validate``): the config and every dataset, without fitting.

A run that fails on dataset 7 after hours on datasets 1-6, or a cluster job killed for
memory, costs far more than reading a few bin tables up front.  :func:`validate` checks the
config exactly as ``homodyne run`` does (:func:`homodyne.config.check_config`) and then
every dataset it names with the data layer's own selection steps, on the bin tables only
(no matrix is read): file readable in a known layout, the requested q within the tolerance
``run`` uses, angles left after ``phi_ranges``, frame window inside the data.  All problems,
config and data together, are collected so one run of the command lists everything to fix.
Datasets whose selection is valid are then loaded for the data checks of
:func:`homodyne.quality.data_reasons` (baseline, contrast, triangles, decay inside the
window): data no fit can use is a problem, doubtful data a warning.  Candidate bad frames
(:func:`homodyne.twotime.candidate_bad_frames`) are warnings that suggest a
``frames_exclude``; validation never excludes a frame itself.  Data whose model-free decay
time does not change with age get the diagnosis a fit would give them (stationary: fix
alpha and D_offset, :mod:`homodyne.diagnosis`) before any fit.

For each dataset it also predicts what the run will do: the plan of
:func:`homodyne.problem.plan` (points, free parameters, NLSQ strategy and peak memory, CMC
shards) from the angles and frames the bin tables give, by the functions the run itself
calls.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from homodyne import diagnosis, problem, quality, twotime
from homodyne.config import DatasetConfig, check_config, parse_config, read_yaml
from homodyne.data import load, preprocess
from homodyne.data.readers import open_hdf5, read_table
from homodyne.errors import ConfigError, DataFormatError, DataQualityError

Q_TOLERANCE = inspect.signature(load).parameters["q_tolerance"].default
"""Relative q tolerance of ``load`` as ``homodyne run`` calls it (its default)."""

_EXPECTED = "an APS-U or legacy APS HDF5 file (docs/data-formats.md)"


@dataclass(frozen=True)
class DatasetReport:
    """What validation found out about one dataset; ``None`` where it could not tell."""

    name: str
    file: str
    q_used: float | None = None
    phi: tuple[float, ...] | None = None
    frames: tuple[int, int] | None = None
    n_points: int | None = None
    n_free: int | None = None
    strategy: str | None = None
    nlsq_bytes: int | None = None
    n_shards: int | None = None
    method: str | None = None
    """The posterior method the run will choose when the NLSQ covariance allows
    (:func:`homodyne.problem.choose_method`)."""


@dataclass(frozen=True)
class Report:
    """Outcome of :func:`validate`: every problem and one row per dataset."""

    source: str
    problems: tuple[str, ...]
    datasets: tuple[DatasetReport, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        """The datasets as an aligned text table (``-`` where unknown)."""
        header = ("dataset", "q used (1/Å)", "angles", "frames", "points", "free", "NLSQ",
                  "NLSQ memory", "posterior")
        rows = [header, *(_row(d) for d in self.datasets)]
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True))
                         .rstrip() for r in rows)

    def raise_for_problems(self) -> None:
        """Raise ``ConfigError`` listing every problem, if there is any."""
        if self.problems:
            listing = "\n  - ".join(self.problems)
            raise ConfigError(f"{self.source}: {len(self.problems)} problem(s) found:\n"
                              f"  - {listing}")


def _row(d: DatasetReport) -> tuple[str, ...]:
    def known(value, fmt="{}"):
        return "-" if value is None else fmt.format(value)

    frames = None if d.frames is None else f"{d.frames[0]}-{d.frames[1]}"
    memory = None if d.nlsq_bytes is None else _size(d.nlsq_bytes)
    posterior = None if d.n_shards is None else (
        f"{_METHOD_WORDS.get(d.method, d.method)}, {d.n_shards} shard"
        + ("s" if d.n_shards > 1 else ""))
    return (d.name, known(d.q_used, "{:.6g}"), known(None if d.phi is None else len(d.phi)),
            known(frames), known(d.n_points, "{:,}"), known(d.n_free), known(d.strategy),
            known(memory), known(posterior))


_METHOD_WORDS = {"importance": "importance*", "nuts": "NUTS"}
"""How the table names the planned method; * : if the NLSQ covariance gives a proposal,
else NUTS (the note under the table says so)."""


def _size(n_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"


def _read_config(path: Path) -> tuple[dict | None, list[str]]:
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        return None, [str(exc).removeprefix(f"{path}: ")]
    if not isinstance(data, dict):
        return None, [f"(top level): expected a mapping with 'datasets' and 'analysis', "
                      f"got {type(data).__name__}"]
    return data, []


def _estimates(ds: DatasetConfig, where: str, report: DatasetReport, frame_ok: np.ndarray,
               problems: list[str]) -> DatasetReport:
    """The plan of a dataset whose selection is valid (:func:`homodyne.problem.plan`) on
    its angles and fitted frames ``frame_ok``: the row's points, free parameters, NLSQ
    strategy and memory, CMC shards; the errors the run would stop with become problems
    naming their keys."""
    found = problem.plan(ds, len(report.phi), frame_ok)
    problems += [f"{where}.{key}: {message}" for key, message in found.errors.items()]
    return replace(report, n_points=found.n_points, n_free=found.n_free,
                   strategy=found.strategy, nlsq_bytes=found.nlsq_bytes,
                   n_shards=found.n_shards, method=found.method)


def _check_dataset(k: int, entry: dict, ds: DatasetConfig | None,
                   problems: list[str], produced: frozenset[str]) -> DatasetReport:
    """Check one dataset entry on its file's bin tables, appending problems.

    ``entry`` may come from an invalid config: values of the wrong type were reported by the
    schema and are skipped here.  ``ds`` is the resolved dataset when the config is valid.
    """
    name, file, q = entry.get("name"), entry.get("file"), entry.get("q")
    where = f"datasets[{k}]"
    report = DatasetReport(name=name if isinstance(name, str) else where,
                           file=file if isinstance(file, str) else "-")
    if not isinstance(file, str) or not file or (file in produced and not Path(file).exists()):
        return report
    try:
        with open_hdf5(file, _EXPECTED) as fh:
            table = read_table(fh, Path(file))
    except DataFormatError as exc:
        problems.append(f"{where}.file: {exc}")
        return report
    frames = None
    try:
        frames = preprocess.frame_window(entry.get("frames"), table.n_frames, file)
    except DataQualityError as exc:
        problems.append(f"{where}.frames: {exc}")
    except ConfigError:
        pass  # malformed frames: reported by the schema
    if isinstance(q, bool) or not isinstance(q, (int, float)) or q <= 0:
        return report
    try:
        at_q, q_used = preprocess.select_q(table.q, float(q), Q_TOLERANCE, file)
    except DataQualityError as exc:
        problems.append(f"{where}.q: {exc}")
        return report
    ring = preprocess.normalise_angles(table.phi[at_q])
    try:
        phi = ring[preprocess.phi_mask(ring, entry.get("phi_ranges"))]
    except ConfigError:
        phi = ring  # malformed phi_ranges: reported by the schema
    report = replace(report, q_used=q_used, phi=tuple(map(float, phi)), frames=frames)
    if not len(phi):
        error = preprocess.no_angle_left(file, q_used, entry.get("phi_ranges"), ring)
        problems.append(f"{where}.phi_ranges: {error}")
    elif ds is not None and frames is not None:
        frame_ok = np.ones(frames[1] - frames[0], dtype=bool)  # fitted frames: t = 0 dropped
        try:
            frame_ok = ~preprocess.excluded_frames(ds.frames_exclude, frames, file)
        except ConfigError as exc:
            problems.append(f"{where}.frames_exclude: {exc}")
        report = _estimates(ds, where, report, frame_ok, problems)
    return report


def validate_data(data: dict, source: str = "<config>", *, produced=()) -> Report:
    """Check a parsed config mapping and every dataset in it without fitting.

    For callers that assemble the config themselves (the workflow merges config files and
    ``--config`` overrides); :func:`validate` reads a file first.  Dataset files listed in
    ``produced`` that do not exist yet (the workflow's demo data, made by a rule) are not
    opened.

    Returns:
        A :class:`Report` holding every problem found (each naming its key and, for data
        problems, the file) and one row per dataset entry.  Nothing is raised for problems
        of the config or the data; call :meth:`Report.raise_for_problems` to stop on them.
    """
    raw, problems = check_config(data)
    config = None if problems else parse_config(data, source=source)
    entries = raw.get("datasets")
    rows = []
    for k, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict):
            ds = config.datasets[k] if config else None
            rows.append(_check_dataset(k, entry, ds, problems, frozenset(map(str, produced))))
    warnings = []
    for k, row in enumerate(rows):
        if config is not None and row.n_points is not None:  # the selection is valid
            ds = config.datasets[k]
            try:  # loaded once for both data checks
                data = load(ds.file, q=ds.q, dt=ds.analysis.dt, phi_ranges=ds.phi_ranges,
                            frames=ds.frames, mask_nonfinite=ds.mask_nonfinite)
            except DataQualityError as exc:  # the loader refuses the data: its message
                data, reasons = None, [quality.reason("data", str(exc),
                                                      severity=quality.FAILED)]
            else:  # both triangles as stored
                reasons = quality.data_reasons(data.c2, str(ds.file), phi=data.phi, raw=True)
            for r in reasons:
                target = problems if r["severity"] == quality.FAILED else warnings
                target.append(f"datasets[{k}] ({row.name}): {r['message']}")
            if data is not None:
                resolved = not any(r["check"] == "frames" for r in reasons)
                warnings += [f"datasets[{k}] ({row.name}): {w}"
                             for w in [*bad_frame_suggestions(ds, data),
                                       *(stationary_suggestion(ds, data) if resolved else [])]]
    return Report(source, tuple(problems), tuple(rows), tuple(warnings))


def bad_frame_suggestions(ds: DatasetConfig, data) -> list[str]:
    """Frames of the loaded dataset ``data`` whose rows of c2 depart from their neighbours'
    (:mod:`homodyne.twotime`), as suggestions for ``frames_exclude``; nothing is excluded
    here.  Frames the dataset already excludes are not suggested again."""
    try:
        excluded = preprocess.excluded_frames(ds.frames_exclude, data.provenance.frames)
    except ConfigError:
        return []  # reported as a problem by _check_dataset
    first = data.provenance.frames[0] + 1  # file number of fitted frame 0
    found = twotime.candidate_bad_frames(data.c2, excluded)
    if not found:
        return []
    ranges = [[first + a, first + b] for a, b, _ in found]
    listed = ", ".join(f"{a}-{b} (z = {z:.0f})" if a != b else f"{a} (z = {z:.0f})"
                       for (a, b), (_, _, z) in zip(ranges, found, strict=True))
    return [f"frames {listed} depart from their neighbours by more than "
            f"{twotime.BAD_FRAME_Z:g} robust standard deviations (row mean or spread of c2); "
            f"if they are beam dumps, shutter closures or detector glitches, leave them out "
            f"with frames_exclude: {ranges} (README: 'Model-free views')"]


def stationary_suggestion(ds: DatasetConfig, data) -> list[str]:
    """The diagnosis a fit would give a stationary sample, from the loaded data's model-free
    decay times per age window as the ``twotime`` step computes them
    (:func:`homodyne.diagnosis.stationary_from_ageing`), with its remedy.  Not asked where
    the decay is not inside the frames (the ``frames`` check): the decay times of such data
    say nothing about ageing."""
    age = twotime.ageing(data.c2, data.pair_ok, data.t, data.dt, ds.twotime.age_windows)
    found = diagnosis.stationary_from_ageing(age.decay_time, ds.analysis.mode,
                                             ds.analysis.fixed)
    if found is None:
        return []
    return [f"{found['finding']}; remedy ({quality.REMEDY_WHERE}): {found['remedy_text']}"]


def validate(config_path: str | Path) -> Report:
    """Read a config file and check it and its datasets (see :func:`validate_data`)."""
    path = Path(config_path)
    data, problems = _read_config(path)
    if data is None:
        return Report(str(path), tuple(problems))
    return validate_data(data, source=str(path))
