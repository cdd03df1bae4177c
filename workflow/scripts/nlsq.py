"""Snakemake adapter: NLSQ fit of one dataset."""

import os

os.environ["HOMODYNE_THREADS"] = str(snakemake.threads)  # noqa: F821 (set before JAX starts)

from homodyne import steps

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.nlsq_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.input.filtered,
                    sm.params.outdir)
