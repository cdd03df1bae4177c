"""Snakemake adapter: read every angle of the dataset's q ring and frame window into loaded.h5."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.load_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.output[0])
