"""Wall time and peak memory of ``homodyne run --method nlsq`` (run by hand).

    .venv/bin/python benchmarks/nlsq.py [--cases static_3x200 laminar_8x200 laminar_23x1000]

Each case is simulated (noise 0.01, contrast 0.3, D0 1e4, alpha -0.5, gamma_dot_t0 0.002,
other parameters at their defaults), then ``homodyne run`` is started as its own process,
so the wall time includes start-up, reading, fitting and writing; peak RSS is that
process's ``ru_maxrss``.  The fitted values and reduced chi2 are printed next to the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from homodyne import runtime
from homodyne.data import simulate

runtime.configure()

CASES = {
    "static_3x200": dict(mode="static", phi=[0.0, 60.0, 120.0], n_frames=200),
    "laminar_8x200": dict(mode="laminar_flow", phi=[-180 + 45.0 * k for k in range(8)],
                          n_frames=200),
    "laminar_23x1000": dict(mode="laminar_flow", phi=[-180 + 360.0 / 23 * k for k in range(23)],
                            n_frames=1000),
}
TRUTH = {"D0": 1e4, "alpha": -0.5, "gamma_dot_t0": 0.002}


def run_case(name: str, workdir: Path) -> dict:
    case = CASES[name]
    params = {k: v for k, v in TRUTH.items() if case["mode"] != "static" or k != "gamma_dot_t0"}
    data = simulate(workdir / f"{name}.h5", mode=case["mode"], params=params, phi=case["phi"],
                    n_frames=case["n_frames"], dt=0.1, q=0.0054, contrast=0.3, noise=0.01,
                    seed=1)
    config = workdir / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "datasets": [{"name": name, "file": str(data), "q": 0.0054}],
        "analysis": {"mode": case["mode"], "dt": 0.1},
    }))
    cmd = [sys.executable, "-m", "homodyne.cli", "--quiet", "run", str(config), "--method",
           "nlsq", "--output", str(workdir / "results")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    summary = json.loads((workdir / "results" / name / "nlsq/nlsq_results.json").read_text())
    return {"case": name, "exit": os.waitstatus_to_exitcode(status), "wall_s": wall,
            "peak_rss_gb": usage.ru_maxrss / 1024**2, "fit_s": summary["seconds"],
            "strategy": summary["strategy"], "iterations": summary["iterations"],
            "reduced_chi2": summary["reduced_chi2"], "success": summary["success"],
            "values": {k: v["value"] for k, v in summary["parameters"].items()
                       if k in TRUTH or k == "alpha"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            r = run_case(name, Path(tmp))
            print(f"{r['case']:<16} exit {r['exit']}  wall {r['wall_s']:6.1f} s  "
                  f"fit {r['fit_s']:6.1f} s  peak RSS {r['peak_rss_gb']:.2f} GB  "
                  f"{r['strategy']}, {r['iterations']} it, chi2_red {r['reduced_chi2']:.4f}, "
                  f"success {r['success']}  {r['values']}", flush=True)


if __name__ == "__main__":
    main()
