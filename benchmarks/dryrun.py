"""Start-up time of the workflow: a dry run of many large datasets (run by hand; results go
into benchmarks/README.md, "Workflow start").

    .venv/bin/python -P benchmarks/dryrun.py [--datasets 20] [--angles 23] [--frames 1000]
                                             [--repeat 3]

Issue 23 asks that Snakemake's start read no data matrices: ``snakemake -n`` on a config of
20 datasets of 23 × 1000 frames within 10 s on the 2-core test machine.  One laminar-flow
file of that size is simulated once and every dataset of the config names it (a dry run
reads each dataset's file on its own, so the cost is the same as for 20 files, minus the
disk: the page cache serves the repeats).  The dry run is timed ``--repeat`` times (wall
seconds of the whole ``python -m snakemake -n`` process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from homodyne import runtime

ROOT = Path(__file__).resolve().parents[1]


def config(data: Path, n_datasets: int) -> dict:
    """``n_datasets`` entries reading ``data`` at its q, laminar flow, default settings."""
    return {"datasets": [{"name": f"d{k:02d}", "file": str(data), "q": 0.0054}
                         for k in range(n_datasets)],
            "analysis": {"mode": "laminar_flow", "dt": 0.1}}


def dry_run_seconds(work: Path) -> float:
    """Wall seconds of one ``snakemake -n`` of ``work/config.yaml``; stops on failure."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "-s",
                           str(ROOT / "Snakefile"), "--directory", str(work), "--configfile",
                           str(work / "config.yaml"), "--cores", "2"],
                          capture_output=True, text=True, cwd=work)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"snakemake -n failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--angles", type=int, default=23)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runtime.configure()  # float64 for the simulated data
    from homodyne.data import simulate

    with tempfile.TemporaryDirectory(prefix="dryrun-") as tmp:
        work = Path(tmp)
        phi = [-180.0 + 360.0 * k / args.angles for k in range(args.angles)]
        data = simulate(work / "data.h5", mode="laminar_flow", phi=phi, n_frames=args.frames,
                        dt=0.1, q=0.0054, seed=1)
        (work / "config.yaml").write_text(yaml.safe_dump(config(data, args.datasets)))
        times = [dry_run_seconds(work) for _ in range(args.repeat)]
    print(json.dumps({"datasets": args.datasets, "angles": args.angles,
                      "frames": args.frames, "seconds": [round(t, 1) for t in times],
                      "median_s": round(statistics.median(times), 1)}))


if __name__ == "__main__":
    main()
