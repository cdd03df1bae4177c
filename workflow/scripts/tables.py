"""Snakemake adapter: the parameters, diagnostics and provenance pages of one dataset."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.tables_step(sm.params.files)
