"""Figures of issue 6: every file is written as a readable PNG of the figure's size, shows
something, changes when the data change, marks dropped shards; ``homodyne plot`` works on
real NLSQ results of every mode and fails cleanly on a missing folder."""

from __future__ import annotations

import dataclasses
import json
import shutil

import matplotlib as mpl
import numpy as np
import pytest
from PIL import Image

from homodyne import layout, quality
from homodyne.cli import main
from homodyne.config import AnalysisConfig, NLSQConfig
from homodyne.data import load, simulate
from homodyne.errors import DataFormatError
from homodyne.layout import FIGURES, angle_tag
from homodyne.nlsq import fit
from homodyne.physics import compute_c2
from homodyne.plots import c2, plot_cmc, plot_nlsq, plot_results, posterior, save_figure
from homodyne.plots.datasets import DatasetRow, datasets_figure
from homodyne.plots.figure import DPI
from homodyne.problem import build_problem
from homodyne.results import write_nlsq

NLSQ_FILES = tuple(f"{stem}.png" for stem, f in FIGURES.items() if f.part == "NLSQ")
CMC_FILES = tuple(f"{stem}.png" for stem, f in FIGURES.items() if f.part == "Bayesian (CMC)")


def write_fit(out, result, data, analysis):
    """The NLSQ files of a fit, with the model and verdict the NLSQ step hands the writer."""
    model = build_problem(data, analysis, result.per_angle_effective).model_matrix(result.values)
    return write_nlsq(out, result, data, c2_fit=model, verdict=quality.nlsq_verdict(result),
                      settings={})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A real static fit (3 angles x 40 frames) with its data: (result, data, analysis)."""
    root = tmp_path_factory.mktemp("fit")
    h5 = simulate(root / "static.h5", mode="static", params={"D0": 1e4, "alpha": -0.3},
                  phi=[0.0, 60.0, 120.0], n_frames=40, dt=0.1, q=0.0054, noise=0.01, seed=1)
    data = load(h5, q=0.0054, dt=0.1)
    analysis = AnalysisConfig(mode="static", dt=0.1)
    return fit(data, analysis, NLSQConfig()), data, analysis


@pytest.fixture(scope="module")
def results(tmp_path_factory, fitted):
    """A results folder with two static datasets (the second a copy at another q)."""
    root = tmp_path_factory.mktemp("results")
    write_fit(layout.dataset(root, "sample_a"), *fitted)
    second = root / "sample_b"
    shutil.copytree(root / "sample_a/nlsq", second / "nlsq")
    summary = json.loads((second / "nlsq/nlsq_results.json").read_text())
    summary["q"] = 0.0081
    (second / "nlsq/nlsq_results.json").write_text(json.dumps(summary))
    return root


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def check_png(path, fig=None) -> np.ndarray:
    """A PNG at DPI, of the figure's size (when given), with more than a blank page on it."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.info["dpi"][0] == pytest.approx(DPI, abs=0.1)
        if fig is not None:
            expected = fig.get_size_inches() * DPI
            assert np.abs(np.array(image.size) - expected).max() < 1  # Agg truncates
    values = pixels(path)
    assert values.std() > 20, f"{path.name} looks blank"
    return values


def panel(fig, values, ax) -> np.ndarray:
    """The pixels of one axes of a rendered figure (PNG rows run top to bottom)."""
    x0, y0, x1, y1 = np.round(ax.get_window_extent().extents).astype(int)
    return values[values.shape[0] - y1: values.shape[0] - y0, x0:x1]


def synthetic(n_phi=3, n=50, D0=1e4, seed=0):
    """Model c2 plus noise for one dataset: t, phi, c2_exp, c2_fit, sigma."""
    t = 0.1 * np.arange(1, n + 1)
    phi = np.linspace(-60.0, 60.0, n_phi)
    fit_ = np.asarray(compute_c2("static", np.array([D0, 0.0, 0.0]), t, phi, q=0.0054,
                                 dt=0.1, contrast=0.3))
    noise = np.random.default_rng(seed).normal(0, 0.01, fit_.shape)
    exp = fit_ + (noise + noise.swapaxes(-1, -2)) / np.sqrt(2)
    return t, phi, exp, fit_, np.full(n_phi, 0.01)


# ----------------------------------------------------------------- command line, real fits


