"""Where every result file of a run lives: the one owner of the results layout.

The workflow rules, the step functions, ``homodyne run``, ``homodyne plot`` and the tests all
ask this module for paths, so the layout is written down once::

    <root>/<dataset>/data/loaded.h5                 raw ring and frame window (temporary)
    <root>/<dataset>/data/filtered.h5               the data every fit reads
    <root>/<dataset>/nlsq/nlsq_results.{json,npz}
    <root>/<dataset>/cmc/shards/shard_<k>.h5        k zero-padded to 3 digits
    <root>/<dataset>/cmc/posteriors/posterior_<k>.nc
    <root>/<dataset>/cmc/mcmc_parameters.json, mcmc_diagnostics.json, mcmc_results.npz,
                     mcmc_inference_data.nc
    <root>/<dataset>/twotime/one_time.{npz,png}     one-time g2 of data and fit
    <root>/<dataset>/twotime/ageing.{npz,png}       g2 and decay time per age window
    <root>/<dataset>/plots/                         figures of the dataset (:data:`FIGURES`)
    <root>/<dataset>/analysis_summary.json
    <root>/<dataset>/tables/parameters.html, diagnostics.html, provenance.html
                                                    the summary as pages (``make report``)
    <root>/plots/datasets_parameters.png            parameters across datasets
    <root>/verdicts_<datasets>.html                 the verdict of every dataset of a run
    <root>/report.html                              ``make report`` of the demo config;
    <root>/report_<config>.html                     of ``--configfile <config>.yaml``

``name`` may be a Snakemake wildcard such as ``"{ds}"`` and a shard index ``"{k}"``: the
same properties then give the rules' path patterns.

The names inside the folders are tables here too, each spelled once: the shard files
(:func:`shard_file`, :func:`shard_files`, :func:`shard_index`), which the shard step writes
and the workflow, ``homodyne run`` and ``combine`` list; and the figures of a
dataset's ``plots/`` folder (:data:`FIGURES`, :func:`figure_file`), which the plots write and
the report files, labels and captions.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SHARD_DIGITS = 3

SHARD_PREFIX = "shard_"
"""Starts the stem of shard ``k``'s data file and of its NUTS job's log and benchmark."""
SHARD_SUFFIX = ".h5"
"""Ends a shard's data file (HDF5)."""
POSTERIOR_PREFIX = "posterior_"
"""Starts the stem of shard ``k``'s posterior file (``.nc``)."""


def shard_tag(k: int | str) -> str:
    """``7`` -> ``"007"``; a wildcard such as ``"{k}"`` is passed through."""
    return f"{k:0{SHARD_DIGITS}d}" if isinstance(k, int) else str(k)


def shard_name(k: int | str) -> str:
    """``7`` -> ``"shard_007"``: the stem of shard ``k``'s data file, NUTS log and benchmark
    (``"{k}"`` gives the rules' pattern)."""
    return SHARD_PREFIX + shard_tag(k)


def shard_file(folder: str | Path, k: int | str) -> Path:
    """Shard ``k``'s data file in a shards folder."""
    return Path(folder, shard_name(k) + SHARD_SUFFIX)


def shard_index(path: str | Path) -> int:
    """The index ``k`` of a shard file named as :func:`shard_file` names it (``shard_007.h5``
    -> 7)."""
    stem = Path(path).stem
    tag = stem.removeprefix(SHARD_PREFIX)
    if tag == stem or not tag.isdigit():
        raise ValueError(f"{path}: not a shard file name ({shard_file('', 0)})")
    return int(tag)


def shard_indices(files) -> list[int]:
    """Indices of shard files named as :func:`shard_file` names them, sorted."""
    return sorted(shard_index(f) for f in files)


def shard_files(folder: str | Path) -> list[Path]:
    """The shard data files in a shards folder, in index order (``shard_1000.h5`` after
    ``shard_999.h5``, where a name sort would put it after ``shard_100.h5``)."""
    found = [p for p in Path(folder).glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}")
             if p.stem.removeprefix(SHARD_PREFIX).isdigit()]
    return sorted(found, key=shard_index)


@dataclass(frozen=True)
class Figure:
    """A figure of a dataset's ``plots/`` folder as the report files it."""

    part: str
    """The report's part of the dataset (its subcategory): ``NLSQ`` or ``Bayesian (CMC)``."""
    label: str
    """What it shows: the report's label, which workflow/report/figures.rst explains."""


