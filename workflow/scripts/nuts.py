"""Snakemake adapter: NUTS on one shard."""

import os

os.environ["HOMODYNE_THREADS"] = str(snakemake.threads)  # noqa: F821 (set before JAX starts)

from homodyne import steps

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.nuts_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.shard,
                    sm.output[0], cache_dir=sm.params.cache)
