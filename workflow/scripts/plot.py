"""Snakemake adapter: figures of one dataset."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.plot_step(steps.dataset_from(sm.config, sm.wildcards.ds), sm.params.files,
                    sm.output[0], sm.config["plots"], truth=sm.input.get("truth"))
