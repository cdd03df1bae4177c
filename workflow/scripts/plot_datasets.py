"""Snakemake adapter: parameters across the configured datasets."""

from homodyne import runtime

runtime.configure(snakemake.threads)  # noqa: F821 (first: JAX reads it as it starts)

from homodyne import layout, steps  # noqa: E402

sm = snakemake  # noqa: F821
with steps.logged(sm.log[0]):
    datasets = [steps.dataset_from(sm.config, name) for name in sm.params.datasets]
    steps.plot_datasets_step(datasets, [layout.dataset(sm.params.results, d.name)
                                        for d in datasets], sm.output[0], sm.config["plots"])
