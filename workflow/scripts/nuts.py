"""Snakemake adapter: NUTS on one shard."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads, cache_dir=sm.params.cache)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.nuts_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.shard,
                    sm.output[0])
