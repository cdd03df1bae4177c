"""Snakemake adapter: generate the built-in demo dataset."""

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402
from homodyne.data import simulate  # noqa: E402

p = sm.params
with steps.logged(sm.log[0]):
    simulate(sm.output.data, mode=p.mode, params=dict(p.params), phi=list(p.phi),
             n_frames=p.n_frames, dt=p.dt, q=p.q, contrast=p.contrast, noise=p.noise,
             seed=p.seed)
