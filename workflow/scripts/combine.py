"""Snakemake adapter: combine the shard posteriors into the consensus."""

from homodyne import layout, runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.combine_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.posteriors,
                       layout.shard_files(sm.input.shards), sm.params.files)
