"""Snakemake adapter: combine the shard posteriors into the consensus."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.combine_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.posteriors,
                       layout.dataset(sm.params.results, sm.wildcards.ds))
