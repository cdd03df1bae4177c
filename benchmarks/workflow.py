"""Workflow timings (run by hand; results go into benchmarks/README.md).

    .venv/bin/python -P benchmarks/workflow.py [--skip-static]

1. The built-in demo with the local profile (``-j 2``): whole wall time, time to the first
   shard posterior, and Snakemake's own overhead per job, i.e. the wall time of a sequential
   run (``-j 1``) minus the run time of its jobs (from the rules' benchmark files), per job.
2. The CMC stage of a static 3 angles x 200 frames dataset (noise 0.01, contrast 0.3,
   D0 1e4, alpha -0.5): the workflow's nuts + combine jobs with ``-j 2`` after the NLSQ and
   shard steps, against ``homodyne run --method cmc`` (which reuses the NLSQ results).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def snakemake(work: Path, *args: str) -> float:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
           str(work), "--configfile", str(work / "config.yaml"), "--profile",
           str(ROOT / "profiles/local"), *args]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def job_seconds(work: Path) -> tuple[int, float]:
    """Number of jobs and their summed run time, from the rules' benchmark files."""
    files = list((work / "benchmarks").rglob("*.tsv"))
    total = 0.0
    for f in files:
        with open(f) as fh:
            total += float(next(csv.DictReader(fh, delimiter="\t"))["s"])
    return len(files), total


def demo(tmp: Path) -> None:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for cores in (1, 2):
        work = tmp / f"demo_j{cores}"
        work.mkdir()
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        start = time.time()
        wall = snakemake(work, "--cores", str(cores))
        first = min(p.stat().st_mtime for p in work.glob("results/demo/cmc/posteriors/*.nc"))
        n_jobs, busy = job_seconds(work)
        print(f"demo -j {cores}: wall {wall:6.1f} s, first shard posterior after "
              f"{first - start:6.1f} s, {n_jobs} jobs running {busy:6.1f} s in all", flush=True)
        if cores == 1:
            print(f"  scheduling overhead per job (sequential run): "
                  f"{(wall - busy) / (n_jobs + 1):.2f} s", flush=True)


def static_cmc(tmp: Path) -> None:
    from homodyne.data import simulate

    work = tmp / "static"
    work.mkdir()
    simulate(work / "static.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
             phi=[0.0, 60.0, 120.0], n_frames=200, dt=0.1, q=0.0054, contrast=0.3,
             noise=0.01, seed=1)
    config = {"datasets": [{"name": "static", "file": "static.h5", "q": 0.0054}],
              "analysis": {"mode": "static", "dt": 0.1}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(work, "--cores", "2", "--until", "shard")
    shards = len(list(work.glob("results/static/cmc/shards/*.h5")))
    wall = snakemake(work, "--cores", "2", "results/static/cmc/mcmc_parameters.json")
    print(f"static 3x200 CMC stage, workflow -j 2: {wall:6.1f} s ({shards} shards)", flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "homodyne.cli", "--quiet", "run",
                    str(work / "config.yaml"), "--method", "cmc", "--output",
                    str(work / "results")], check=True, cwd=work)
    print(f"static 3x200 CMC stage, homodyne run --method cmc: "
          f"{time.perf_counter() - start:6.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-static", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo(Path(tmp))
        if not args.skip_static:
            static_cmc(Path(tmp))


if __name__ == "__main__":
    main()
