"""The settings each step's output depends on: a step's identity and its result's record.

A result on disk must have been computed with the settings it claims, and a rerun must redo
exactly what a change made stale.  So every step declares the settings it reads, together
with those of the steps upstream of it (a step's output depends on them through its input),
and

* the workflow passes :func:`settings_digest` as a rule ``params``: Snakemake's ``params``
  rerun trigger then reruns a step whose settings changed, and everything below it (a
  digest, not the settings themselves: Snakemake prints the value of a changed ``params``
  before and now on every reason line of a dry run, and a short hash per config section
  shows which section changed where the whole JSON buried it);
* each result file records :func:`step_settings` of the step that wrote it, and the summary
  reports those records, never the current config.

Upstream settings are repeated in each step's identity because an intermediate may no longer
exist (``loaded.h5`` is temporary): Snakemake cannot then compare the settings it was made
with, but it can compare those of the step that read it.

The ``cmc`` keys are split by the step that reads them; a test checks that every key of
:class:`homodyne.config.CMCConfig` is claimed by exactly one step or by :data:`CMC_NO_OUTPUT`,
and that every key of a dataset entry and of the ``twotime`` section reaches a step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path

from homodyne.config import DatasetConfig

CMC_SHARD = ("shards", "prior_width", "seed", "method", "importance_draws", "sample_sigma")
"""Keys that decide the shard files: how the data are split, the priors, the seeds, the
posterior method and the importance-sampling proposal drawn into every shard (whose
dimensions include the noise factor when it is sampled)."""
CMC_NUTS = ("chains", "warmup", "samples", "target_accept", "max_tree_depth", "dense_mass")
"""Keys that decide one shard's NUTS run (also the fallback of importance sampling)."""
CMC_COMBINE = ("max_divergence_rate", "heterogeneity_cv")
"""Keys that decide which shards the consensus uses and what it reports."""
CMC_NO_OUTPUT = ("enable", "shards_per_job")
"""Keys that change which jobs exist or how they are bundled, never a file's content."""

STEPS = ("load", "filter", "nlsq", "twotime", "shard", "nuts", "combine", "plot", "summary")


def _plain(value):
    """Dataclasses, mappings, tuples and paths -> JSON-ready dicts, lists and strings."""
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _cmc(ds: DatasetConfig, keys: tuple[str, ...]) -> dict:
    cmc = _plain(ds.cmc)
    return {k: cmc[k] for k in keys if k in cmc}


def _own(ds: DatasetConfig, step: str, plots: Mapping | None) -> dict:
    """The settings read by ``step`` itself, grouped by config section."""
    if step == "load":
        return {"data": {"file": str(ds.file), "q": ds.q, "dt": ds.analysis.dt,
                         "frames": _plain(ds.frames), "phi_ranges": _plain(ds.phi_ranges),
                         "mask_nonfinite": ds.mask_nonfinite}}
    if step == "filter":
        return {"filter": {"frames_exclude": _plain(ds.frames_exclude)}}
    if step == "nlsq":
        return {"analysis": _plain(ds.analysis), "nlsq": _plain(ds.nlsq)}
    if step == "shard":
        return {"cmc_shard": _cmc(ds, CMC_SHARD)}
    if step == "nuts":
        return {"cmc_nuts": _cmc(ds, CMC_NUTS)}
    if step == "combine":
        return {"cmc_combine": _cmc(ds, CMC_COMBINE)}
    if step == "twotime":  # its figures are drawn by plot, with the dataset's verdict
        return {"twotime": _plain(ds.twotime)}
    if step == "plot":
        return {"plots": _plain(dict(plots or {}))}
    return {}


_CHAIN = ("load", "filter", "nlsq", "shard", "nuts", "combine")


def _upstream(ds: DatasetConfig, step: str) -> tuple[str, ...]:
    """``step`` and the steps whose output reaches it, in pipeline order."""
    if step in _CHAIN:
        return _CHAIN[: _CHAIN.index(step) + 1]
    if step == "twotime":  # the filtered data and the NLSQ model only
        return (*_CHAIN[: _CHAIN.index("nlsq") + 1], step)
    last = "combine" if ds.cmc.enable else "nlsq"
    return (*_CHAIN[: _CHAIN.index(last) + 1], step)


def step_settings(ds: DatasetConfig, step: str, plots: Mapping | None = None) -> dict:
    """Every setting ``step``'s output depends on, its own and its upstream steps'.

    Args:
        ds: the dataset with its resolved settings.
        step: one of :data:`STEPS`.
        plots: the config's ``plots`` section (figure settings; ``plot`` reads it).
    """
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
    out: dict = {}
    for s in _upstream(ds, step):
        out.update(_own(ds, s, plots))
    return out


DIGEST_LENGTH = 8
"""Hex digits of one section's hash in :func:`settings_digest` (32 bits: two different
settings of a section share a digest with probability 2⁻³²)."""


def settings_digest(ds: DatasetConfig, step: str, plots: Mapping | None = None) -> str:
    """:func:`step_settings` as one short line, ``section:hash`` per config section in
    order of name (``analysis:1f0c9a2e data:…``): the rule ``params`` Snakemake compares.

    It changes exactly when the settings change, and a dry run's reason line then shows
    which section's hash differs, before and now, instead of every setting twice.
    """
    return " ".join(
        f"{section}:{_hash(values)}"
        for section, values in sorted(step_settings(ds, step, plots).items()))


def _hash(values) -> str:
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]
