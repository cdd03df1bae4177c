"""Memory and run-time of the jobs: the workflow's requests from input sizes, and the NLSQ
peak ``homodyne validate`` predicts from a dataset's size before anything runs.

Both are models of measured peaks, kept in one place so that a new measurement changes one
module.  A scheduler kills a job that exceeds its request and idles one that asks too much.
The memory request of a step is a base (Python, JAX, the step's libraries and compiled
programs) plus what the step holds per MB of input, rounded up to 100 MB.  Both numbers are
set from the peak resident memory measured for every step on the demo, the CHX matrix and a
23 x 500 laminar_flow dataset (``benchmarks/memory_peaks.csv``, table and method in
``benchmarks/README.md``), so that every request is at least :data:`MARGIN` times the
measured peak; ``tests/test_resources.py`` keeps it so.  Each retry (``attempt``) doubles the
request, so a job killed for memory or time gets what it needs next time.
:func:`nlsq_peak_bytes` counts the bytes the NLSQ fit holds (benchmarks/README.md "NLSQ";
``tests/test_validate.py`` keeps it within the measured peaks), for a run that has no input
file to measure yet: the plan of :func:`homodyne.problem.plan`.
"""

from __future__ import annotations

import math

MARGIN = 1.2
"""Requests exceed every recorded peak by at least this factor (20 %)."""

_BASE_MB = {
    "load": 400, "filter": 400,  # Python, h5py, numpy: ~200 MB measured
    "nlsq": 800,  # + JAX, nlsq and the compiled model and Jacobian: ~360 MB on small data
    "shard": 400,
    "nuts": 1500,  # + NumPyro and the pmapped sampler: 680-1190 MB measured per shard job
    "combine": 1000,
    "plot": 1000,
    "twotime": 1000,  # + matplotlib, as plot
    "summary": 1000,
}
_PER_INPUT_MB = {
    "load": 4.5,  # the raw window, its float64 copy, the corrected matrices and the data
    # checks (bad-frame scan) of the load step: 910 MB for 184 MB at 23 x 1000
    "filter": 3.0,
    "nlsq": 8.0,  # data, model, residual matrices and (full strategy) the Jacobian
    "shard": 6.0,
    "nuts": 20.0,  # padded points, per-chain gradients
    "combine": 4.0,
    "plot": 6.0,
    "twotime": 4.0,  # data, the fitted model, their one-time and windowed averages
    "summary": 0.0,
}
_MINUTES = {"load": 10, "filter": 10, "nlsq": 30, "shard": 10, "nuts": 60, "combine": 15,
            "plot": 15, "twotime": 10, "summary": 5}
_MINUTES_PER_GB = {"load": 5, "filter": 5, "nlsq": 60, "shard": 10, "nuts": 600,
                   "combine": 10, "plot": 20, "twotime": 10, "summary": 0}

SHARDS_PER_JOB_AUTO = 5
"""Shards bundled per scheduler job when ``cmc.shards_per_job: auto``: a shard's NUTS takes
one to two minutes with the automatic shard size, so a bundle is a job of several minutes."""


def mem_mb(step: str, input_bytes: float, attempt: int = 1) -> int:
    """Memory request (MB) of ``step`` for ``input_bytes`` of input, doubled per retry."""
    need = _BASE_MB[step] + _PER_INPUT_MB[step] * input_bytes / 1e6
    return math.ceil(need / 100.0) * 100 * 2 ** (attempt - 1)


def runtime_min(step: str, input_bytes: float, attempt: int = 1) -> int:
    """Wall-time request (minutes) of ``step``, doubled per retry."""
    need = _MINUTES[step] + _MINUTES_PER_GB[step] * input_bytes / 1e9
    return math.ceil(need) * 2 ** (attempt - 1)


def combine_mem_mb(input_bytes: float, shard_bytes: list[float], fallback: bool,
                   attempt: int = 1) -> int:
    """Memory request (MB) of a combine job reading ``input_bytes`` of posteriors and shard
    files; where a sharded importance-sampling run may fall back to NUTS in it
    (``fallback``), at least that of the largest shard's NUTS job."""
    own = mem_mb("combine", input_bytes, attempt)
    if not fallback or not shard_bytes:
        return own
    return max(own, mem_mb("nuts", max(shard_bytes), attempt))


def combine_runtime_min(input_bytes: float, shard_bytes: list[float], fallback: bool,
                        attempt: int = 1) -> int:
    """Wall-time request (minutes) of a combine job; with a possible NUTS ``fallback`` (a
    sharded importance-sampling run under ``cmc.method: auto``), plus the time of every
    shard's NUTS job, which it then runs one after another."""
    own = runtime_min("combine", input_bytes, attempt)
    if not fallback:
        return own
    return own + sum(runtime_min("nuts", b, attempt) for b in shard_bytes)


def shards_per_job(setting: int | str) -> int:
    """Resolve ``cmc.shards_per_job`` (a positive number or ``"auto"``)."""
    return SHARDS_PER_JOB_AUTO if setting == "auto" else max(1, int(setting))


SOLVER_BYTES = 100
"""Bytes per point and free parameter of a dense Jacobian solve (``homodyne.nlsq``)."""
POINT_BYTES = 8
"""Bytes per point of the problem's data block ``y`` (float64; the shared frame-pair layout
is one per pair, not per point, and negligible next to it)."""
CHUNKED_POINT_BYTES = 40
"""Bytes per point of the chunked strategy's padded chunk copies and per-point temporaries:
set from the peaks of the global search's fits measured at 23 × 500 and 23 × 1000 frames
(795.6 MB and 1.32 GB for the whole process, benchmarks/README.md "NLSQ"); with the 8 bytes
of one copy the estimate missed a third of the 23 × 1000 peak."""


def nlsq_peak_bytes(strategy: str, n_points: int, n_free: int, n_phi: int, n_frames: int, *,
                    chunk_points: int, explore_points: int) -> int:
    """Estimated peak memory of an NLSQ fit beyond the libraries' own (what to request from a
    scheduler).

    The loaded matrices (8 bytes × n_phi × n_frames²) and the point arrays
    (:data:`POINT_BYTES` per point) are always held.  ``full`` adds a dense Jacobian solve
    over every point (:data:`SOLVER_BYTES` per point and free parameter); ``chunked`` adds the
    padded chunk copies of the points (:data:`CHUNKED_POINT_BYTES` per point) and dense solves
    over one chunk (``chunk_points``) and over the subsample the global search explores
    (``explore_points``).
    """
    held = 8 * n_phi * n_frames**2 + POINT_BYTES * n_points
    if strategy == "full":
        return held + SOLVER_BYTES * n_points * n_free
    n_sub = min(explore_points, n_points)
    dense = SOLVER_BYTES * (min(chunk_points, n_points) + n_sub) * n_free
    return held + CHUNKED_POINT_BYTES * n_points + dense
