"""Snakemake adapter: split a dataset into shard files for NUTS."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.shard_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.filtered,
                     sm.input.nlsq, sm.output.shards)