FIGURES = {
    "c2_overview": Figure("NLSQ", "c2 of every angle: data above, fit below the diagonal"),
    "c2_cuts": Figure("NLSQ", "c2 along lines of constant lag, data and fit"),
    "residual_histogram": Figure("NLSQ", "normalised residuals against N(0, 1)"),
    "cmc_trace": Figure("Bayesian (CMC)", "traces of the chains"),
    "cmc_marginals": Figure("Bayesian (CMC)", "posterior of each parameter, NLSQ value marked"),
    "cmc_pair": Figure("Bayesian (CMC)", "pairwise posteriors and correlations"),
    "cmc_shards": Figure("Bayesian (CMC)", "shard posteriors against the consensus"),
}
"""Every figure of a dataset's ``plots/`` folder but the per-angle ones, by file stem."""

ANGLE_FIGURE_PREFIX = "c2_phi_"
"""Stem of the per-angle figures: ``c2_phi_<angle tag>`` (:func:`angle_tag`), part NLSQ."""


def angle_tag(phi: float) -> str:
    """File-name tag of an angle: signed, zero-padded, one decimal (``+045.0``, ``-157.5``).

    Fixed width keeps a folder listing in angle order; the sign keeps -45 and 45 apart.
    """
    return f"{float(phi):+06.1f}"


def figure_file(folder: str | Path, stem: str) -> Path:
    """The PNG of figure ``stem`` of :data:`FIGURES` in a plots folder.

    Raises:
        KeyError: ``stem`` is not in the table, so the report would not know the figure.
    """
    if stem not in FIGURES:
        raise KeyError(f"{stem}: not a figure of homodyne.layout.FIGURES ({', '.join(FIGURES)})")
    return Path(folder, f"{stem}.png")


def angle_figure_file(folder: str | Path, phi: float) -> Path:
    """The PNG of the per-angle figure of angle ``phi`` (degrees) in a plots folder."""
    return Path(folder, f"{ANGLE_FIGURE_PREFIX}{angle_tag(phi)}.png")


def figure_of(stem: str) -> Figure:
    """How the report files the figure ``stem`` of a plots folder: from :data:`FIGURES`, or
    the angle's own label for a per-angle figure."""
    if stem.startswith(ANGLE_FIGURE_PREFIX):
        angle = stem.removeprefix(ANGLE_FIGURE_PREFIX)
        return Figure("NLSQ", f"c2 at φ = {angle}°: data, fit, residual")
    return FIGURES[stem]


@dataclass(frozen=True)
class DatasetLayout:
    """The result files of one dataset under a results folder ``root``."""

    root: str
    name: str

    def _path(self, *parts: str) -> str:
        return str(Path(self.root, self.name, *parts))

    @property
    def loaded(self) -> str:
        return self._path("data", "loaded.h5")

    @property
    def filtered(self) -> str:
        return self._path("data", "filtered.h5")

    @property
    def nlsq_json(self) -> str:
        return self._path("nlsq", "nlsq_results.json")

    @property
    def nlsq_npz(self) -> str:
        return self._path("nlsq", "nlsq_results.npz")

    @property
    def shards(self) -> str:
        return self._path("cmc", "shards")

    def shard(self, k: int | str) -> str:
        return str(shard_file(self.shards, k))

    def posterior(self, k: int | str) -> str:
        return self._path("cmc", "posteriors", f"{POSTERIOR_PREFIX}{shard_tag(k)}.nc")

    @property
    def posteriors(self) -> str:
        return self._path("cmc", "posteriors")

    @property
    def cmc_parameters(self) -> str:
        return self._path("cmc", "mcmc_parameters.json")

    @property
    def cmc_diagnostics(self) -> str:
        return self._path("cmc", "mcmc_diagnostics.json")

    @property
    def cmc_npz(self) -> str:
        return self._path("cmc", "mcmc_results.npz")

    @property
    def cmc_netcdf(self) -> str:
        return self._path("cmc", "mcmc_inference_data.nc")

    @property
    def twotime(self) -> str:
        return self._path("twotime")

    @property
    def one_time(self) -> str:
        return self._path("twotime", "one_time.npz")

    @property
    def ageing(self) -> str:
        return self._path("twotime", "ageing.npz")

    @property
    def one_time_figure(self) -> str:
        return self._path("twotime", "one_time.png")

    @property
    def ageing_figure(self) -> str:
        return self._path("twotime", "ageing.png")

    def has_twotime(self) -> bool:
        """Model-free views exist (for ``homodyne plot`` on a results folder)."""
        return Path(self.one_time).is_file() and Path(self.ageing).is_file()

    @property
    def plots(self) -> str:
        return self._path("plots")

    @property
    def summary(self) -> str:
        return self._path("analysis_summary.json")

    @property
    def parameters_table(self) -> str:
        return self._path("tables", "parameters.html")

    @property
    def diagnostics_table(self) -> str:
        return self._path("tables", "diagnostics.html")

    @property
    def provenance_table(self) -> str:
        return self._path("tables", "provenance.html")

    def has_nlsq(self) -> bool:
        """NLSQ results exist (for ``homodyne plot`` on a folder a user points at)."""
        return Path(self.nlsq_json).is_file() and Path(self.nlsq_npz).is_file()

    def has_cmc(self) -> bool:
        """CMC results exist (for ``homodyne plot`` on a folder a user points at)."""
        return all(Path(p).is_file() for p in (self.cmc_parameters, self.cmc_diagnostics,
                                              self.cmc_npz))


