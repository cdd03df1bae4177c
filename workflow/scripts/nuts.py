"""Snakemake adapter: NUTS on one shard."""

from homodyne import runtime

runtime.configure(snakemake.threads, cache_dir=snakemake.params.cache)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.nuts_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.shard,
                    sm.output[0])
