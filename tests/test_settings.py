"""Each step's identity: the settings its output depends on (homodyne.settings)."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from homodyne.config import CMCConfig, DatasetConfig, TwoTimeConfig, parse_config
from homodyne.settings import (
    CMC_COMBINE,
    CMC_NO_OUTPUT,
    CMC_NUTS,
    CMC_SHARD,
    STEPS,
    settings_digest,
    step_settings,
)

CONFIG = {"datasets": [{"name": "a", "file": "a.h5", "q": 0.005}],
          "analysis": {"mode": "laminar_flow", "dt": 0.1}}


def _dataset(**sections):
    raw = json.loads(json.dumps(CONFIG))
    for key, value in sections.items():
        if key in ("frames", "frames_exclude", "phi_ranges", "q", "file"):
            raw["datasets"][0][key] = value
        else:
            raw.setdefault(key, {}).update(value)
    config = parse_config(raw)
    return config.datasets[0], config.plots


def _changed_steps(**sections) -> set[str]:
    base, base_plots = _dataset()
    ds, plots = _dataset(**sections)
    return {s for s in STEPS
            if settings_digest(ds, s, plots) != settings_digest(base, s, base_plots)}


def test_every_cmc_key_belongs_to_exactly_one_step():
    claimed = CMC_SHARD + CMC_NUTS + CMC_COMBINE + CMC_NO_OUTPUT
    names = [f.name for f in fields(CMCConfig)]
    assert sorted(n for n in claimed if n in names) == sorted(names)
    assert len(set(claimed)) == len(claimed)


@pytest.mark.parametrize(("change", "expected"), [
    ({"frames": [1, 50]}, set(STEPS)),
    ({"frames_exclude": [[10, 12]]}, set(STEPS) - {"load"}),
    ({"twotime": {"age_windows": 3}}, {"twotime"}),
    ({"phi_ranges": [[-10, 10]]}, set(STEPS)),
    ({"analysis": {"L": 1.0e6}}, set(STEPS) - {"load", "filter"}),
    ({"nlsq": {"loss": "soft_l1"}}, set(STEPS) - {"load", "filter"}),
    ({"nlsq": {"max_iterations": 50}}, set(STEPS) - {"load", "filter"}),
    ({"cmc": {"prior_width": 3.0}}, {"shard", "nuts", "combine", "plot", "summary"}),
    ({"cmc": {"samples": 100}}, {"nuts", "combine", "plot", "summary"}),
    ({"cmc": {"max_divergence_rate": 0.2}}, {"combine", "plot", "summary"}),
    ({"cmc": {"shards_per_job": 3}}, set()),
    ({"plots": {"svg": True}}, {"plot"}),
])
def test_a_change_reaches_exactly_the_steps_below_it(change, expected):
    assert _changed_steps(**change) == expected


def test_every_dataset_and_twotime_key_reaches_a_step():
    """A new key of a dataset entry or of the twotime section must be part of some step's
    identity, or changing it would rerun nothing."""
    ds, plots = _dataset()
    text = " ".join(json.dumps(step_settings(ds, s, plots)) for s in STEPS)
    read_elsewhere = {"name"}  # the dataset's folder, not a setting
    for f in fields(DatasetConfig):
        if f.name in ("analysis", "nlsq", "cmc", "twotime") or f.name in read_elsewhere:
            continue
        assert f'"{f.name}"' in text, f.name
    for f in fields(TwoTimeConfig):
        assert f'"{f.name}"' in json.dumps(step_settings(ds, "twotime", plots)), f.name


def test_without_cmc_the_figures_and_summary_ignore_cmc_settings():
    ds, plots = _dataset(cmc={"enable": False})
    off = replace(ds, cmc=replace(ds.cmc, samples=999))
    for step in ("nlsq", "twotime", "plot", "summary"):
        assert settings_digest(off, step, plots) == settings_digest(ds, step, plots)
    assert "cmc_nuts" not in step_settings(ds, "summary")


def test_settings_are_plain_json_with_every_section():
    ds, plots = _dataset()
    s = step_settings(ds, "plot", plots)
    assert set(s) == {"data", "filter", "analysis", "nlsq", "cmc_shard", "cmc_nuts",
                      "cmc_combine", "plots"}
    assert json.loads(json.dumps(s)) == s
    assert s["data"] == {"file": "a.h5", "q": 0.005, "dt": 0.1, "frames": None,
                         "phi_ranges": None, "mask_nonfinite": False}


def test_the_digest_is_short_and_names_the_section_that_changed():
    """What a dry run prints for a step whose settings changed (its ``params``, before and
    now): one short hash per section, never the settings themselves, and only the changed
    section's hash differs."""
    base, plots = _dataset()
    ds, _ = _dataset(nlsq={"max_iterations": 50})
    before, now = settings_digest(base, "plot", plots), settings_digest(ds, "plot", plots)
    assert len(now) < 150 and "{" not in now and "max_iterations" not in now
    changed = set(now.split()) - set(before.split())
    assert [token.split(":")[0] for token in changed] == ["nlsq"]
    assert [token.split(":")[0] for token in now.split()] == sorted(
        step_settings(ds, "plot", plots))


def test_unknown_step_is_refused():
    ds, _ = _dataset()
    with pytest.raises(ValueError, match="unknown step 'fit'"):
        step_settings(ds, "fit")
