"""Snakemake adapter: generate the built-in demo dataset."""

import os

os.environ["HOMODYNE_THREADS"] = str(snakemake.threads)  # noqa: F821 (set before JAX starts)

from homodyne import steps
from homodyne.data import simulate

sm = snakemake  # noqa: F821
p = sm.params
with steps.logged(sm.log[0]):
    simulate(sm.output.data, mode=p.mode, params=dict(p.params), phi=list(p.phi),
             n_frames=p.n_frames, dt=p.dt, q=p.q, contrast=p.contrast, noise=p.noise,
             seed=p.seed)