def dataset(root: str | Path, name: str) -> DatasetLayout:
    """The layout of dataset ``name`` under the results folder ``root``."""
    return DatasetLayout(str(root), name)


def datasets_figure(root: str | Path) -> str:
    """The cross-dataset parameter figure of a run."""
    return str(Path(root, "plots", "datasets_parameters.png"))


VERDICTS_PREFIX = "verdicts_"
"""Starts the stem of a verdict table (:func:`verdicts_name`): the report's front page
(workflow/report/workflow.rst) embeds the one file of its run whose name starts so."""

VERDICTS_NAME_MAX = 100
"""Characters of dataset names a verdict table's file name holds at most (a file name may
have 255); above, the first name, the number of the others and a digest of all."""


def verdicts_name(names: Iterable[str]) -> str:
    """The stem of the verdict table of the datasets ``names`` (:func:`verdicts_table`), also
    of its job's log and benchmark: ``verdicts_chx``, ``verdicts_chx+yolk`` (sorted: the
    order of the config does not matter), ``verdicts_a+199-more-1f2e3d4c`` for 200."""
    ordered = sorted(set(names))
    if not ordered:
        raise ValueError("a verdict table needs at least one dataset")
    stem = "+".join(ordered)
    if len(stem) > VERDICTS_NAME_MAX:
        digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:8]
        stem = f"{ordered[0][:VERDICTS_NAME_MAX // 2]}+{len(ordered) - 1}-more-{digest}"
    return VERDICTS_PREFIX + stem


def verdicts_table(root: str | Path, names: Iterable[str]) -> str:
    """The verdict of every dataset of a run on the datasets ``names``: the first table of
    that run's report (``make report``), named after those datasets (:func:`verdicts_name`).

    Every config writing to one results folder has its own (the results of its datasets,
    in ``<root>/<dataset>/``, are the table's content), so a report never shows another
    run's verdicts: with one shared ``verdicts.html``, the report of a CHX config showed the
    yolk verdict a later run had written there (issue 21).
    """
    return str(Path(root, verdicts_name(names) + ".html"))


DEMO_CONFIG = Path("config", "config.yaml")
"""The config Snakemake reads when the command line names no datasets (the demo's: the
Snakefile's ``configfile``, relative to the working directory)."""


def report(root: str | Path, config_files: Sequence[str | Path] = ()) -> str:
    """The HTML report of a run on ``config_files`` (``make report``): ``report.html`` for
    the demo's config, else named after the configs (``report_chx.html`` for
    ``--configfile chx.yaml``, ``report_a+b.html`` for two), so that the report of another
    config never overwrites the demo's, nor one config's report another's."""
    files = [Path(f) for f in config_files]
    if all(f.resolve() == DEMO_CONFIG.resolve() for f in files):
        return str(Path(root, "report.html"))
    return str(Path(root, "report_" + "+".join(f.stem for f in files) + ".html"))


def config_files(snakemake_args: Sequence[str]) -> list[str]:
    """The config files named on a Snakemake command line (``--configfile`` or
    ``--configfiles``, each followed by one or more files, or ``--configfile=FILE``)."""
    files, taking = [], False
    for arg in snakemake_args:
        option, eq, value = arg.partition("=")
        if option in ("--configfile", "--configfiles"):
            taking = not eq
            files += [value] if eq else []
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    return files


if __name__ == "__main__":
    # `python -m homodyne.layout report SNAKEMAKE_ARGS...`: the report path for the Makefile.
    if sys.argv[1:2] != ["report"]:
        sys.exit("usage: python -m homodyne.layout report [snakemake arguments]")
    print(report("results", config_files(sys.argv[2:])))
