"""NLSQ figures of the two-time correlation: per-angle heatmaps, overview, cuts, residuals.

Every function takes arrays and returns a :class:`~matplotlib.figure.Figure`; nothing is
read or written here.  Conventions shared by the figures:

* Heatmaps show ``c2[i, j]`` with ``t1 = t[i]`` across and ``t2 = t[j]`` up, origin at the
  lower left and equal aspect, so the ``t1 = t2`` diagonal runs corner to corner.  Data and fit
  share one colour scale (0.5-99.5 percentiles of both, off the diagonal), so a difference in
  colour is a difference in value.
* Residuals are ``(data - fit) / sigma`` on a fixed ``±RESIDUAL_LIMIT`` diverging scale
  (comparable between angles and datasets); the diagonal, which no fit uses, is grey.
* Pairs touching a frame of ``frames_exclude`` (left out of every fit) are grey in the data
  and residual maps; the fit is drawn everywhere, as the model is defined there.
* Display thinning: a matrix with more than ``MAX_FRAMES`` frames is shown every k-th frame
  (k the smallest stride that brings it under the limit).  A 3-inch panel at 150 dpi has
  about 450 pixels, so finer detail is never visible; striding keeps real values (averaging
  would shrink the residual scatter).  Statistics (χ², histograms) always use every point.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from homodyne.plots.figure import fit_title, margins, new_figure, panel_grid, set_title, styled

MAX_FRAMES = 600
"""Largest matrix side drawn as is in a per-angle heatmap; larger ones are strided."""

MAX_OVERVIEW_FRAMES = 250
"""Same for the small panels of the overview."""

RESIDUAL_LIMIT = 4.0
"""Colour range of normalised residuals, in units of sigma."""

C2_CMAP = "viridis"
RESIDUAL_CMAP = "RdBu_r"
TIME_LABELS = ("$t_1$ (s)", "$t_2$ (s)")


def stride(n: int, limit: int) -> int:
    """Smallest frame stride that shows an ``n``-frame matrix with at most ``limit`` frames."""
    return max(1, math.ceil(n / limit))


def _extent(t: np.ndarray) -> tuple[float, float, float, float]:
    step = t[1] - t[0] if len(t) > 1 else 1.0
    lo, hi = t[0] - step / 2, t[-1] + step / 2
    return lo, hi, lo, hi


def masked(c2: np.ndarray, excluded) -> np.ndarray:
    """``c2`` (``(..., N, N)``) with NaN on every pair touching an ``excluded`` frame."""
    if excluded is None or not np.any(excluded):
        return c2
    excluded = np.asarray(excluded, dtype=bool)
    return np.where(excluded[:, None] | excluded[None, :], np.nan, c2)


def _off_diagonal(n: int) -> np.ndarray:
    return ~np.eye(n, dtype=bool)


def c2_limits(*matrices: np.ndarray) -> tuple[float, float]:
    """Shared colour limits: 0.5 and 99.5 percentiles of all off-diagonal values.

    Percentiles rather than min/max so that one hot pixel does not wash out the map.
    """
    values = np.concatenate([m[..., _off_diagonal(m.shape[-1])].ravel() for m in matrices])
    values = values[:: max(1, values.size // 1_000_000)]
    lo, hi = np.nanpercentile(values, [0.5, 99.5])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)


def normalised_residuals(c2_exp: np.ndarray, c2_fit: np.ndarray, sigma) -> np.ndarray:
    """``(data - fit) / sigma`` with the diagonal (never fitted) set to NaN.

    ``sigma`` is one value per angle, shape ``(n_phi,)``, or a scalar for a single matrix.
    """
    sigma = np.asarray(sigma, dtype=np.float64).reshape((*np.shape(sigma), 1, 1))
    r = (c2_exp - c2_fit) / sigma
    r[..., np.eye(r.shape[-1], dtype=bool)] = np.nan
    return r


def _upper(r: np.ndarray) -> np.ndarray:
    """The independent points (i < j) of one or more symmetric matrices, flattened."""
    return r[..., np.triu_indices(r.shape[-1], 1)[0], np.triu_indices(r.shape[-1], 1)[1]]


def reduced_chi2(r: np.ndarray) -> float:
    """Mean squared normalised residual over the independent points (i < j)."""
    return float(np.nanmean(_upper(r) ** 2))


def _heatmap(ax, image, extent, **kw):
    """Show ``image[i, j]`` with ``i`` across (t1) and ``j`` up (t2)."""
    return ax.imshow(image.T, origin="lower", extent=extent, aspect="equal", **kw)


class AnglePanels:
    """Data, fit and normalised residual of one angle side by side, redrawn per angle.

    The layout, axes, colour bars and ticks are built once for a time grid and only the
    images, colour limits and titles change per angle: building a figure costs about as much
    as drawing it, and a dataset has one such figure per angle.

    Args:
        t: time grid (s), shape ``(N,)``, shared by all angles.
    """

    @styled
    def __init__(self, t: np.ndarray):
        self.k = stride(len(t), MAX_FRAMES)
        t = np.asarray(t)[:: self.k]
        side, bar, bottom = 2.5, 0.12, 0.5
        lefts, widths = [0.65], [side]  # data, fit, colour bar, residual, colour bar (in)
        for gap, w in ((0.15, side), (0.1, bar), (0.75, side), (0.1, bar)):
            lefts.append(lefts[-1] + widths[-1] + gap)
            widths.append(w)
        width, self._height = lefts[-1] + bar + 0.75, bottom + side + 0.55
        self.figure = fig = new_figure(width, self._height)
        self._boxes = [(x, bottom, w, side) for x, w in zip(lefts, widths, strict=True)]
        self._added = 0.0
        ax_data, ax_fit, cax_c2, self.ax_res, cax_res = (
            fig.add_axes((x / width, y / self._height, w / width, h / self._height))
            for x, y, w, h in self._boxes)
        blank, extent = np.zeros((len(t), len(t))), _extent(t)
        norm = Normalize(0.0, 1.0)
        cmap = mpl.colormaps[C2_CMAP].with_extremes(bad="0.7")
        self.data = _heatmap(ax_data, blank, extent, cmap=cmap, norm=norm)
        self.fit = _heatmap(ax_fit, blank, extent, cmap=cmap, norm=norm)
        self.res = _heatmap(self.ax_res, blank, extent, vmin=-RESIDUAL_LIMIT,
                            vmax=RESIDUAL_LIMIT,
                            cmap=mpl.colormaps[RESIDUAL_CMAP].with_extremes(bad="0.7"))
        fig.colorbar(self.data, cax=cax_c2, label="$c_2$", extend="both")
        fig.colorbar(self.res, cax=cax_res, label="(data − fit) / σ", extend="both")
        for ax, name in ((ax_data, "data"), (ax_fit, "fit")):
            ax.set_title(name)
        for ax in (ax_data, ax_fit, self.ax_res):
            ax.set_xlabel(TIME_LABELS[0])
        ax_data.set_ylabel(TIME_LABELS[1])
        for ax in (ax_fit, self.ax_res):
            ax.tick_params(labelleft=False)
        self._axes = (ax_data, ax_fit, cax_c2, self.ax_res, cax_res)

    def _set_title(self, title: str) -> None:
        """The angle's title, broken to fit the figure (:func:`fit_title`); where it needs
        another number of lines than the angle before, the figure grows or shrinks at the
        top and the panels keep their place from the bottom."""
        head = fit_title(title, self.figure.get_figwidth())
        if head.added != self._added:
            self._added = head.added
            width, height = self.figure.get_figwidth(), self._height + head.added
            self.figure.set_size_inches(width, height)
            for ax, (x, y, w, h) in zip(self._axes, self._boxes, strict=True):
                ax.set_position((x / width, y / height, w / width, h / height))
        set_title(self.figure, head)

    @styled
    def show(self, c2_exp: np.ndarray, c2_fit: np.ndarray, sigma: float, *,
             title: str, excluded=None) -> Figure:
        """Draw one angle and return the (shared) figure; save it before the next call.

        Args:
            c2_exp, c2_fit: measured and fitted c2 of this angle, shape ``(N, N)``.
            sigma: noise of one element at this angle, to normalise the residual.
            title: figure title (dataset, mode, q, angle).
            excluded: ``(N,)`` bool frames left out of the fit, greyed.
        """
        c2_exp, c2_fit = c2_exp[:: self.k, :: self.k], c2_fit[:: self.k, :: self.k]
        if excluded is not None:
            c2_exp = masked(c2_exp, np.asarray(excluded)[:: self.k])
        r = normalised_residuals(c2_exp, c2_fit, sigma)
        self.data.set_clim(*c2_limits(c2_exp, c2_fit))  # one update; fit shares the norm
        for image, values in ((self.data, c2_exp), (self.fit, c2_fit), (self.res, r)):
            image.set_data(values.T)
        self.ax_res.set_title(f"residual, χ²ᵣ = {reduced_chi2(r):.3f}")
        self._set_title(title)
        return self.figure


def split_image(c2_exp: np.ndarray, c2_fit: np.ndarray) -> np.ndarray:
    """One matrix with the data where ``t2 > t1`` and the fit elsewhere.

    Shown by :func:`_heatmap`, the data fill the triangle above the diagonal and the fit the
    one below, so one small panel compares both at the same colour scale.
    """
    n = c2_exp.shape[-1]
    return np.where(np.triu(np.ones((n, n), dtype=bool), 1), c2_exp, c2_fit)


@styled
def c2_overview_figure(t: np.ndarray, phi: np.ndarray, c2_exp: np.ndarray, c2_fit: np.ndarray,
                       sigma: np.ndarray, *, title: str, max_cols: int = 6,
                       excluded=None) -> Figure:
    """All angles on one page: data above and fit below the diagonal, one colour scale.

    Args:
        t: time grid (s).  phi: angles (degrees), shape ``(n_phi,)``.
        c2_exp, c2_fit: shape ``(n_phi, N, N)``.
        sigma: per-angle noise, shape ``(n_phi,)``, for each panel's reduced χ².
        title: figure title (dataset, mode, q).
        max_cols: panels per row at most.
        excluded: ``(N,)`` bool frames left out of the fit, greyed in the data triangle.
    """
    c2_exp = masked(c2_exp, excluded)
    n_phi = len(phi)
    cols = min(n_phi, max_cols)
    rows = math.ceil(n_phi / cols)
    k = stride(len(t), MAX_OVERVIEW_FRAMES)
    chi2 = [reduced_chi2(normalised_residuals(c2_exp[p, ::k, ::k], c2_fit[p, ::k, ::k],
                                              sigma[p])) for p in range(n_phi)]
    t, c2_exp, c2_fit = t[::k], c2_exp[:, ::k, ::k], c2_fit[:, ::k, ::k]
    side, gap_x, gap_y = 1.9, 0.15, 0.45
    width = 0.65 + cols * side + (cols - 1) * gap_x + 1.1
    head = fit_title(f"{title}\nabove the diagonal: data · below: fit", width)
    height = 0.5 + rows * side + (rows - 1) * gap_y + 0.75 + head.added
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=0.65, right=1.1, bottom=0.5,
                                  top=0.75 + head.added),
                        wspace=gap_x / side, hspace=gap_y / side)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    norm = Normalize(*c2_limits(c2_exp, c2_fit))
    extent = _extent(t)
    for p, ax in enumerate(axes.flat):
        if p >= n_phi:
            ax.set_visible(False)
            continue
        image = _heatmap(ax, split_image(c2_exp[p], c2_fit[p]), extent, norm=norm,
                         cmap=mpl.colormaps[C2_CMAP].with_extremes(bad="0.7"))
        ax.set_title(f"φ = {phi[p]:+.1f}°, χ²ᵣ = {chi2[p]:.2f}")
        if p // cols == rows - 1 or p + cols >= n_phi:
            ax.set_xlabel(TIME_LABELS[0])
            ax.tick_params(labelbottom=True)
        if p % cols == 0:
            ax.set_ylabel(TIME_LABELS[1])
    top = axes[0, -1].get_position()
    cax = fig.add_axes((top.x1 + 0.15 / width, 0.5 / height, 0.12 / width,
                        top.y1 - 0.5 / height))
    fig.colorbar(image, cax=cax, label="$c_2$", extend="both")
    set_title(fig, head)
    return fig


def default_lags(n: int, count: int = 4) -> np.ndarray:
    """Lags (frames) spaced evenly in log from 1 to n/2: short to long decorrelation."""
    return np.unique(np.round(np.geomspace(1, max(1, n // 2), count)).astype(int))


LEGEND_MARGIN = 2.3
"""Right margin (inches) of a one-angle lag-cut figure: its legend stands there."""


@styled
def c2_cuts_figure(t: np.ndarray, phi: np.ndarray, c2_exp: np.ndarray, c2_fit: np.ndarray,
                   sigma: np.ndarray, *, title: str, lags=None, max_points: int = 40,
                   max_cols: int = 4) -> Figure:
    """c2 along lines of constant lag ``t2 - t1``, data ± sigma against the fitted model.

    A cut shows how c2 ages along the experiment (t1) at a fixed delay, where a heatmap shows
    colour only.  Data markers are thinned to ``max_points`` per cut so error bars stay
    legible; the model line uses every frame.

    Args:
        t: time grid (s).  phi: angles (degrees).
        c2_exp, c2_fit: shape ``(n_phi, N, N)``.  sigma: per-angle noise, shape ``(n_phi,)``.
        title: figure title (dataset, mode, q).
        lags: lags in frames (default :func:`default_lags`).
        max_points: data markers per cut at most.
        max_cols: panels per row at most.
    """
    n_phi, n = len(phi), len(t)
    lags = default_lags(n) if lags is None else np.asarray(lags, dtype=int)
    step = t[1] - t[0] if n > 1 else 0.0
    # one angle: the legend goes right of the panel (inside it covered the data), and that
    # margin makes the figure wide enough for the title (3.95 inches clipped it)
    right, top = (LEGEND_MARGIN, 0.7) if n_phi == 1 else (0.2, 1.2)  # 1.2: legend above
    fig, axes, added = panel_grid(n_phi, max_cols, panel=(3.0, 2.2), gaps=(0.75, 0.65),
                                  edges=(0.75, right, 0.55, top), title=title, sharex=True)
    rows, cols = axes.shape
    height = fig.get_figheight()
    handles = []
    for p, ax in enumerate(axes.flat):
        if p >= n_phi:
            ax.set_visible(False)
            continue
        for c, lag in enumerate(lags):
            i = np.arange(n - lag)
            thin = i[:: max(1, math.ceil(len(i) / max_points))]
            color = f"C{c % 10}"
            ax.plot(t[i], c2_fit[p, i, i + lag], color=color, lw=1.3, zorder=3)
            frames = "1 frame" if lag == 1 else f"{lag} frames"
            marks = ax.errorbar(t[thin], c2_exp[p, thin, thin + lag], yerr=sigma[p], fmt="o",
                                ms=2.5, color=color, elinewidth=0.7, alpha=0.75,
                                label=f"τ = {lag * step:.3g} s ({frames})")
            if p == 0:
                handles.append(marks)
        ax.set_title(f"φ = {phi[p]:+.1f}°")
        ax.grid(alpha=0.3)
        if p % cols == 0:
            ax.set_ylabel("$c_2(t_1, t_1 + τ)$")
        if p // cols == rows - 1 or p + cols >= n_phi:
            ax.set_xlabel(TIME_LABELS[0])
            ax.tick_params(labelbottom=True)
    legend = {"handles": handles, "title": "markers: data ± σ · lines: fit",
              "title_fontsize": 8}
    if cols == 1:  # a column is narrower than a row of four entries: legend beside it
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.04, 1.0), borderaxespad=0.0,
                          fontsize=7, frameon=False, **legend)
    else:
        fig.legend(loc="upper center", ncols=min(len(handles), 4),
                   bbox_to_anchor=(0.5, 1 - (0.3 + added) / height), frameon=False, **legend)
    return fig


@styled
def residual_histogram_figure(c2_exp: np.ndarray, c2_fit: np.ndarray, sigma: np.ndarray, *,
                              title: str, limit: float = 6.0) -> Figure:
    """Histogram of all normalised residuals against the unit Gaussian, linear and log scale.

    With a correct model and noise estimate the residuals are N(0, 1): a shifted peak means
    bias, a wider one underestimated noise or misfit, heavy tails in the log panel outliers.
    Every independent point (i < j, all angles) is counted.

    Args:
        c2_exp, c2_fit: shape ``(n_phi, N, N)``.  sigma: per-angle noise ``(n_phi,)``.
        title: figure title.
        limit: histogram range ±limit (σ); the fraction beyond it is printed.
    """
    r = _upper(normalised_residuals(c2_exp, c2_fit, sigma)).ravel()
    r = r[np.isfinite(r)]
    counts, edges = np.histogram(r, bins=120, range=(-limit, limit))
    density = counts / (r.size * (edges[1] - edges[0]))
    x = np.linspace(-limit, limit, 400)
    gauss = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    width = 7.5
    head = fit_title(title, width)
    height = 3.0 + head.added
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=0.7, right=0.2, bottom=0.55,
                                  top=0.65 + head.added), wspace=0.3)
    for ax, log in zip(fig.subplots(1, 2), (False, True), strict=True):
        ax.stairs(density, edges, fill=True, color="tab:blue", alpha=0.6, label="residuals")
        ax.plot(x, gauss, color="k", lw=1.2, label="N(0, 1)")
        ax.set_xlabel("(data − fit) / σ")
        ax.set_ylabel("probability density")
        ax.set_xlim(-limit, limit)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(0.5 / (r.size * (edges[1] - edges[0])), 1.0)
        ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    beyond = np.mean(np.abs(r) > limit) if r.size else math.nan
    fig.axes[0].text(0.02, 0.97, f"{r.size:,} points\nmean {r.mean():+.3f}\nsd {r.std():.3f}\n"
                     f"beyond ±{limit:g}σ: {beyond:.2%}", transform=fig.axes[0].transAxes,
                     va="top", fontsize=8)
    set_title(fig, head)
    return fig
