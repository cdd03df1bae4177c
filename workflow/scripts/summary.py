"""Snakemake adapter: analysis_summary.json of one dataset."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    steps.summary_step(steps.dataset_from(sm.config, sm.wildcards.ds),
                       layout.dataset(sm.params.results, sm.wildcards.ds), sm.output[0])
