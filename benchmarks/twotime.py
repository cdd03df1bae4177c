"""Time and memory of the model-free views step (run by hand; results go into
benchmarks/README.md, "Model-free views").

    .venv/bin/python -P benchmarks/twotime.py [--angles 23] [--frames 500] [--windows 5]

A synthetic dataset (stationary decay plus noise) is written as ``filtered.h5`` with a fake
NLSQ npz (the noiseless matrix as ``c2_fit``), then the pure functions of
:mod:`homodyne.twotime` are timed one by one and :func:`homodyne.steps.twotime_step` end to
end (reading the files, both views, both figures).  Prints wall and CPU seconds and the
process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import numpy as np

from homodyne import runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--angles", type=int, default=23)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args()
    runtime.configure(1)
    from homodyne import layout, steps, twotime
    from homodyne.config import parse_config
    from homodyne.data import Provenance, XPCSData, write_xpcs
    from homodyne.io import write_npz

    n, n_phi = args.frames, args.angles
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    fit = np.repeat((1 + 0.3 * np.exp(-lag / 20.0))[None], n_phi, axis=0)
    noise = np.triu(np.random.default_rng(0).normal(0, 0.01, fit.shape), 1)
    c2 = fit + noise + np.swapaxes(noise, 1, 2)
    t, phi = 0.1 * np.arange(1, n + 1), np.linspace(-90, 90, n_phi)
    keep = np.ones((n, n), dtype=bool)
    for name, call in (("one_time_from_two_time", lambda: twotime.one_time_from_two_time(
                            c2, keep, 0.1)),
                       ("ageing", lambda: twotime.ageing(c2, keep, t, 0.1, args.windows)),
                       ("candidate_bad_frames", lambda: twotime.candidate_bad_frames(c2))):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        print(f"{n_phi} x {n} {name}: {time.perf_counter() - wall:.2f} s wall, "
              f"{time.process_time() - cpu:.2f} s CPU")
    with tempfile.TemporaryDirectory() as tmp:
        out = layout.dataset(tmp, "bench")
        write_xpcs(out.filtered, XPCSData(q=0.005, phi=phi, t=t, dt=0.1, c2=c2,
                                          sigma=np.full(n_phi, 0.01),
                                          provenance=Provenance(frames=(1, n + 1))))
        write_npz(out.nlsq_npz, c2_fit=fit, phi=phi, t=t)
        with open(out.nlsq_json, "w") as fh:
            json.dump({"mode": "static"}, fh)
        ds = parse_config({"datasets": [{"name": "bench", "file": "x.h5", "q": 0.005}],
                           "analysis": {"mode": "static", "dt": 0.1},
                           "twotime": {"age_windows": args.windows}}).datasets[0]
        wall, cpu = time.perf_counter(), time.process_time()
        steps.twotime_step(ds, out.filtered, out.nlsq_npz, out, {"svg": False})
        print(f"{n_phi} x {n} twotime step: {time.perf_counter() - wall:.1f} s wall, "
              f"{time.process_time() - cpu:.1f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB (the inputs built here included)")


if __name__ == "__main__":
    main()