def test_cli_plot_writes_every_figure(results, capsys):
    assert main(["plot", str(results)]) == 0
    printed = capsys.readouterr().out.split()
    phi = np.load(results / "sample_a/nlsq/nlsq_results.npz")["phi"]
    expected = [results / d / "plots" / f for d in ("sample_a", "sample_b") for f in
                [f"c2_phi_{angle_tag(p)}.png" for p in phi] + list(NLSQ_FILES)]
    expected.append(results / "plots/datasets_parameters.png")
    assert sorted(printed) == sorted(map(str, expected))
    for path in expected:
        check_png(path)
    assert not list(results.rglob("*.tmp"))


def test_cli_plot_one_dataset_with_svg(results, capsys):
    assert main(["plot", str(results), "--dataset", "sample_a", "--svg"]) == 0
    printed = capsys.readouterr().out.split()
    assert all("sample_a" in p for p in printed)
    assert str(results / "sample_a/plots/c2_overview.svg") in printed
    assert (results / "sample_a/plots/c2_overview.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("args", [["missing"], ["results", "--dataset", "nope"]])
def test_cli_plot_bad_folder_exits_2(tmp_path, capsys, args):
    (tmp_path / "results/x/nlsq").mkdir(parents=True)
    (tmp_path / "results/x/nlsq/nlsq_results.json").write_text("{}")
    path = tmp_path / args[0]
    assert main(["plot", str(path), *args[1:]]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("homodyne: error: ") and str(path) in err


def test_results_folder_without_results_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="no dataset results"):
        plot_results(tmp_path)


def test_truncated_npz_is_an_error_naming_the_file(results, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(results / "sample_a/nlsq", broken / "nlsq")
    np.savez(broken / "nlsq/nlsq_results.npz", phi=np.zeros(1))
    with pytest.raises(DataFormatError, match=r"nlsq_results\.npz: missing array\(s\) names"):
        plot_nlsq(layout.dataset(tmp_path, "broken"), tmp_path / "figures")


@pytest.mark.parametrize("mode", ["laminar_flow", "heterodyne"])
def test_other_modes_plot(tmp_path, fitted, mode):
    """Result files of each mode as the real writer makes them, with the model at its start
    values instead of a fit: plotting depends on the mode's files, not on convergence, and a
    fit of these modes would triple the time of this file."""
    h5 = simulate(tmp_path / f"{mode}.h5", mode=mode, phi=[-45.0, 45.0], n_frames=20, dt=0.1,
                  q=0.0054, noise=0.01, seed=1)
    data = load(h5, q=0.0054, dt=0.1)
    analysis = AnalysisConfig(mode=mode, dt=0.1)
    problem = build_problem(data, analysis)
    values = np.asarray(problem.start)
    contrast, offset = (np.asarray(a) for a in
                        problem.scaling.expand(values[problem.n_physical:]))
    result = dataclasses.replace(
        fitted[0], mode=problem.mode, per_angle_effective=problem.scaling.effective,
        names=problem.names, values=values, free=problem.free,
        uncertainties=0.01 * np.abs(values), covariance=np.diag((0.01 * values) ** 2),
        contrast=contrast, offset=offset, lower=problem.lower, upper=problem.upper,
        start=values)
    out = layout.dataset(tmp_path, mode)
    write_fit(out, result, data, analysis)
    written = plot_nlsq(out, out.plots)
    assert [p.name for p in written] == ["c2_phi_-045.0.png", "c2_phi_+045.0.png",
                                         *NLSQ_FILES]
    for path in written:
        check_png(path)


# ------------------------------------------------------------------------- NLSQ figures


def test_angle_figure_size_content_and_data_dependence(tmp_path):
    t, _, exp, fit_, sigma = synthetic()
    fig = c2.AnglePanels(t).show(exp[0], fit_[0], sigma[0], title="demo · static · φ = -60°")
    first = check_png(save_figure(fig, tmp_path / "a.png")[0], fig)
    data_ax = fig.axes[0]
    t, _, exp2, _, _ = synthetic(D0=3e4, seed=1)
    fig = c2.AnglePanels(t).show(exp2[0], fit_[0], sigma[0], title="demo · static · φ = -60°")
    second = check_png(save_figure(fig, tmp_path / "b.png")[0], fig)
    assert np.abs(panel(fig, first, data_ax) - panel(fig, second, data_ax)).mean() > 5
    assert panel(fig, first, data_ax).std() > 20  # the panel itself is not blank


def test_reused_angle_panels_draw_like_fresh_figures(tmp_path):
    t, phi, exp, fit_, sigma = synthetic()
    exp[2] += 0.05  # another colour scale for the last angle
    panels = c2.AnglePanels(t)
    for p in range(3):
        reused = save_figure(panels.show(exp[p], fit_[p], sigma[p], title=f"{phi[p]}"),
                             tmp_path / f"reused{p}.png")[0]
    fresh = save_figure(c2.AnglePanels(t).show(exp[2], fit_[2], sigma[2], title=f"{phi[2]}"),
                        tmp_path / "fresh.png")[0]
    assert np.array_equal(pixels(reused), pixels(fresh))


@pytest.mark.parametrize("build", [c2.c2_overview_figure, c2.c2_cuts_figure])
def test_all_angle_figures_follow_the_data(tmp_path, build):
    t, phi, exp, fit_, sigma = synthetic(n_phi=5)
    fig = build(t, phi, exp, fit_, sigma, title="demo")
    before = check_png(save_figure(fig, tmp_path / "a.png")[0], fig)
    exp[2] += 0.1
    fig = build(t, phi, exp, fit_, sigma, title="demo")
    after = check_png(save_figure(fig, tmp_path / "b.png")[0], fig)
    changed = [np.abs(panel(fig, before, ax) - panel(fig, after, ax)).mean() > 0.5
               for ax in fig.axes[:5]]
    assert changed[2]
    if build is c2.c2_cuts_figure:  # the overview shares one colour scale, cuts do not
        assert changed == [False, False, True, False, False]


def test_residual_histogram_shifts_with_a_bias(tmp_path):
    _, _, exp, fit_, sigma = synthetic()
    fig = c2.residual_histogram_figure(exp, fit_, sigma, title="demo")
    before = check_png(save_figure(fig, tmp_path / "a.png")[0], fig)
    fig = c2.residual_histogram_figure(exp + 0.02, fit_, sigma, title="demo")
    after = check_png(save_figure(fig, tmp_path / "b.png")[0], fig)
    assert np.abs(panel(fig, before, fig.axes[0]) - panel(fig, after, fig.axes[0])).mean() > 1
    assert "mean +2.0" in fig.axes[0].texts[0].get_text()


def test_large_matrices_are_strided_for_display_only():
    n = c2.MAX_FRAMES * 2 + 1
    t = 0.1 * np.arange(1, n + 1)
    image = c2.AnglePanels(t).data
    assert c2.stride(n, c2.MAX_FRAMES) == 3 and image.get_array().shape == (n // 3 + 1,) * 2
    assert image.get_extent()[1] >= t[-1]


def test_angle_tags_are_signed_and_padded():
    assert [angle_tag(p) for p in (45, -157.5, 0.0, 180, -5.04)] == [
        "+045.0", "-157.5", "+000.0", "+180.0", "-005.0"]


def test_plotting_leaves_rcparams_alone(tmp_path):
    before = dict(mpl.rcParams)
    t, phi, exp, fit_, sigma = synthetic(n_phi=1, n=20)
    c2.c2_cuts_figure(t, phi, exp, fit_, sigma, title="demo")
    assert dict(mpl.rcParams) == before


# -------------------------------------------------------------------------- CMC figures

NAMES = ("D0", "alpha", "D_offset", "contrast", "offset")


def draws(seed=0, chains=3, n=200):
    rng = np.random.default_rng(seed)
    centre = np.array([1e4, -0.5, 10.0, 0.3, 1.0])
    scale = np.array([100.0, 0.01, 1.0, 1e-3, 1e-4])
    out = centre + scale * rng.normal(size=(chains, n, len(NAMES)))
    out[1, :, 0] += 300.0  # one chain off: the trace must show it
    return out


def shards(dropped=(), k=6):
    rng = np.random.default_rng(2)
    flat = draws().reshape(-1, len(NAMES))
    means = flat.mean(0) + flat.std(0) * rng.normal(size=(k, len(NAMES)))
    used = np.ones(k, dtype=bool)
    used[list(dropped)] = False
    return means, np.tile(flat.std(0) * 2, (k, 1)), used, flat.mean(0), flat.std(0)


@pytest.mark.parametrize("build", ["trace", "marginals", "pair", "shards"])
def test_cmc_figures_render_and_follow_the_draws(tmp_path, build):
    def figure(d):
        if build == "shards":
            means, sds, used, mean, sd = shards()
            return posterior.shards_figure(means + (d[0, 0] - draws()[0, 0]), sds, used, NAMES,
                                           mean, sd, title="demo")
        kwargs = {"reference": {"D0": (1.0e4, 50.0)}} if build == "marginals" else {}
        return getattr(posterior, f"{build}_figure")(d, NAMES, title="demo", **kwargs)

    fig = figure(draws())
    before = check_png(save_figure(fig, tmp_path / "a.png")[0], fig)
    shifted = draws()
    shifted[..., 1] *= 1.5
    fig = figure(shifted)
    after = check_png(save_figure(fig, tmp_path / "b.png")[0], fig)
    assert np.abs(before - after).mean() > 0.05


def test_trace_gives_each_chain_its_colour():
    fig = posterior.trace_figure(draws(), NAMES, title="demo")
    colours = {line.get_color() for line in fig.axes[0].get_lines()}
    assert len(colours) == 3


def test_marginals_mark_the_nlsq_value():
    fig = posterior.marginals_figure(draws(), NAMES, title="demo",
                                     reference={"alpha": (-0.49, 0.02)})
    lines = [ln for ln in fig.axes[1].get_lines() if ln.get_linestyle() == "--"]
    assert len(lines) == 1 and lines[0].get_xdata()[0] == -0.49
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]


def _dropped_marks(fig):
    return [a for ax in fig.axes for a in ax.get_lines()
            if a.get_gid() == posterior.DROPPED_GID and len(a.get_xdata())]


def test_shard_plot_marks_dropped_shards(tmp_path):
    means, sds, used, mean, sd = shards()
    clean = posterior.shards_figure(means, sds, used, NAMES, mean, sd, title="demo")
    assert not _dropped_marks(clean)
    means, sds, used, mean, sd = shards(dropped=[4])
    marked = posterior.shards_figure(means, sds, used, NAMES, mean, sd, title="demo",
                                     reasons=[None] * 4 + ["divergence rate 14%", None])
    marks = _dropped_marks(marked)
    assert len(marks) == len(NAMES)
    assert all(list(m.get_xdata()) == [4] and m.get_color() == posterior.DROPPED_COLOR
               for m in marks)
    assert "1 dropped (divergence rate 14%)" in marked.get_suptitle()
    a = pixels(save_figure(clean, tmp_path / "clean.png")[0])
    b = pixels(save_figure(marked, tmp_path / "marked.png")[0])
    red = np.array(mpl.colors.to_rgb(posterior.DROPPED_COLOR)) * 255
    n_red = [(np.abs(x - red).sum(-1) < 30).sum() for x in (a, b)]  # the legend has one
    assert n_red[1] > n_red[0] + 50 * len(NAMES), n_red


def test_shard_with_non_finite_draws_is_marked_at_the_bottom():
    means, sds, used, mean, sd = shards(dropped=[1])
    means[1] = np.nan
    fig = posterior.shards_figure(means, sds, used, NAMES, mean, sd, title="demo")
    marks = [m for m in _dropped_marks(fig) if list(m.get_xdata()) == [1]]
    assert len(marks) == len(NAMES) and list(marks[0].get_ydata()) == [0.03]


def test_plot_cmc_reads_the_files(results, tmp_path):
    folder = tmp_path / "sample_a"
    shutil.copytree(results / "sample_a/nlsq", folder / "nlsq")
    means, sds, used, _, _ = shards(dropped=[2])
    (folder / "cmc").mkdir()
    np.savez(folder / "cmc/mcmc_results.npz", draws=draws(), names=np.array(NAMES),
             shard_means=means, shard_sds=sds, shard_used=used)
    (folder / "cmc/mcmc_diagnostics.json").write_text(json.dumps({"shards": [
        {"index": k, "used": bool(u), "reason": None if u else "non-finite draws"}
        for k, u in enumerate(used)]}))
    (folder / "cmc/mcmc_parameters.json").write_text(json.dumps({"parameters": {}}))
    written = plot_results(tmp_path)
    assert [p.name for p in written[-4:]] == list(CMC_FILES)
    for path in written[-4:]:
        check_png(path)
    with pytest.raises(DataFormatError, match=r"mcmc_results\.npz: result file not found"):
        plot_cmc(layout.dataset(results, "sample_a"), tmp_path / "figures")


def test_datasets_figure_shows_every_physical_parameter(tmp_path):
    rows = [DatasetRow("a", 0.005, "static", nlsq={"D0": (1e4, 1e2), "alpha": (-0.5, 0.01),
                                                   "D_offset": (1.0, np.nan)}),
            DatasetRow("b", 0.004, "laminar_flow", nlsq={"D0": (2e4, 2e2)},
                       cmc={"D0": (2.1e4, 3e2)})]
    fig = datasets_figure(rows)
    check_png(save_figure(fig, tmp_path / "d.png")[0], fig)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7  # the union of both modes' parameters
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["b\nq = 0.004",
                                                                    "a\nq = 0.005"]
