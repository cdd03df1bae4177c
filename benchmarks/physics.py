"""Throughput of the physics kernels (run by hand; results go into benchmarks/README.md).

    .venv/bin/python benchmarks/physics.py [--frames 1000] [--angles 23] [--repeat 3]

Measures points per second of ``compute_c2`` and of its Jacobian (forward mode, 7
parameters) for laminar_flow on the full matrix, and of the pooled-point evaluation and its
Jacobian for one 5000-point shard.  Compilation is timed separately from the steady state.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import homodyne
from homodyne import runtime
from homodyne.physics import compute_c2, compute_c2_points

runtime.configure()

THETA = jnp.array([1.0e4, -0.5, 10.0, 2.0e-3, 0.0, 0.0, 0.0])
Q, DT = 0.0054, 0.1


def _time(fn, repeat):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return first, best


def _report(label, points, first, best):
    print(f"{label:<34} {points:>12,d} {first:>9.3f} {best:>9.4f} {points / best:>14,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--angles", type=int, default=23)
    ap.add_argument("--shard", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t = DT * np.arange(1, args.frames + 1)
    phi = np.linspace(-180.0, 180.0, args.angles, endpoint=False)
    cpu = platform.processor() or platform.machine()
    print(f"homodyne {homodyne.__version__}, jax {jax.__version__}, {cpu}, "
          f"{jax.device_count()} host devices")
    print(f"{'what':<34} {'points':>12} {'first s':>9} {'best s':>9} {'points/s':>14}")

    def matrix(theta):
        return compute_c2("laminar_flow", theta, t, phi, q=Q, dt=DT, contrast=0.3)

    n_matrix = args.angles * args.frames**2
    _report(f"c2 matrix {args.angles}x{args.frames}", n_matrix,
            *_time(lambda: matrix(THETA), args.repeat))
    jac_matrix = jax.jit(jax.jacfwd(matrix))
    _report(f"jacobian matrix {args.angles}x{args.frames}", n_matrix,
            *_time(lambda: jac_matrix(THETA), args.repeat))

    rng = np.random.default_rng(0)
    i = rng.integers(0, args.frames, args.shard)
    j = rng.integers(0, args.frames, args.shard)
    p = rng.integers(0, args.angles, args.shard)

    def points(theta):
        return compute_c2_points("laminar_flow", theta, t, phi, i, j, p, q=Q, dt=DT, contrast=0.3)

    pooled = jax.jit(points)
    _report(f"c2 pooled shard ({args.shard} pts)", args.shard,
            *_time(lambda: pooled(THETA), args.repeat * 10))
    jac_pooled = jax.jit(jax.jacfwd(points))
    _report(f"jacobian pooled shard ({args.shard} pts)", args.shard,
            *_time(lambda: jac_pooled(THETA), args.repeat * 10))


if __name__ == "__main__":
    main()
