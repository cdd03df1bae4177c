"""Snakemake adapter: the verdict of every dataset, the report's first table."""

import json

from homodyne import runtime

sm = snakemake  # noqa: F821
runtime.configure(sm.threads)  # first: JAX reads it as it starts

from homodyne import steps  # noqa: E402

with steps.logged(sm.log[0]):
    steps.verdicts_step(sm.params.files, json.loads(sm.params.cmc), sm.output[0])
