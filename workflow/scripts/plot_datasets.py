"""Snakemake adapter: parameters across the configured datasets."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    datasets = [steps.dataset_from(sm.config, name) for name in sm.params.datasets]
    steps.plot_datasets_step(datasets, sm.params.files, sm.output[0], sm.config["plots"])
