"""homodyne: XPCS two-time correlation analysis (NLSQ + Consensus Monte Carlo).

JAX settings are made here, at package import, because they only take effect before JAX
initialises its backend: float64 everywhere, and as many virtual host devices as the job
may use threads, so NUTS chains can run in parallel.  ``HOMODYNE_THREADS`` (set by the
workflow from a rule's ``threads``) overrides the CPU count.
"""

from __future__ import annotations

import os


def _configure_jax() -> None:
    # nlsq, on import, points JAX's persistent compilation cache at ~/.cache/nlsq (and
    # configures the root logger as a side effect); the workflow chooses the cache itself.
    os.environ.setdefault("NLSQ_DISABLE_PERSISTENT_CACHE", "1")
    threads = int(os.environ.get("HOMODYNE_THREADS") or os.cpu_count() or 1)
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = f"--xla_force_host_platform_device_count={threads}"
        os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)


_configure_jax()

__version__ = "0.1.0"
