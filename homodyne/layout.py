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
    <root>/<dataset>/plots/                         figures of the dataset
    <root>/<dataset>/analysis_summary.json
    <root>/<dataset>/tables/parameters.html, diagnostics.html, provenance.html
                                                    the summary as pages (``make report``)
    <root>/plots/datasets_parameters.png            parameters across datasets
    <root>/verdicts.html                            the verdict of every dataset
    <root>/report.html                              ``make report`` of the demo config;
    <root>/report_<config>.html                     of ``--configfile <config>.yaml``

``name`` may be a Snakemake wildcard such as ``"{ds}"`` and a shard index ``"{k}"``: the
same properties then give the rules' path patterns.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SHARD_DIGITS = 3


def shard_tag(k: int | str) -> str:
    """``7`` -> ``"007"``; a wildcard such as ``"{k}"`` is passed through."""
    return f"{k:0{SHARD_DIGITS}d}" if isinstance(k, int) else str(k)


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
        return self._path("cmc", "shards", f"shard_{shard_tag(k)}.h5")

    def posterior(self, k: int | str) -> str:
        return self._path("cmc", "posteriors", f"posterior_{shard_tag(k)}.nc")

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


def verdicts_table(root: str | Path) -> str:
    """The verdict of every dataset of a run, the report's first table."""
    return str(Path(root, "verdicts.html"))


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


def shard_indices(shard_files) -> list[int]:
    """Indices of shard files named as :meth:`DatasetLayout.shard` names them, sorted."""
    return sorted(int(Path(f).stem.rsplit("_", 1)[1]) for f in shard_files)


if __name__ == "__main__":
    # `python -m homodyne.layout report SNAKEMAKE_ARGS...`: the report path for the Makefile.
    if sys.argv[1:2] != ["report"]:
        sys.exit("usage: python -m homodyne.layout report [snakemake arguments]")
    print(report("results", config_files(sys.argv[2:])))
