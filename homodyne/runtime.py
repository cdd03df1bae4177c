"""Process set-up of JAX, made once, explicitly, at the start of a job or command.

JAX reads its host device count from ``XLA_FLAGS`` when its backend starts, and float64 must
be on before the first array is made.  Both are set here, by the workflow's job scripts, the
``homodyne`` command and the test session, never by ``import homodyne``: an import-time
setting in the Snakemake process would be inherited by every job through the environment
and size each job to the machine instead of to its ``threads``.

The device count is excluded from JAX's persistent cache key, so jobs with different
``threads`` that run the same program share cache entries.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from homodyne.errors import SetupError

log = logging.getLogger(__name__)

_DEVICE_FLAG = re.compile(r"--xla_force_host_platform_device_count=\S*")


def xla_flags(flags: str, devices: int) -> str:
    """``flags`` with the host device count set to ``devices`` (an inherited one replaced)."""
    kept = _DEVICE_FLAG.sub("", flags).split()
    return " ".join([*kept, f"--xla_force_host_platform_device_count={devices}"])


def use_compilation_cache(cache_dir: str | Path) -> None:
    """Use ``cache_dir`` as JAX's persistent compilation cache, for every compiled program.

    JAX caches only programs that took at least a second to compile by default; the
    thresholds are set to zero so the smaller pieces are cached as well.  JAX opens its
    cache once per process, so switching to another folder resets it.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    cache_dir = str(Path(cache_dir).resolve())
    previous = jax.config.jax_compilation_cache_dir
    if previous != cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        if previous:
            compilation_cache.reset_cache()
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


SETUP_CALL = "homodyne.runtime.configure()"
"""The one call that sets a process up to compute (named in :class:`SetupError` messages)."""


def require_float64(what: str) -> None:
    """Refuse to compute ``what`` unless JAX runs in float64 in this process.

    Importing homodyne sets nothing (see the module docstring), and JAX's default float32
    would silently cost the fits and the physics seven of their sixteen digits (relative
    error 2e-7 against the reference values instead of 2e-16) with no more than a warning.
    The public computing functions call this first, so a script that skipped the set-up
    gets one clear error instead.  Reading one JAX flag costs well under a microsecond.

    Raises:
        SetupError: float64 is off; the message names :data:`SETUP_CALL`.
    """
    import jax

    if not jax.config.jax_enable_x64:
        raise SetupError(
            f"{what} computes in float64, but JAX runs in float32 in this process (its "
            f"default): call {SETUP_CALL} once at the start of the script or job, before "
            "anything computes (it turns float64 on and sizes JAX to the CPUs)"
        )


#: Loggers whose INFO records read as errors to a newcomer and say nothing to act on: JAX's
#: probe of the TPU and proxy backends ("Unable to initialize backend 'tpu'") on a machine
#: without them, and ArviZ's "arviz_base ... available, exposing its functions" on import.
#: Their warnings and errors still show.
QUIET_LOGGERS = ("jax._src.xla_bridge", "arviz")


def quiet_libraries() -> None:
    """Keep the :data:`QUIET_LOGGERS` to warnings and errors (set before they log)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(threads: int | None = None, cache_dir: str | Path | None = None) -> int:
    """Set up JAX for this process: float64, ``threads`` host devices, a compilation cache,
    and quiet start-up banners (:func:`quiet_libraries`).

    Call it before anything computes with JAX.  A second call in a process whose JAX backend
    has started cannot change the device count; it then keeps the count and says so when
    it differs.

    Args:
        threads: the CPU threads this job may use (a rule's ``threads``); ``None`` means
            every CPU of the machine.  NUTS runs chains in parallel on these devices.
        cache_dir: JAX persistent compilation cache shared by the jobs of a run.

    Returns:
        The number of host devices JAX uses.
    """
    quiet_libraries()
    threads = max(1, int(threads or os.cpu_count() or 1))
    import jax
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        devices = jax.local_device_count()
        if devices != threads:
            log.debug("JAX already started with %d devices; %d requested", devices, threads)
    else:
        os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), threads)
        devices = threads
    jax.config.update("jax_enable_x64", True)
    if cache_dir is not None:
        use_compilation_cache(cache_dir)
    return devices
