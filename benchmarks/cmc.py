"""Wall time of the CMC stage (run by hand; report the numbers with date and machine).

    .venv/bin/python benchmarks/cmc.py [--frames 200] [--workdir DIR] [--json OUT]

Static model, 3 angles, noise 0.01, contrast 0.3, D0 1e4, alpha -0.5, default ``cmc``
settings (``points_per_shard: auto``).  Measures:

1. Shard jobs as the workflow runs them, one process each, sharing a fresh JAX
   compilation cache: the first shard compiles, the later ones load the program.  One
   later shard is also run without the cache, to show what the cache saves.
2. The whole stage in one process (what ``homodyne run --method cmc`` does after NLSQ):
   shard, sample every shard, combine, write the result files.
3. Effective samples per second: the smallest bulk ESS over parameters of the consensus
   (and of each shard) over the sampling seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and benchmarks/nlsq.py would
# shadow the nlsq package that homodyne.nlsq imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

from homodyne import layout, quality, runtime  # noqa: E402

runtime.configure()

import jax  # noqa: E402
import numpy as np  # noqa: E402

import homodyne  # noqa: E402
from homodyne.cmc import combine, make_shards, sample_shard  # noqa: E402
from homodyne.cmc.combine import read_posterior  # noqa: E402
from homodyne.cmc.diagnostics import posterior_table  # noqa: E402
from homodyne.config import AnalysisConfig, CMCConfig, NLSQConfig  # noqa: E402
from homodyne.data import load, simulate  # noqa: E402
from homodyne.nlsq import fit  # noqa: E402
from homodyne.results import write_cmc  # noqa: E402

TRUTH = {"D0": 1e4, "alpha": -0.5, "D_offset": 10.0}
Q, DT = 0.0054, 0.1
JOB = """
import sys, time
start = time.perf_counter()
from homodyne import runtime
runtime.configure()
from homodyne.cmc import sample_shard
from homodyne.config import CMCConfig
sample_shard(sys.argv[1], CMCConfig(), sys.argv[2], cache_dir=sys.argv[3] or None)
print(time.perf_counter() - start)
"""


def _job(shard: Path, out: Path, cache: Path | None) -> dict:
    """One shard job in its own process; wall time, sampler time and ESS of the shard."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", JOB, str(shard), str(out), str(cache or "")],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    post = read_posterior(out)
    from homodyne.cmc.diagnostics import chain_diagnostics

    ess = chain_diagnostics(post.draws)["ess_bulk_min"]
    return {"shard": shard.name, "cache": "none" if cache is None else "shared",
            "process_s": wall, "in_python_s": float(done.stdout.split()[-1]),
            "sampler_s": float(post.attrs["seconds"]),
            "compile_s": float(post.attrs["compile_seconds"]), "ess_bulk_min": ess,
            "ess_per_s": ess / float(post.attrs["seconds"]),
            "divergences": int(post.diverging.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cmc_bench_"))
    work.mkdir(parents=True, exist_ok=True)

    cpu = platform.processor() or platform.machine()
    print(f"homodyne {homodyne.__version__}, jax {jax.__version__}, {cpu}, "
          f"{jax.local_device_count()} host devices, work in {work}")
    path = simulate(work / "static.h5", mode="static", params=TRUTH, phi=[-30.0, 0.0, 30.0],
                    n_frames=args.frames, dt=DT, q=Q, contrast=0.3, noise=0.01, seed=1)
    data = load(path, q=Q, dt=DT)
    analysis = AnalysisConfig(mode="static", dt=DT)
    nlsq = fit(data, analysis, NLSQConfig())
    cfg = CMCConfig()
    shards = make_shards(data, nlsq, cfg, work / "jobs" / "shards", analysis=analysis)
    print(f"{data.n_points} points, {len(shards)} shards, NLSQ {nlsq.seconds:.1f} s")

    cache = work / "jobs" / ".jax_cache"
    jobs = [_job(s, work / "jobs" / f"posterior_{k:03d}.nc", cache)
            for k, s in enumerate(shards)]
    if len(shards) > 1:
        jobs.append(_job(shards[1], work / "jobs" / "posterior_nocache.nc", None))
    print(f"\n{'shard job':<14} {'cache':<7} {'process s':>10} {'sampler s':>10} "
          f"{'compile s':>10} {'ESS min':>8} {'ESS/s':>7} {'div':>4}")
    for j in jobs:
        print(f"{j['shard']:<14} {j['cache']:<7} {j['process_s']:>10.1f} {j['sampler_s']:>10.1f}"
              f" {j['compile_s']:>10.1f} {j['ess_bulk_min']:>8.0f} {j['ess_per_s']:>7.1f}"
              f" {j['divergences']:>4d}")

    staged = layout.dataset(work, "stage")
    start = time.perf_counter()
    paths = make_shards(data, nlsq, cfg, staged.shards, analysis=analysis)
    posteriors = [sample_shard(s, cfg, staged.posterior(k),
                               cache_dir=work / "stage" / ".jax_cache")
                  for k, s in enumerate(paths)]
    result = combine(posteriors, cfg)
    write_cmc(staged, result, table=posterior_table(result.names, result.draws),
              verdict=quality.cmc_verdict(result, khat=result.check.k_hat), settings={})
    stage = time.perf_counter() - start
    sampler = sum(s.seconds for s in result.shards)
    compiling = sum(float(read_posterior(p).attrs["compile_seconds"]) for p in posteriors)
    ess = float(np.min(result.ess_bulk))
    flat = result.draws.reshape(-1, len(result.names))
    print(f"\nwhole CMC stage in one process: {stage:.1f} s ({sampler:.1f} s in the sampler, "
          f"{compiling:.1f} s of it compiling or loading programs), "
          f"{result.n_shards_used}/{result.n_shards} shards used, "
          f"{result.divergences} divergences, consensus ESS bulk min {ess:.0f} "
          f"({ess / stage:.1f} per second of the stage), R-hat max {np.max(result.r_hat):.3f}")
    for name, mean, sd in zip(result.names, flat.mean(axis=0), flat.std(axis=0), strict=True):
        truth = TRUTH.get(name, {"contrast": 0.3, "offset": 1.0, "noise_scale": 1.0}.get(name))
        print(f"  {name:<12} {mean:12.6g} ± {sd:<10.3g} truth {truth:g}")
    if args.json:
        args.json.write_text(json.dumps({
            "points": data.n_points, "shards": len(shards), "jobs": jobs,
            "stage_s": stage, "stage_sampler_s": sampler, "stage_compile_s": compiling,
            "consensus_ess_bulk_min": ess,
            "shards_used": result.n_shards_used, "divergences": result.divergences,
        }, indent=2))


if __name__ == "__main__":
    main()
