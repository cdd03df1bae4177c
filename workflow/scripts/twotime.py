"""Snakemake adapter: model-free views (one-time g2, ageing) of one dataset."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.twotime_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.filtered,
                       sm.input.nlsq, sm.params.files)
