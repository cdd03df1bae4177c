"""Memory and run-time requests of the workflow's jobs, estimated from their input sizes.

A scheduler kills a job that exceeds its request and idles one that asks too much.  The
memory request of a step is a base (Python, JAX, the step's libraries and compiled programs)
plus what the step holds per MB of input, rounded up to 100 MB.  Both numbers are set from
the peak resident memory measured for every step on the demo, the CHX matrix and a
23 x 500 laminar_flow dataset (``benchmarks/memory_peaks.csv``, table and method in
``benchmarks/README.md``), so that every request is at least :data:`MARGIN` times the
measured peak; ``tests/test_resources.py`` keeps it so.  Each retry (``attempt``) doubles the
request, so a job killed for memory or time gets what it needs next time.
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
    "load": 3.0,  # the raw window, its float64 copy and the corrected matrices
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
