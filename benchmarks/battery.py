"""A battery of realistic simulated datasets, each fitted with the default config (issue 20).

    .venv/bin/python -P benchmarks/battery.py [--cases 32] [--seed 2026] [--only 3 7]
        [--workdir benchmark_battery]

Each case draws a random truth over physically plausible ranges (:func:`draw_case`): static or
laminar_flow, D0 10³–10⁵, alpha −1…0.3, D_offset up to 5 % of the smallest D(t) of the
window and of either sign, gamma_dot_t0 10⁻⁴–10⁻², beta −0.5…0.5, gamma_dot_t_offset ≥ 0,
phi0 within ±30°; 1–23 angles spread unevenly over a random span (asymmetric, with gaps);
a per-angle contrast that is constant, smooth in φ or scattered from angle to angle; 100–500
frames; noise 0.004–0.03.  q and dt are chosen as an experimenter would: the diffusive decay
takes 5–40 frames at mid-window and, with shear, the shear decorrelation at that lag is of
the same order (sinc argument 0.3–3).  The dataset is written by
:func:`homodyne.data.simulate` (the truth never reaches the fit) and fitted exactly as the
``nlsq`` step does with a config that names only the file, q, mode and dt.

Every case is classified (:func:`classify`):

* **recovered**: every free physical parameter that the verdict does not call unidentified
  (``unidentified`` or ``correlated`` reasons) lies within 4σ of the truth;
* **flagged**: not recovered, and the verdict is not ``ok``;
* **confidently wrong**: not recovered, and the verdict is ``ok``.

Results accumulate in ``<workdir>/battery.json`` (one entry per case, with its wall time);
the summary line prints the three counts.  :func:`draw_case` and :func:`run_case` are also
what the fast subset in ``tests/test_battery.py`` runs.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import numpy as np  # noqa: E402

from homodyne.params import DEFAULT_L  # noqa: E402  (the simulations' stator-rotor gap)

PULL_LIMIT = 4.0
"""A parameter further than this many σ from the truth is not recovered."""


def _log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _angles(rng, n: int) -> list[float]:
    """``n`` angles spread unevenly over a random span: asymmetric about any axis, with gaps."""
    span = rng.uniform(90.0, 360.0)
    slots = max(36, 2 * n)
    chosen = np.sort(rng.choice(slots, n, replace=False))
    start = rng.uniform(-180.0, 180.0)
    phi = start + chosen * span / slots + rng.uniform(-2.0, 2.0, n)
    return sorted(float((p + 180.0) % 360.0 - 180.0) for p in phi)


def _contrast(rng, phi, form: str) -> list[float]:
    level = rng.uniform(0.08, 0.4)
    rad = np.radians(phi)
    if form == "constant":
        values = np.full(len(phi), level)
    elif form == "smooth":
        a, b = rng.uniform(-0.15, 0.15, 2)
        values = level * (1 + a * np.cos(rad) + b * np.sin(rad) + 0.5 * a * b * np.cos(2 * rad))
    else:  # scattered
        values = level * (1 + rng.normal(0.0, rng.uniform(0.02, 0.08), len(phi)))
    return [float(v) for v in values]


def _rates(p: dict, t: float) -> tuple[float, float]:
    d = p["D0"] * t ** p["alpha"] + p["D_offset"]
    g = p.get("gamma_dot_t0", 0.0) * t ** p.get("beta", 0.0) + p.get("gamma_dot_t_offset", 0.0)
    return d, g


def draw_case(index: int, seed: int = 2026) -> dict:
    """Case ``index`` of the battery with master seed ``seed`` (the same arguments, the same
    case): mode, truth, angles, frames, q, dt, contrast, noise and the simulation seed."""
    rng = np.random.default_rng([seed, index])
    mode = "static" if index % 3 == 0 else "laminar_flow"
    n_phi = int(rng.choice([1, 2, 3, 4, 6, 9, 12, 23] if mode == "static"
                           else [3, 4, 5, 6, 8, 10, 12, 16, 23]))
    while True:
        n_frames = round(_log_uniform(rng, 100, 500))
        p = {"D0": _log_uniform(rng, 1e3, 1e5), "alpha": float(rng.uniform(-1.0, 0.3)),
             "D_offset": 0.0}
        n_decay = _log_uniform(rng, 5, 40)
        if mode == "laminar_flow":
            p.update(gamma_dot_t0=_log_uniform(rng, 1e-4, 1e-2),
                     beta=float(rng.uniform(-0.5, 0.5)), gamma_dot_t_offset=0.0,
                     phi0=float(rng.uniform(-30.0, 30.0)))
            strength = _log_uniform(rng, 0.3, 3.0)
            dt = 0.1
            for _ in range(50):  # q and dt such that both decays show at mid-window
                d, g = _rates(p, dt * n_frames / 2)
                q = DEFAULT_L * g / (2 * math.pi * strength * d)
                dt = min(max(1.0 / (q * q * d * n_decay), 1e-4), 100.0)
        else:
            dt = _log_uniform(rng, 0.01, 1.0)
            d, _ = _rates(p, dt * n_frames / 2)
            q = math.sqrt(1.0 / (d * n_decay * dt))
        if not (5e-4 <= q <= 0.2 and 1e-3 <= dt <= 10.0):
            continue
        t = dt * np.arange(1, n_frames)
        d_min = float(np.min(p["D0"] * t ** p["alpha"]))
        p["D_offset"] = float(rng.uniform(-0.05, 0.05) * d_min)
        if mode == "laminar_flow" and rng.uniform() < 0.5:
            p["gamma_dot_t_offset"] = float(rng.uniform(0.0, 0.05) * _rates(p, t[-1] / 2)[1])
        break
    phi = _angles(rng, n_phi)
    form = str(rng.choice(["constant", "smooth", "scattered"]))
    return {"index": index, "mode": mode, "truth": p, "phi": phi, "n_frames": n_frames,
            "q": float(q), "dt": float(dt), "contrast_form": form,
            "contrast": _contrast(rng, phi, form), "offset": 1.0,
            "noise": _log_uniform(rng, 0.004, 0.03), "seed": int(rng.integers(2**31))}


def simulate_case(case: dict, work: Path) -> Path:
    """Write the case's dataset (and its truth file) under ``work``."""
    from homodyne.data import simulate

    path = work / f"case_{case['index']:03d}.h5"
    if not path.exists():
        simulate(path, mode=case["mode"], params=case["truth"], phi=case["phi"],
                 n_frames=case["n_frames"], dt=case["dt"], q=case["q"], L=DEFAULT_L,
                 contrast=case["contrast"], offset=case["offset"], noise=case["noise"],
                 seed=case["seed"])
    return path


