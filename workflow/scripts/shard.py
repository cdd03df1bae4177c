"""Snakemake adapter: split a dataset into shard files for NUTS."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.shard_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.filtered,
                     sm.input.nlsq, sm.output.shards)
