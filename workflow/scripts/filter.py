"""Snakemake adapter: keep the configured angles."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.filter_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.loaded,
                      sm.output[0])