def unidentified(reasons) -> set[str]:
    """Parameters the verdict calls unidentified (``unidentified``, both of a
    ``correlated`` pair)."""
    out = set()
    for r in reasons:
        if r["check"] == "unidentified" and r["parameter"]:
            out.add(r["parameter"])
        if r["check"] == "correlated":
            out.update(p for p in (r["parameter"], r.get("partner")) if p)
    return out


def classify(truth: dict, values: dict, sigma: dict, quality: dict) -> dict:
    """``recovered`` / ``flagged`` / ``confidently_wrong`` of one fit, with every pull
    ``(value - truth) / σ`` of the parameters judged."""
    skip = unidentified(quality["reasons"])
    pulls = {}
    for name, true in truth.items():
        if name in skip or name not in values:
            continue
        s = sigma.get(name)
        pulls[name] = (values[name] - true) / s if s and math.isfinite(s) and s > 0 else math.inf
    recovered = all(abs(v) < PULL_LIMIT for v in pulls.values())
    verdict = quality["verdict"]
    label = ("recovered" if recovered else "flagged" if verdict != "ok"
             else "confidently_wrong")
    return {"class": label, "verdict": verdict, "pulls": pulls, "skipped": sorted(skip)}


def run_case(case: dict, work: Path) -> dict:
    """Fit one case with the default config, as the ``nlsq`` step does; classify it."""
    from homodyne import quality
    from homodyne.config import parse_config
    from homodyne.data import load
    from homodyne.errors import HomodyneError
    from homodyne.nlsq import fit

    path = simulate_case(case, work)
    config = {"datasets": [{"name": f"case{case['index']}", "file": str(path),
                            "q": case["q"]}],
              "analysis": {"mode": case["mode"], "dt": case["dt"]}}
    ds = parse_config(config).datasets[0]
    began = time.perf_counter()
    try:
        data = load(ds.file, q=ds.q, dt=ds.analysis.dt)
        result = fit(data, ds.analysis, ds.nlsq)
    except HomodyneError as exc:
        out = {"class": "flagged", "verdict": "error", "error": str(exc), "pulls": {}}
    else:
        verdict = quality.nlsq_verdict(result)
        n = len(case["truth"])
        values = dict(zip(result.names[:n], map(float, result.values[:n]), strict=True))
        sigma = dict(zip(result.names[:n], map(float, result.uncertainties[:n]), strict=True))
        out = classify(case["truth"], values, sigma, verdict)
        out.update(reduced_chi2=result.reduced_chi2, per_angle=result.per_angle_effective,
                   decay_score=max(result.decay_check["score"]) if result.decay_check else None,
                   linearity=result.linearity,
                   remaining_chi2=result.remaining_chi2,
                   starts=result.starts, optima=len(result.optima), search=result.search,
                   reasons=[f"[{r['severity']}] {r['check']}: {r['parameter']}"
                            for r in verdict["reasons"]],
                   values=values, sigma=sigma)
    out["seconds"] = time.perf_counter() - began
    out["points"] = case["n_frames"] * (case["n_frames"] - 1) // 2 * len(case["phi"])
    return out


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=32)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--only", type=int, nargs="*", help="run only these case indices")
    ap.add_argument("--workdir", type=Path, default=Path("benchmark_battery"))
    args = ap.parse_args()
    from homodyne import runtime

    runtime.configure()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    store = work / "battery.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for index in args.only if args.only is not None else range(args.cases):
        case = draw_case(index, args.seed)
        load_before = _uptime()
        r = run_case(case, work)
        r.update(case={k: v for k, v in case.items() if k not in ("contrast",)},
                 load_before=load_before)
        results[str(index)] = r
        store.write_text(json.dumps(results, indent=1, default=float))
        worst = max(r["pulls"].items(), key=lambda kv: abs(kv[1]), default=("-", 0.0))
        print(f"case {index:2d} {case['mode']:<12} {len(case['phi']):2d}x{case['n_frames']:<3d} "
              f"{r['class']:<17} verdict {r['verdict']:<7} worst pull {worst[0]} "
              f"{worst[1]:+.1f}  chi2_red {r.get('reduced_chi2', math.nan):.4f}  "
              f"{r['seconds']:.1f} s", flush=True)
    counts = {k: sum(r["class"] == k for r in results.values())
              for k in ("recovered", "flagged", "confidently_wrong")}
    print(json.dumps({"cases": len(results), **counts}), flush=True)


if __name__ == "__main__":
    main()
