"""The names inside a dataset's folders, each spelled once in homodyne.layout: the shard
files the shard step writes and the workflow lists, and the figures the plots write and
the report files, labels and explains (issue 23)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from homodyne import layout

RULES = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))


def test_shard_files_are_listed_by_index_and_only_shard_files(tmp_path):
    """A name sort puts shard_1000 after shard_100; temporary and foreign files are no
    shards."""
    for name in ("shard_002.h5", "shard_1000.h5", "shard_000.h5", "shard_999.h5",
                 "shard_x.h5", "notes.h5", ".shard_001.h5.ab12.tmp"):
        (tmp_path / name).write_bytes(b"")
    found = layout.shard_files(tmp_path)
    assert [p.name for p in found] == ["shard_000.h5", "shard_002.h5", "shard_999.h5",
                                       "shard_1000.h5"]
    assert layout.shard_indices(reversed(found)) == [0, 2, 999, 1000]
    with pytest.raises(ValueError, match=r"shard_x\.h5: not a shard file name"):
        layout.shard_index(tmp_path / "shard_x.h5")


def test_a_shard_keeps_its_index_through_its_file_and_the_rules_patterns():
    ds = layout.dataset("results", "demo")
    assert ds.shard(7) == "results/demo/cmc/shards/shard_007.h5"
    assert layout.shard_index(ds.shard(7)) == 7
    assert ds.posterior(7) == "results/demo/cmc/posteriors/posterior_007.nc"
    assert ds.shard("{k}") == "results/demo/cmc/shards/shard_{k}.h5"  # the nuts rule's input
    assert layout.shard_name("{k}") == "shard_{k}"  # its log and benchmark


def test_the_rules_list_shards_and_name_figures_through_the_layout():
    """No rule spells a shard or figure name of its own."""
    assert "shard_{k}" not in RULES and "glob_wildcards" not in RULES
    assert all(f'"{stem}"' not in RULES for stem in layout.FIGURES)
    assert layout.ANGLE_FIGURE_PREFIX not in RULES


def test_the_report_captions_explain_exactly_the_figure_table():
    """workflow/report/figures.rst has one caption per figure of the table and the
    per-angle one, which cuts the angle off the name at the table's prefix."""
    captions = (ROOT / "workflow" / "report" / "figures.rst").read_text()
    explained = re.findall(r'f == "([^"]+)"', captions)
    assert sorted(explained) == sorted(layout.FIGURES)
    prefix = layout.ANGLE_FIGURE_PREFIX
    assert re.findall(r'f\.startswith\("([^"]+)"\)', captions) == [prefix]
    assert f"f[{len(prefix)}:]" in captions


def test_every_figure_has_its_part_and_a_label_of_its_own():
    labels = [f.label for f in layout.FIGURES.values()]
    assert len(set(labels)) == len(labels) and all(labels)
    assert {f.part for f in layout.FIGURES.values()} == {"NLSQ", "Bayesian (CMC)"}
    stem = layout.angle_figure_file("plots", -45.0).stem
    assert stem == "c2_phi_-045.0"
    assert layout.figure_of(stem) == layout.Figure(
        "NLSQ", "c2 at φ = -045.0°: data, fit, residual")


def test_a_figure_outside_the_table_is_refused():
    """The plots write through figure_file, so a figure the report does not know fails
    where it is drawn, not as an unlabelled entry of the report."""
    assert layout.figure_file("plots", "cmc_pair").as_posix() == "plots/cmc_pair.png"
    with pytest.raises(KeyError, match="cmc_pairs: not a figure"):
        layout.figure_file("plots", "cmc_pairs")


def test_users_documentation_names_every_figure():
    outputs = (ROOT / "docs" / "outputs.md").read_text().split("## Figures", 1)[1]
    readme = (ROOT / "README.md").read_text().split("What the figures mean", 1)[1]
    for stem in layout.FIGURES:
        assert f"`{stem}.png`" in outputs and f"`{stem}.png`" in readme, stem
    assert f"`{layout.ANGLE_FIGURE_PREFIX}<angle>.png`" in outputs


def test_a_verdict_table_is_named_after_the_datasets_of_its_run():
    """Configs writing to one results folder each keep their own verdict table, so a
    report never embeds another run's (issue 21: report_chx.html showed the yolk verdict
    of the run after it, from one shared verdicts.html)."""
    assert layout.verdicts_table("results", ["chx"]) == "results/verdicts_chx.html"
    assert layout.verdicts_table("results", {"yolk": True, "chx": False}) == (
        "results/verdicts_chx+yolk.html")  # a config's order does not matter
    assert layout.verdicts_table("results", ["demo"]) != layout.verdicts_table(
        "results", ["yolk"])
    many = [f"sample_{k:03d}" for k in range(200)]
    name = layout.verdicts_name(many)
    assert name.startswith("verdicts_sample_000+199-more-") and len(name) < 100
    assert layout.verdicts_name(many[:-1]) != name
    with pytest.raises(ValueError):
        layout.verdicts_name([])


def test_the_front_page_embeds_the_verdict_table_the_layout_names():
    """workflow/report/workflow.rst picks its run's table by the layout's prefix, and the
    verdicts rule writes the table, its log and its benchmark under the layout's name."""
    front = (ROOT / "workflow" / "report" / "workflow.rst").read_text()
    assert re.findall(r'f\.target\.startswith\("([^"]+)"\)', front) == [layout.VERDICTS_PREFIX]
    assert "verdicts.html" not in front + RULES
    assert "layout.verdicts_table(RESULTS, DATASETS)" in RULES
    assert RULES.count("layout.verdicts_name(DATASETS)") == 2  # log, benchmark
