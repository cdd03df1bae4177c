"""Snakemake adapter: parameters across datasets."""

import os

os.environ["HOMODYNE_THREADS"] = str(snakemake.threads)  # noqa: F821 (set before JAX starts)

from homodyne import steps

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.plot_datasets_step(sm.params.results, sm.output[0])
