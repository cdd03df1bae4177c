"""Bayesian posteriors at production scale (run by hand; record numbers, date and load).

    .venv/bin/python -P benchmarks/production.py --frames 300 [--shards 1 100] [--workdir DIR]
        [--method auto|nuts|importance] [--plots] [--cmc chains=2 samples=150 ...]

Simulated laminar_flow, 23 angles, beta != 0 (D0 1e4, alpha -0.5, D_offset 10,
gamma_dot_t0 0.002, beta 0.2, gamma_dot_t_offset 0, phi0 5), per-angle contrast of Fourier
form (0.3 + 0.03 cos phi + 0.02 sin phi), noise 0.01, analysed with
``per_angle_mode: fourier``.  For each ``--shards`` value it runs the whole pipeline as a
user does, ``homodyne run --method both`` in its own process with default settings except
``cmc.shards`` and ``cmc.method`` (and the ``--cmc`` overrides, to afford K >= 100 shards on
two cores; ``--plots`` adds the figures), and records wall and CPU time (the child's user +
system), its peak memory, the machine load (``uptime``) before and after, the posterior
method with its k-hat and weights' ESS, the ESS per CPU-second, the posterior sd against the
NLSQ 1 sigma, and the truth in posterior sds.  Results accumulate in
``<workdir>/23x<frames>/results.json`` keyed by run, so runs may be made one at a time;
every run other than the one-shard NUTS run (``--shards 1 --method nuts``, made first) is
compared with it: mean shift in its posterior sds, sd ratio, largest correlation difference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from homodyne import runtime  # noqa: E402
from homodyne.data import simulate  # noqa: E402

TRUTH = {"D0": 1e4, "alpha": -0.5, "D_offset": 10.0, "gamma_dot_t0": 0.002, "beta": 0.2,
         "gamma_dot_t_offset": 0.0, "phi0": 5.0}
PHYSICAL = tuple(TRUTH)
Q, DT = 0.0054, 0.1


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def dataset(work: Path, frames: int) -> Path:
    path = work / f"laminar_23x{frames}.h5"
    if not path.exists():
        phi = np.linspace(-180.0, 180.0, 23, endpoint=False) + 3.0
        rad = np.radians(phi)
        simulate(path, mode="laminar_flow", params=TRUTH, phi=phi, n_frames=frames, dt=DT,
                 q=Q, contrast=0.3 + 0.03 * np.cos(rad) + 0.02 * np.sin(rad), noise=0.01,
                 seed=1)
    return path


REFERENCE = "shards_1_method_nuts"
"""The run every other is compared with: one-shard (full-data) NUTS."""


def run(work: Path, data: Path, shards, overrides: dict, plots: bool = False) -> dict:
    """``homodyne run --method both`` on ``data`` with ``cmc.shards: shards`` and the
    ``overrides`` of other ``cmc`` keys (``--plots`` with ``plots``)."""
    cmc = {"shards": shards, **overrides}
    out = work / "_".join(f"{k}_{v}" for k, v in cmc.items())
    config = out / "config.yaml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({
        "datasets": [{"name": "lam", "file": str(data), "q": Q}],
        "analysis": {"mode": "laminar_flow", "dt": DT, "per_angle_mode": "fourier"},
        "cmc": cmc}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = _uptime()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-P", "-m", "homodyne.cli", "run", str(config),
                           "--method", "both", "--output", str(out / "results"),
                           *(["--plots"] if plots else [])],
                          capture_output=True, text=True, env={**os.environ})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (out / "run.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        raise SystemExit(f"homodyne run failed, see {out / 'run.log'}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res = out / "results" / "lam"
    nlsq = json.loads((res / "nlsq/nlsq_results.json").read_text())
    diag = json.loads((res / "cmc/mcmc_diagnostics.json").read_text())
    npz = np.load(res / "cmc/mcmc_results.npz")
    names = [str(n) for n in npz["names"]]
    draws = npz["draws"].reshape(-1, len(names))
    ess = diag["overall"]["ess_bulk_min"]
    sd = draws.std(axis=0, ddof=1)
    mean = draws.mean(axis=0)
    phys = [names.index(n) for n in PHYSICAL if n in names]
    nlsq_sd = np.array([nlsq["parameters"][names[k]]["uncertainty"] for k in phys], float)
    sampled = diag.get("importance") or {}
    return {
        "run": out.name, "cmc": cmc, "plots": plots, "n_shards": len(diag["shards"]),
        "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": after.ru_maxrss / 1024,
        "method": diag.get("method", "nuts"), "importance": sampled,
        "nlsq_s": nlsq["seconds"], "posterior_s": sum(s["seconds"] for s in diag["shards"]),
        "load_before": load_before, "load_after": _uptime(),
        "k_hat": diag["self_check"]["k_hat"], "weight_ess": diag["self_check"]["ess"],
        "reweighted": diag["self_check"]["reweighted"],
        "ess_bulk_min": ess, "ess_per_cpu_s": ess / cpu,
        "r_hat_max": diag["overall"]["r_hat_max"], "divergences": diag["overall"]["divergences"],
        "sd_over_nlsq": dict(zip([names[k] for k in phys], (sd[phys] / nlsq_sd).tolist(),
                                 strict=True)),
        "truth_in_sd": {names[k]: float((mean[k] - TRUTH[names[k]]) / sd[k]) for k in phys},
        "names": names, "mean": mean.tolist(), "sd": sd.tolist(),
        "corr": np.corrcoef(draws, rowvar=False).tolist(),
    }


def compare(ref: dict, other: dict) -> dict:
    """Accuracy of ``other`` against the reference posterior (full-data NUTS): the largest
    and the root-mean-square mean shift (in reference sds), sd ratio and correlation
    difference, and the Monte Carlo noise those would have between two exact samplers of
    the two runs' effective sample sizes (``noise_*``: the sd of a mean shift, of a
    correlation, √(1/ESS_a + 1/ESS_b)), so that a difference can be told from noise."""
    mean, sd = np.array(ref["mean"]), np.array(ref["sd"])
    shift = np.abs(np.array(other["mean"]) - mean) / sd
    ratio = np.array(other["sd"]) / sd
    corr_ref, corr = np.array(ref["corr"]), np.array(other["corr"])
    upper = np.triu_indices_from(corr_ref, k=1)
    dcorr = np.abs(corr - corr_ref)[upper]
    noise = float(np.sqrt(1.0 / ref["ess_bulk_min"] + 1.0 / other["ess_bulk_min"]))
    return {"max_mean_shift_in_sd": float(np.max(shift)),
            "rms_mean_shift_in_sd": float(np.sqrt(np.mean(shift**2))),
            "sd_ratio_range": [float(np.min(ratio)), float(np.max(ratio))],
            "rms_sd_ratio_minus_1": float(np.sqrt(np.mean((ratio - 1.0) ** 2))),
            "max_corr_difference": float(np.max(dcorr)),
            "rms_corr_difference": float(np.sqrt(np.mean(dcorr**2))),
            "noise_mean_shift_in_sd": noise,
            "noise_corr": float(np.sqrt(np.mean(((1 - corr_ref[upper] ** 2) * noise) ** 2))),
            "reference_ess": ref["ess_bulk_min"], "ess": other["ess_bulk_min"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--shards", nargs="+", default=["1"])
    ap.add_argument("--workdir", type=Path, default=Path("benchmark_production"))
    ap.add_argument("--method", default="auto", choices=["auto", "nuts", "importance"])
    ap.add_argument("--plots", action="store_true", help="draw the figures too")
    ap.add_argument("--compare", metavar="REFERENCE",
                    help="run nothing: compare every recorded run with the run REFERENCE "
                         f"(e.g. a longer NUTS run; default {REFERENCE})")
    ap.add_argument("--cmc", nargs="*", default=[], metavar="KEY=VALUE",
                    help="other cmc settings of these runs (integers), e.g. chains=2")
    args = ap.parse_args()
    runtime.configure()  # float64 for the simulated data
    overrides = {"method": args.method,
                 **{k: int(v) for k, v in (item.split("=", 1) for item in args.cmc)}}
    work = args.workdir / f"23x{args.frames}"
    work.mkdir(parents=True, exist_ok=True)
    store = work / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    if args.compare:
        for name, r in results.items():
            if name != args.compare:
                print(name, json.dumps(compare(results[args.compare], r), indent=1))
        return
    data = dataset(work, args.frames)
    for shards in args.shards:
        shards = shards if shards == "auto" else int(shards)
        r = run(work, data, shards, overrides, args.plots)
        reference = results.get(REFERENCE)
        if r["run"] != REFERENCE and reference is not None:
            r["versus_full_data_nuts"] = compare(reference, r)
        results[r["run"]] = r
        slim = {k: v for k, v in r.items() if k not in ("names", "mean", "sd", "corr")}
        print(json.dumps(slim, indent=1), flush=True)
        store.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
