"""Snakemake adapter: read every angle of the dataset's q ring and frame window into loaded.h5."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.load_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.output[0])
