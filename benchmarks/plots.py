"""Rendering time of the result figures (run by hand; results go into benchmarks/README.md).

    .venv/bin/python -P benchmarks/plots.py [--angles 8] [--frames 200] [--repeat 3]
                                            [--large-angles 23] [--large-frames 1000]

(``-P`` keeps ``benchmarks/`` off ``sys.path``: ``benchmarks/nlsq.py`` would shadow the
``nlsq`` package that the fit imports.)

1. NLSQ, end to end: a simulated laminar_flow dataset (``--angles`` x ``--frames``) is fitted
   and written as ``homodyne run`` does (fit time printed, not counted), then
   :func:`homodyne.plots.plot_nlsq` writes all its figures.  "first" includes one-off costs
   of the process (font cache, mathtext parsing); "best" is the best of ``--repeat`` calls.
   Target (issue 6): all NLSQ figures of 8 angles x 200 frames in < 5 s on 2 cores.
2. The same figures one by one (build + save), to see where the time goes.
3. A large dataset (``--large-angles`` x ``--large-frames``, model plus noise, no fit) through
   the same builders: heatmaps are strided for display above ``c2.MAX_FRAMES`` frames.
4. CMC figures from synthetic draws (4 chains x 1000 draws, 9 parameters, 10 shards).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np

import homodyne
from homodyne import layout, quality, runtime
from homodyne.config import AnalysisConfig
from homodyne.data import load, simulate
from homodyne.nlsq import fit
from homodyne.physics import compute_c2
from homodyne.plots import c2, plot_cmc, plot_nlsq, save_figure
from homodyne.problem import build_problem
from homodyne.results import read_nlsq, write_nlsq

runtime.configure()

MODE, Q, DT = "laminar_flow", 0.0054, 0.1
THETA = {"D0": 2e3, "alpha": 0.3, "gamma_dot_t0": 2e-3}


def _fitted_dataset(root: Path, n_phi: int, n_frames: int) -> layout.DatasetLayout:
    phi = np.linspace(-180.0, 180.0, n_phi, endpoint=False) + 22.5
    h5 = simulate(root / "bench.h5", mode=MODE, params=THETA, phi=phi, n_frames=n_frames,
                  dt=DT, q=Q, noise=0.01)
    data = load(h5, q=Q, dt=DT)
    analysis = AnalysisConfig(mode=MODE, dt=DT)
    start = time.perf_counter()
    result = fit(data, analysis)
    print(f"(fit of {n_phi} x {n_frames - 1} frames: {time.perf_counter() - start:.1f} s, "
          "not counted)")
    out = layout.dataset(root, "bench")
    model = build_problem(data, analysis, result.per_angle_effective).model_matrix(result.values)
    write_nlsq(out, result, data, c2_fit=model, verdict=quality.nlsq_verdict(result),
               settings={})
    return out


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _figures(t, phi, c2_exp, c2_fit, sigma, out: Path) -> dict[str, float]:
    """Build and save each NLSQ figure from arrays; seconds per figure kind."""
    def angles():
        panels = c2.AnglePanels(t)
        for p in range(len(phi)):
            save_figure(panels.show(c2_exp[p], c2_fit[p], sigma[p], title="bench"),
                        out / f"angle{p}.png")

    builders = {
        f"{len(phi)} angle heatmaps": angles,
        "overview": lambda: save_figure(
            c2.c2_overview_figure(t, phi, c2_exp, c2_fit, sigma, title="bench"),
            out / "overview.png"),
        "cuts": lambda: save_figure(
            c2.c2_cuts_figure(t, phi, c2_exp, c2_fit, sigma, title="bench"), out / "cuts.png"),
        "residual histogram": lambda: save_figure(
            c2.residual_histogram_figure(c2_exp, c2_fit, sigma, title="bench"),
            out / "hist.png"),
    }
    return {name: _timed(build)[0] for name, build in builders.items()}


def _synthetic_cmc(folder: layout.DatasetLayout) -> None:
    rng = np.random.default_rng(0)
    names = ["D0", "alpha", "D_offset", "gamma_dot_t0", "beta", "gamma_dot_t_offset", "phi0",
             "contrast", "offset"]
    centre = np.array([2e3, 0.3, 10.0, 2e-3, 0.0, 0.0, 0.0, 0.3, 1.0])
    scale = np.array([50.0, 0.01, 5.0, 1e-5, 1e-3, 1e-4, 0.05, 1e-3, 1e-4])
    mixing = np.eye(9) + 0.3 * rng.normal(size=(9, 9))
    draws = centre + scale * (rng.normal(size=(4, 1000, 9)) @ mixing.T)
    means = centre + scale * rng.normal(size=(10, 9))
    used = np.ones(10, dtype=bool)
    used[3] = False
    Path(folder.cmc_npz).parent.mkdir(parents=True, exist_ok=True)
    np.savez(folder.cmc_npz, draws=draws, names=np.array(names),
             shard_means=means, shard_sds=np.tile(3 * scale, (10, 1)), shard_used=used)
    Path(folder.cmc_diagnostics).write_text(json.dumps({"shards": []}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--angles", type=int, default=8)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--large-angles", type=int, default=23)
    ap.add_argument("--large-frames", type=int, default=1000)
    args = ap.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"homodyne {homodyne.__version__}, matplotlib {matplotlib.__version__} "
          f"(backend of these figures: Agg canvas), {cpu}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = _fitted_dataset(root, args.angles, args.frames + 1)
        first, written = _timed(lambda: plot_nlsq(folder, folder.plots))
        best = min(_timed(lambda: plot_nlsq(folder, folder.plots))[0] for _ in range(args.repeat))
        size = sum(p.stat().st_size for p in written) / 1e6
        print(f"\nplot_nlsq, {args.angles} angles x {args.frames} frames: {len(written)} "
              f"PNGs ({size:.1f} MB), first {first:.2f} s, best of {args.repeat} {best:.2f} s")

        r = read_nlsq(folder)
        print("\nper figure (build + save), same dataset:")
        for name, seconds in _figures(r.t, r.phi, r.c2_exp, r.c2_fit, r.sigma, root).items():
            print(f"  {name:<24} {seconds:6.2f} s")

        n, n_phi = args.large_frames, args.large_angles
        t = DT * np.arange(1, n + 1)
        phi = np.linspace(-180.0, 180.0, n_phi, endpoint=False)
        theta = np.array([2e3, 0.3, 10.0, 2e-3, 0.0, 0.0, 0.0])
        model = np.asarray(compute_c2(MODE, theta, t, phi, q=Q, dt=DT, contrast=0.3))
        data = model + np.random.default_rng(0).normal(0.0, 0.01, model.shape)
        seconds = _figures(t, phi, data, model, np.full(n_phi, 0.01), root)
        print(f"\nlarge, {n_phi} angles x {n} frames (display stride "
              f"{c2.stride(n, c2.MAX_FRAMES)} per angle, "
              f"{c2.stride(n, c2.MAX_OVERVIEW_FRAMES)} in the overview): "
              f"{sum(seconds.values()):.2f} s")
        for name, value in seconds.items():
            print(f"  {name:<24} {value:6.2f} s")

        _synthetic_cmc(folder)
        first, written = _timed(lambda: plot_cmc(folder, folder.plots))
        print(f"\nplot_cmc, 4 chains x 1000 draws, 9 parameters, 10 shards: {len(written)} "
              f"PNGs in {first:.2f} s")


if __name__ == "__main__":
    main()
