"""Peak memory of every workflow step, against the requests of ``homodyne/resources.py``.

Usage (after running the workflow in WORKDIR with ``--notemp``, so ``loaded.h5`` is kept)::

    .venv/bin/python -P benchmarks/memory.py CASE WORKDIR [CASE WORKDIR ...]

reads each job's peak resident memory (``max_rss``, MB) from Snakemake's benchmark files
``WORKDIR/benchmarks/<dataset>/...tsv`` and the size of the inputs the rule's memory request
is computed from (the same files as in ``workflow/rules/*.smk``), and rewrites
``benchmarks/memory_peaks.csv`` (one row per job; rows of other cases are kept), which
``tests/test_resources.py`` checks the model against.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TABLE = HERE / "memory_peaks.csv"
FIELDS = ["case", "step", "job", "input_mb", "max_rss_mb", "wall_s"]


def _size_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


def _inputs(work: Path, ds: dict, step: str, job: str) -> list[Path]:
    """The files a step's ``mem_mb`` is computed from (see workflow/rules/*.smk)."""
    res = work / "results" / ds["name"]
    file = Path(ds["file"])
    raw = file if file.is_absolute() else work / file
    loaded = res / "data" / "loaded.h5"
    if not loaded.exists():  # temporary: without --notemp it is gone; filtered is the same
        loaded = res / "data" / "filtered.h5"  # data when no phi_ranges are set
    return {
        "load": [raw], "filter": [loaded], "nlsq": [res / "data" / "filtered.h5"],
        "shard": [res / "data" / "filtered.h5"],
        "nuts": [res / "cmc" / "shards" / f"{job}.h5"],
        "combine": sorted((res / "cmc" / "posteriors").glob("posterior_*.nc"))
        + sorted((res / "cmc" / "shards").glob("shard_*.h5")),
        "plot": [res / "nlsq" / "nlsq_results.npz"], "summary": [],
        "twotime": [res / "data" / "filtered.h5"],
    }[step]


def collect(case: str, work: Path) -> list[dict]:
    config = yaml.safe_load((work / "config.yaml").read_text())
    rows = []
    for ds in config["datasets"]:
        for tsv in sorted((work / "benchmarks" / ds["name"]).rglob("*.tsv")):
            step = "nuts" if tsv.parent.name == "nuts" else tsv.stem
            if step == "tables":  # a fixed request (workflow/rules/report.smk), no model
                continue
            with open(tsv) as fh:
                record = list(csv.DictReader(fh, delimiter="\t"))[-1]
            rows.append({"case": case, "step": step, "job": tsv.stem,
                         "input_mb": round(_size_mb(*_inputs(work, ds, step, tsv.stem)), 3),
                         "max_rss_mb": float(record["max_rss"]), "wall_s": float(record["s"])})
    return rows


def main(argv: list[str]) -> None:
    pairs = list(zip(argv[::2], argv[1::2], strict=True))
    cases = {case for case, _ in pairs}
    kept = []
    if TABLE.exists():
        with open(TABLE) as fh:
            kept = [r for r in csv.DictReader(fh) if r["case"] not in cases]
    rows = kept + [r for case, work in pairs for r in collect(case, Path(work))]
    with open(TABLE, "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        print(f"{r['case']:>6} {r['step']:>8} {r['job']:>10} input {float(r['input_mb']):9.3f} MB"
              f"  peak {float(r['max_rss_mb']):7.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
