"""Figures say what they show (issue 13): the verdict in the title, registry units on every
parameter axis, the truth of simulated data, legible pair plots and robust axes."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from homodyne import layout
from homodyne import params as registry
from homodyne.plots import c2, datasets, posterior, twotime
from homodyne.plots.api import dataset_quality, truth_file
from homodyne.plots.figure import param_label, title, unit_of
from homodyne.results import read_truth


def drawn_texts(fig):
    """``(text, window extent)`` of every text matplotlib draws: titles, labels, legend
    entries, and the tick labels inside their axis' view (stale ticks outside are not drawn).
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = list(fig.texts) + [t for leg in fig.legends for t in leg.get_texts()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += list(ax.texts)
        if ax.legend_ is not None:
            texts += ax.legend_.get_texts()
        if not ax.axison:
            continue
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title]
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = sorted(limits)
            texts += [label for tick in axis.get_major_ticks()
                      for label in (tick.label1, tick.label2)
                      if lo <= tick.get_loc() <= hi and label.get_visible()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in dict.fromkeys(texts)
            if t.get_visible() and t.get_text().strip()]


def heterodyne_draws(rel_sd: float, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Draws of the 14 heterodyne parameters with many significant digits (narrow
    posteriors around values that are not round): the widest tick labels there are."""
    names = list(registry.names("heterodyne"))
    mean = np.array(registry.defaults("heterodyne")) + 1.234567 + 0.123457 * np.arange(14)
    sd = np.abs(mean) * rel_sd + rel_sd
    return np.random.default_rng(seed).normal(mean, sd, size=(2, 300, 14)), names


def test_pair_plot_of_fourteen_heterodyne_parameters_has_no_overlapping_labels():
    draws, names = heterodyne_draws(1e-5)
    fig = posterior.pair_figure(draws, names, title=title("het", "heterodyne", 0.005,
                                                          quality="warning"))
    texts = drawn_texts(fig)
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(texts, 2)
               if box_a.overlaps(box_b)]
    assert clashes == []
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert any("[Å²/s^(1+alpha)]" in label for label in labels)
    assert len(labels) == 14 and all("[" in label for label in labels)


def test_every_parameter_has_a_unit_from_the_registry():
    for mode in registry.MODES:
        for p in registry.parameters(mode):
            assert param_label(p.name) == f"{p.name} [{p.unit}]"
    for name in ("contrast", "offset_3", "contrast_c1", "noise_scale"):
        assert unit_of(name) == "-"
    draws, names = heterodyne_draws(1e-2)
    fig = posterior.marginals_figure(draws[..., :3], names[:3], title="t")
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == [
        "D0_ref [Å²/s^(1+alpha)] (×10$^{4}$)", "alpha_ref [-]", "D_offset_ref [Å²/s]"]


def test_title_carries_the_verdict():
    assert title("d", "static", 0.005, quality="failed").endswith(
        "quality: FAILED (see reasons)")
    assert title("d", "static", 0.005, 10.0, quality="ok").endswith("· quality: OK")
    assert title("d", "static", 0.005) == "d · static · q = 0.005 Å⁻¹"


def test_dataset_quality_is_the_worst_of_nlsq_and_cmc(tmp_path):
    ds = layout.dataset(tmp_path, "d")
    for path in (ds.nlsq_json, ds.cmc_diagnostics):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    ok = {"verdict": "ok", "reasons": []}
    Path(ds.nlsq_json).write_text(json.dumps({"quality": ok}))
    assert dataset_quality(ds) == "ok"
    bad = {"verdict": "failed", "reasons": [{"check": "noise_scale", "parameter": None,
                                             "severity": "failed", "message": "m"}]}
    Path(ds.cmc_diagnostics).write_text(json.dumps({"quality": bad}))
    assert dataset_quality(ds) == "failed"


def test_truth_of_simulated_data_is_found_and_marked(tmp_path):
    data = tmp_path / "sim.h5"
    data.write_bytes(b"")
    (tmp_path / "sim.truth.json").write_text(json.dumps(
        {"parameters": {"D0": 1e4, "alpha": -0.5}, "contrast": [0.3, 0.25], "offset": 1.0}))
    ds = layout.dataset(tmp_path / "results", "sim")
    Path(ds.nlsq_json).parent.mkdir(parents=True)
    Path(ds.nlsq_json).write_text(json.dumps({"provenance": {"source": str(data)}}))
    names = ("D0", "alpha", "contrast_1", "offset", "noise_scale")
    truth = read_truth(truth_file(ds), names)
    assert truth_file(ds) == tmp_path / "sim.truth.json"
    assert truth == {"D0": 1e4, "alpha": -0.5, "contrast_1": 0.25, "offset": 1.0}
    draws = np.random.default_rng(1).normal([1.01e4, -0.49], [50, 0.01], size=(2, 200, 2))
    fig = posterior.marginals_figure(draws, ["D0", "alpha"], title="t", truth=truth)
    marks = fig.findobj(lambda a: a.get_gid() == posterior.TRUTH_GID)
    assert sorted(m.get_xdata()[0] for m in marks) == [-0.5, 1e4]
    for ax, true in zip(fig.axes, (1e4, -0.5), strict=False):
        lo, hi = ax.get_xlim()
        assert lo < true < hi  # kept in view
    (tmp_path / "sim.truth.json").unlink()
    assert truth_file(ds) is None and read_truth(None, names) == {}  # measured data


def test_shard_axis_has_integer_ticks():
    rng = np.random.default_rng(2)
    fig = posterior.shards_figure(rng.normal(size=(3, 2)), np.full((3, 2), 0.1),
                                  np.array([True, True, False]), ["D0", "alpha"],
                                  np.zeros(2), np.ones(2), title="t")
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [x for x in ax.get_xticks() if lo <= x <= hi]
        assert ticks and all(float(x).is_integer() for x in ticks)


def test_lag_cut_legend_of_one_angle_stays_inside_the_figure():
    t = 0.1 * np.arange(1, 61)
    lag = np.abs(np.subtract.outer(np.arange(60), np.arange(60)))
    m = (1 + 0.3 * np.exp(-lag / 8.0))[None]
    fig = c2.c2_cuts_figure(t, np.array([0.0]), m, m, np.array([0.01]), title="one angle")
    fig.canvas.draw()
    frame = fig.bbox
    legends = [*fig.legends, *(ax.legend_ for ax in fig.axes if ax.legend_ is not None)]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(fig.canvas.get_renderer())
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1


def test_one_huge_sigma_does_not_flatten_the_cross_dataset_panels():
    rows = [datasets.DatasetRow(name=f"d{k}", q=0.005, mode="static",
                                nlsq={"D0": (1e4 + 100 * k, 50.0), "alpha": (-0.5, 0.01),
                                      "D_offset": (10.0, 1.0)}) for k in range(4)]
    rows.append(datasets.DatasetRow(name="wild", q=0.006, mode="static",
                                    nlsq={"D0": (1.02e4, 1e9), "alpha": (-0.5, 0.01),
                                          "D_offset": (10.0, math.inf)}))
    fig = datasets.datasets_figure(rows)
    lo, hi = fig.axes[0].get_ylim()
    assert lo < 1e4 and hi > 1.03e4 and hi - lo < 2000  # the 1e9 error bar runs off the axis
    assert "[Å²/s^(1+alpha)]" in fig.axes[0].get_ylabel()


@pytest.mark.parametrize("n", [1, 3])
def test_marginals_name_units_for_scaling_parameters(n):
    draws = np.random.default_rng(3).normal(0.3, 0.01, size=(2, 100, n))
    names = [f"contrast_{k}" for k in range(n)]
    fig = posterior.marginals_figure(draws, names, title="t")
    assert [ax.get_xlabel() for ax in fig.axes if ax.get_visible()] == [
        f"{name} [-]" for name in names]


# ---------------------------------------------------------- defects seen on real data (#21)


def test_one_angle_lag_cuts_keep_the_whole_title_and_the_legend_off_the_data():
    t = 0.1 * np.arange(1, 61)
    lag = np.abs(np.subtract.outer(np.arange(60), np.arange(60)))
    m = (1 + 0.3 * np.exp(-lag / 8.0))[None]
    head = title("chx_matrix", "static", 0.005, quality="failed")
    fig = c2.c2_cuts_figure(t, np.array([0.0]), m, m, np.array([0.01]), title=head)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(renderer)
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, "title clipped"
    panel = fig.axes[0].get_window_extent(renderer)
    legend = fig.axes[0].legend_.get_window_extent(renderer)
    assert not legend.overlaps(panel), "legend over the data"
    assert legend.x1 <= fig.bbox.x1


def test_one_shard_is_labelled_shard_0():
    fig = posterior.shards_figure(np.array([[1.0, 2.0]]), np.array([[0.1, 0.1]]),
                                  np.array([True]), ["D0", "alpha"], np.array([1.0, 2.0]),
                                  np.array([0.1, 0.1]), title="t")
    for ax in fig.axes:
        assert [label for label, _ in drawn_texts_of(ax, "x")] == ["0"]


def drawn_texts_of(ax, which: str):
    """The tick labels drawn on one axis of ``ax`` (inside its view)."""
    fig = ax.figure
    return [(text, box) for text, box in drawn_texts(fig)
            if any(text == label.get_text() for label in
                   (ax.get_xticklabels() if which == "x" else ax.get_yticklabels()))
            and ax.get_window_extent().x0 - 1 <= box.x0 <= ax.get_window_extent().x1 + 1
            and box.y1 <= ax.get_window_extent().y0 + 1]


def test_ageing_panels_without_a_panel_below_show_their_tick_numbers():
    from homodyne.plots import twotime

    age = np.array([1.0, 3.0, 5.0])
    decay = np.tile([0.5, 0.6, 0.7], (5, 1))
    fig = twotime.ageing_figure(age, np.array([0.0, 2.0, 4.0, 6.0]),
                                np.arange(5) * 30.0, decay, decay, title="t")
    labelled = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    assert len(labelled) == 4  # the bottom row's one panel and the three above empty slots
    for ax in labelled:
        assert drawn_texts_of(ax, "x"), f"no tick numbers under {ax.get_title()}"


def test_pair_plot_scaled_labels_of_laminar_flow_do_not_overlap():
    """``gamma_dot_t_offset (×10⁻⁴)`` on one line ran into the next row's tick labels."""
    names = list(registry.names("laminar_flow"))
    mean = np.array([1.1e4, -0.52, 180.0, 2.2e-3, 0.31, 3.3e-4, 12.0])
    sd = np.array([800, 0.02, 60, 1e-4, 0.02, 2e-5, 1.5])
    draws = np.random.default_rng(0).normal(mean, sd, size=(2, 300, 7))
    fig = posterior.pair_figure(draws, names, title=title("chx", "laminar_flow", 0.0054,
                                                          quality="warning"))
    texts = drawn_texts(fig)
    assert [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(texts, 2)
            if box_a.overlaps(box_b)] == []
    assert any(text.startswith("gamma_dot_t_offset\n(×10$^{-4}$)") for text, _ in texts)


# ------------------------------------------------- one verdict in every figure (#21, item 4)


def _results_with_verdicts(root, nlsq: str, cmc: str):
    ds = layout.dataset(root, "d")
    for path, verdict in ((ds.nlsq_json, nlsq), (ds.cmc_diagnostics, cmc)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        reasons = [] if verdict == "ok" else [{"check": "c", "parameter": None,
                                               "severity": verdict, "message": "m"}]
        Path(path).write_text(json.dumps({"quality": {"verdict": verdict,
                                                      "reasons": reasons}}))
    return ds


def test_a_title_names_the_step_a_verdict_comes_from_where_the_steps_differ(tmp_path):
    from homodyne.plots.api import verdict_of

    ds = _results_with_verdicts(tmp_path, "ok", "warning")
    assert verdict_of(ds) == {"quality": "warning", "step": "Bayesian"}
    assert title("d", "static", 0.005, **verdict_of(ds)).endswith(
        "quality: WARNING (Bayesian; see reasons)")
    same = _results_with_verdicts(tmp_path / "same", "warning", "warning")
    assert verdict_of(same) == {"quality": "warning", "step": None}
    assert dataset_quality(ds, cmc=False) == "ok"  # CMC off: its stale file is no verdict


def test_a_saved_figure_carries_its_title_with_the_verdict(tmp_path):
    from PIL import Image

    from homodyne.plots.figure import new_figure, save_figure

    fig = new_figure(2, 2)
    fig.suptitle(title("d", "static", 0.005, quality="failed") + "\nsecond line")
    png = save_figure(fig, tmp_path / "f.png")[0]
    with Image.open(png) as im:
        assert im.text["Title"] == ("d · static · q = 0.005 Å⁻¹ · quality: FAILED (see "
                                    "reasons) second line")


def test_the_cross_dataset_figure_marks_verdicts_and_fixed_parameters():
    rows = [datasets.DatasetRow(name="chx", q=0.005, mode="static", verdict="failed",
                                nlsq={"D0": (1e5, 2e4), "alpha": (0.003, 0.01),
                                      "D_offset": (50.0, 40.0)}),
            datasets.DatasetRow(name="yolk", q=0.006, mode="static", verdict="warning",
                                nlsq={"D0": (2e4, 1e3), "alpha": (0.0, 0.0),
                                      "D_offset": (0.0, 0.0)},
                                fixed=frozenset({"alpha", "D_offset"})),
            datasets.DatasetRow(name="demo", q=0.0054, mode="static", verdict="ok",
                                nlsq={"D0": (1e4, 1e3), "alpha": (-0.5, 0.01),
                                      "D_offset": (10.0, 5.0)})]
    fig = datasets.datasets_figure(rows)
    alpha = next(ax for ax in fig.axes if ax.get_ylabel().startswith("alpha"))
    labels = {t.get_text().split("\n")[0]: t for t in alpha.get_xticklabels()}
    assert labels["chx"].get_text().endswith("FAILED")
    assert labels["chx"].get_color() == datasets.VERDICT_COLORS["failed"]
    assert labels["demo"].get_color() == datasets.VERDICT_COLORS["ok"]
    x = {name: k for k, name in enumerate(["chx", "demo", "yolk"])}  # sorted by q
    fixed = [line for line in alpha.lines if line.get_gid() == datasets.FIXED_GID]
    assert len(fixed) == 1 and list(np.isfinite(fixed[0].get_ydata())) == [False, False, True]
    assert fixed[0].get_xdata()[x["yolk"]] == x["yolk"]
    measured = [line for line in alpha.lines if line.get_gid() != datasets.FIXED_GID
                and line.get_marker() == "o"]
    ys = {float(xv): float(yv) for line in measured
          for xv, yv in zip(line.get_xdata(), line.get_ydata(), strict=True)
          if np.isfinite(yv)}
    assert set(ys) == {x["chx"], x["demo"]}  # yolk's fixed alpha is no measured point
    hollow = [line for line in measured if line.get_markerfacecolor() == "none"]
    assert [float(v) for v in hollow[0].get_xdata()] == [x["chx"]]  # failed: hollow
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "fixed (not fitted)" in legend and "NLSQ ± 1σ, verdict failed" in legend


LONG_NAME = "yolk_plasma_2024-03-17_sample12_q0.022_long_name"
"""A dataset name as real runs write them: one word of 48 characters."""


def _every_figure(n: int):
    """Every figure a dataset has (each of homodyne.layout.FIGURES, one per angle, the two
    model-free views) and the cross-dataset one, of ``n`` angles and ``n`` parameters, each
    titled with :data:`LONG_NAME` and the longest verdict text (a warning from one step)."""
    head = title(LONG_NAME, "laminar_flow", 0.02214, quality="warning", step="Bayesian")
    t = 0.1 * np.arange(1, 41)
    lag = np.abs(np.subtract.outer(np.arange(40), np.arange(40)))
    m = np.repeat((1 + 0.3 * np.exp(-lag / 8.0))[None], n, 0)
    phi, sigma = np.linspace(0.0, 90.0, n), np.full(n, 0.01)
    names = list(registry.names("laminar_flow"))[:n]
    draws = np.random.default_rng(0).normal(size=(2, 100, n)) + np.arange(n)
    mean, sd = draws.reshape(-1, n).mean(0), draws.reshape(-1, n).std(0)
    g2, tau, age = np.ones((n, 19)), 0.1 * np.arange(1, 20), np.arange(1.0, 6.0)
    angle = title(LONG_NAME, "laminar_flow", 0.02214, 45.0, quality="warning", step="NLSQ")
    yield "c2_phi", c2.AnglePanels(t).show(m[0], m[0], 0.01, title=angle)
    yield "c2_overview", c2.c2_overview_figure(t, phi, m, m, sigma, title=head)
    yield "c2_cuts", c2.c2_cuts_figure(t, phi, m, m, sigma, title=head)
    yield "residual_histogram", c2.residual_histogram_figure(m, m + 0.01, sigma, title=head)
    yield "cmc_trace", posterior.trace_figure(draws, names, title=head, resampled=True)
    yield "cmc_marginals", posterior.marginals_figure(
        draws, names, title=head, reference={names[0]: (0.0, 1.0)}, truth={names[0]: 0.0})
    yield "cmc_pair", posterior.pair_figure(draws, names, title=head)
    yield "cmc_shards", posterior.shards_figure(
        np.tile(mean, (3, 1)), np.tile(sd, (3, 1)), np.array([True, False, True]), names,
        mean, sd, title=head, reasons=[None, "divergence rate 14%", None])
    yield "one_time", twotime.one_time_figure(tau, phi, g2, 0.01 * g2, g2, title=head)
    yield "ageing", twotime.ageing_figure(age, np.arange(0.5, 6.0), phi, g2[:, :5],
                                          g2[:, :5], title=head)
    rows = [datasets.DatasetRow(name=f"d{k}", q=0.005, mode=mode, verdict="ok",
                                nlsq={"D0": (1e4, 1e3)})
            for k, mode in enumerate(("static", "laminar_flow", "heterodyne")[:n])]
    yield "datasets_parameters", datasets.datasets_figure(rows)


@pytest.mark.parametrize("n", [1, 3])
def test_every_title_and_legend_lies_inside_its_figure(tmp_path, n):
    """A figure of one angle or one parameter is narrower than a title with the dataset's
    name and verdict: centred, such a title lost both ends, the name with them (issue 21:
    "atic · q = 0.022 Å⁻¹ · quality: WARNING (NLSQ; see r").  Every title is broken into
    lines that fit, clear of everything below it; legends fit too; and a saved figure's
    Title is the whole title, as one line."""
    from homodyne.plots.figure import save_figure

    figures = dict(_every_figure(n))
    assert set(layout.FIGURES) < set(figures)
    for stem, fig in figures.items():
        texts = drawn_texts(fig)  # draws the figure
        renderer = fig.canvas.get_renderer()
        frame = fig.bbox
        head = fig.get_suptitle()
        box = fig._suptitle.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1, (stem, head)
        legends = {t.get_text() for leg in fig.legends for t in leg.get_texts()}
        for text, extent in texts:
            assert text == head or not extent.overlaps(box), (stem, text)
            if text in legends:
                assert frame.x0 <= extent.x0 and extent.x1 <= frame.x1, (stem, text)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison:
                assert not ax.get_window_extent(renderer).overlaps(box), stem
    for stem, fig in figures.items():
        whole = " ".join(fig.get_suptitle().split())
        with Image.open(save_figure(fig, tmp_path / f"{stem}.png")[0]) as im:
            assert im.text["Title"] == fig.get_label(), stem
        if stem != "datasets_parameters":
            assert fig.get_label().startswith(f"{LONG_NAME} · laminar_flow · q = 0.02214"), stem
            assert "quality: WARNING (" in fig.get_label(), stem
        # the lines are the whole title, broken after a separator or between words, except
        # where a word fits no line (the name, in a figure of one angle or parameter)
        assert fig.get_label() == whole or LONG_NAME not in whole, stem
