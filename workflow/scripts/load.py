"""Snakemake adapter: read the dataset's q ring and frame window into loaded.h5."""

import os

os.environ["HOMODYNE_THREADS"] = str(snakemake.threads)  # noqa: F821 (set before JAX starts)

from homodyne import steps

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.load_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.output[0])
