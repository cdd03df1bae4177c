"""The NLSQ step at production size: wall and CPU time of one ``fit`` (run by hand).

    .venv/bin/python -P benchmarks/nlsq_search.py [--frames 300] [--per-angle fourier auto]
        [--workdir benchmark_production]

The dataset is the one of ``benchmarks/production.py`` (laminar_flow, 23 angles, phi0 = 5°,
beta = 0.2, D_offset = 10, contrast 0.3 + 0.03 cos φ + 0.02 sin φ, noise 0.01), fitted in
this process by :func:`homodyne.nlsq.fit` with the default config (no initial values) and
each ``--per-angle`` mode.  Prints one JSON line per mode: wall and CPU seconds, χ²_red,
the verdict's checks, starts and distinct optima, and every physical parameter's distance
from the truth in σ.  Run it under another checkout (``PYTHONPATH=<checkout>``) to time
that checkout's fit on the same file: that is how the global search's budget (at most 1.5 ×
the single fit it replaced) was measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--per-angle", nargs="+", default=["fourier"])
    ap.add_argument("--workdir", type=Path, default=Path("benchmark_production"))
    args = ap.parse_args()
    from homodyne import runtime

    runtime.configure()
    sys.path.insert(0, str(Path(__file__).parent))
    from production import DT, TRUTH, Q, dataset

    from homodyne import quality
    from homodyne.config import AnalysisConfig, NLSQConfig
    from homodyne.data import load
    from homodyne.nlsq import fit

    work = args.workdir / f"23x{args.frames}"
    work.mkdir(parents=True, exist_ok=True)
    data = load(dataset(work, args.frames), q=Q, dt=DT)
    for mode in args.per_angle:
        load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        wall, cpu = time.perf_counter(), _cpu()
        result = fit(data, AnalysisConfig(mode="laminar_flow", dt=DT, per_angle_mode=mode),
                     NLSQConfig())
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        verdict = quality.nlsq_verdict(result)
        pulls = {n: (float(result.values[k]) - TRUTH[n]) / float(result.uncertainties[k])
                 for k, n in enumerate(result.names) if n in TRUTH and result.free[k]}
        print(json.dumps({
            "per_angle_mode": mode, "effective": result.per_angle_effective, "wall_s": wall,
            "cpu_s": cpu, "reduced_chi2": result.reduced_chi2, "chi2": result.chi2,
            "verdict": verdict["verdict"],
            "checks": sorted({r["check"] for r in verdict["reasons"]}),
            "search": getattr(result, "search", None), "pulls": pulls,
            "load_before": load_before}, default=float), flush=True)


if __name__ == "__main__":
    main()
