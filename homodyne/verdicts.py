"""The verdict of every dataset of a run, where a user looks: the end of the console.

Snakemake ends a run with "N of N steps (100%) done" whatever the results say, so a fit
that must not be used looked like a success (issue 21).  This module reads each dataset's
result files (``analysis_summary.json``, and the NLSQ and CMC ``quality`` records for the
step each verdict comes from) through the readers of :mod:`homodyne.results` (without
matplotlib: Snakemake's own process prints these lines) and renders one line per dataset:
its name, the NLSQ and Bayesian verdicts, where every reason is listed, and the first
reason of the worst kind.  The workflow's ``onsuccess`` and
``onerror`` handlers print these lines; a dataset whose steps did not finish is shown as
such, so a failure is visible at the end of the run too, with what its NLSQ fit found where
that finished (its diagnosis and remedy), so that the line of an interrupted run still says
what to change.

Whether a ``failed`` (or ``warning``) verdict also fails the run is the config's choice
(``workflow.fail_on``, default ``never``: every job succeeded, so the run exits 0, and the
lines say what the results are worth).

    python -m homodyne.verdicts [--results DIR] NAME...   # the same lines, any time
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from homodyne import quality, results
from homodyne.diagnosis import diagnose
from homodyne.errors import HomodyneError
from homodyne.layout import DatasetLayout, dataset

NO_RESULT = "no result"
"""Shown for a step whose result file does not exist (it failed, or did not run yet)."""

NOT_RUN = "not run"
"""Shown as the Bayesian verdict of a dataset with ``cmc.enable: false``."""

FAIL_ON = ("never", "failed", "warning")
"""The values of ``workflow.fail_on``: which verdicts make a finished run exit non-zero."""


@dataclass(frozen=True)
class DatasetVerdict:
    """What the end of a run says about one dataset."""

    name: str
    overall: str
    """``ok``, ``warning``, ``failed`` (the summary's verdict) or :data:`NO_RESULT`."""
    nlsq: str
    cmc: str
    reason: str
    """The first reason of the worst severity, or what is missing."""
    where: str
    """The file (or folder) to read next: every reason, or the logs of a failed step."""
    method: str = ""
    """How the posterior was computed (:func:`homodyne.quality.method_label`), ``""``
    where there is none."""

    @property
    def bayesian(self) -> str:
        """The Bayesian verdict with its method, as the verdict line shows it."""
        return f"{self.cmc} ({self.method})" if self.method else self.cmc




def first_reason(record: Mapping | None, source: str = "") -> str:
    """What to read first: the first diagnosis with its remedy, unless a reason of the
    verdict's own severity is left unexplained by every diagnosis; then that reason (a
    ``failed`` verdict names a reason that failed, not the first warning before it).
    ``source`` (``"NLSQ: "``) says which step's record it is, after the severity."""
    record = record or {}
    worst = record.get("verdict")
    diagnoses = record.get("diagnosis", [])
    explained = {label for d in diagnoses for label in d["explains"]}
    for r in record.get("reasons", []):
        if r.get("severity") == worst and quality.label(r) not in explained:
            return f"[{worst}] {source}{r.get('message', '')}"
    for d in diagnoses[:1]:
        remedy = f"; remedy: {d['remedy_text']}" if d["remedy"] else ""
        return f"[{worst}] {source}{d['finding']}{remedy}"
    return f"{source}no check fired" if worst == quality.OK else ""


def _verdict_of(path: str) -> str:
    """The ``quality.verdict`` a result file records, or :data:`NO_RESULT`."""
    if not Path(path).is_file():
        return NO_RESULT
    try:
        record = results.read_quality(path)
    except HomodyneError:
        return NO_RESULT
    return NO_RESULT if record is None else str(record["verdict"])


def unfinished_reason(files: DatasetLayout, step: str, folder: str, nlsq_done: bool) -> str:
    """The reason of a dataset whose ``step`` steps did not finish (an interrupted run, a
    failed job): where NLSQ finished, first what it found, as the summary step would have
    said it (its verdict's diagnosis and remedy, :func:`homodyne.diagnosis.diagnose` on the
    NLSQ reasons), so that the line still says what to change; then the logs ``folder``."""
    tail = f"the {step} steps did not finish: see the failed job's log in {folder}"
    if not nlsq_done:
        return tail
    try:
        record = results.read_nlsq_summary(files.nlsq_json)
    except HomodyneError:
        return tail
    found = dict(record.get("quality") or {})
    found["diagnosis"] = diagnose(found.get("reasons", []), record)
    return f"{first_reason(found, source='NLSQ: ')}; {tail}"


def dataset_verdict(files: DatasetLayout, *, cmc: bool, logs: str = "logs") -> DatasetVerdict:
    """The verdict line's content of one dataset, from the result files that exist.

    Args:
        files: the dataset's result files.
        cmc: whether CMC is enabled for it (its absence is then a missing result).
        logs: the logs folder of the run (``logs/<dataset>/`` names a failed step's log).
    """
    nlsq = _verdict_of(files.nlsq_json)
    cmc_verdict = _verdict_of(files.cmc_diagnostics) if cmc else NOT_RUN
    summary_path = Path(files.summary)
    try:
        summary = results.read_summary(summary_path) if summary_path.is_file() else None
    except HomodyneError:
        summary = None
    if summary is None:
        step = "NLSQ" if nlsq == NO_RESULT else "Bayesian (CMC)" if cmc else "summary"
        folder = str(Path(logs, files.name)) + "/"
        return DatasetVerdict(files.name, NO_RESULT, nlsq, cmc_verdict,
                              unfinished_reason(files, step, folder, nlsq != NO_RESULT),
                              folder)
    record = summary.get("quality") or {}
    tables = Path(files.diagnostics_table)
    return DatasetVerdict(files.name, str(record.get("verdict", NO_RESULT)), nlsq,
                          cmc_verdict, first_reason(record),
                          str(tables if tables.is_file() else summary_path),
                          quality.method_label(summary.get("cmc")))


def lines(verdicts: Sequence[DatasetVerdict]) -> list[str]:
    """One header and one line per dataset, columns aligned; the reason last, as it is the
    one column of free length."""
    header = ("dataset", "verdict", "NLSQ", "Bayesian", "every reason in", "first reason")
    rows = [header, *((v.name, v.overall, v.nlsq, v.bayesian, v.where, v.reason)
                      for v in verdicts)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(header) - 1)]
    out = [f"Verdict of each dataset ({len(verdicts)}; README: Can I trust this fit?):"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.append("  " + "  ".join([*cells, row[-1]]).rstrip())
    return out


def tripped(verdicts: Iterable[DatasetVerdict], fail_on: str) -> list[str]:
    """The datasets whose verdict makes the run fail under ``workflow.fail_on``: none for
    ``never``; ``failed`` (and missing results) for ``failed``; also ``warning`` for
    ``warning``."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"workflow.fail_on: {fail_on!r} is not one of {', '.join(FAIL_ON)}")
    bad = {"never": (), "failed": (quality.FAILED, NO_RESULT),
           "warning": (quality.FAILED, NO_RESULT, quality.WARNING)}[fail_on]
    return [v.name for v in verdicts if v.overall in bad]


def run_verdicts(names: Mapping[str, bool], root: str = "results",
                 logs: str = "logs") -> list[DatasetVerdict]:
    """The verdicts of the datasets ``{name: cmc enabled}`` under the results folder."""
    return [dataset_verdict(dataset(root, name), cmc=cmc, logs=logs)
            for name, cmc in names.items()]


def failure_line(names: Sequence[str], fail_on: str) -> str:
    """Why a run whose jobs all succeeded exits 1."""
    return (f"homodyne: exit 1 because workflow.fail_on is {fail_on!r} and the verdict of "
            f"{', '.join(names)} is {fail_on}{' or worse' * (fail_on == 'warning')}")


def main(argv: list[str] | None = None) -> int:
    """Print the verdict lines of datasets of a finished (or partly finished) run."""
    p = argparse.ArgumentParser(prog="python -m homodyne.verdicts", description=main.__doc__)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="datasets (default: every folder of DIR with an analysis_summary.json)")
    p.add_argument("--results", default="results", metavar="DIR",
                   help="results folder (default: results)")
    p.add_argument("--logs", default="logs", metavar="DIR", help="logs folder (default: logs)")
    args = p.parse_args(argv)
    names = args.names or sorted(s.parent.name for s in
                                 Path(args.results).glob("*/analysis_summary.json"))
    if not names:
        print(f"no analysis_summary.json under {args.results}/", file=sys.stderr)
        return 1
    # CMC ran (or failed) where its folder exists; without a config that is all there is
    cmc = {n: Path(dataset(args.results, n).cmc_diagnostics).parent.is_dir() for n in names}
    print("\n".join(lines(run_verdicts(cmc, args.results, args.logs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
