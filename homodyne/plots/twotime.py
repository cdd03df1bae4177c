"""Figures of the model-free views (:mod:`homodyne.twotime`): one-time g2 and ageing.

Both take arrays and return a :class:`~matplotlib.figure.Figure`, one panel per angle.

* :func:`one_time_figure` -- g2(τ) ± its standard error on a log τ axis, with the fitted
  model reduced the same way on top.  Points where data and line part by more than a few
  error bars are where the model misses the data.
* :func:`ageing_figure` -- the decay time of each age window against the window's age, data
  and model.  A flat row of points means a stationary sample; a trend the model line does
  not follow means alpha (or beta) is not describing it.  Windows whose decay time is
  undefined are marked at the bottom of the panel and counted in its title.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from homodyne.plots.figure import panel_grid, styled


def log_spaced(n: int, count: int) -> np.ndarray:
    """Indices of about ``count`` of ``n`` lags spaced evenly in log (every one if fewer)."""
    return np.unique(np.round(np.geomspace(1, n, min(n, count))).astype(int)) - 1


def _panel(n: int, max_cols: int) -> tuple[float, float]:
    """Panel size (inches): 3 wide, wider with fewer than three angles so the two-line
    title fits."""
    return max(3.0, 7.0 / min(n, max_cols)), 2.2


def _finish(axes, n: int, xlabel: str, ylabel: str) -> None:
    rows, cols = axes.shape
    for p, ax in enumerate(axes.flat):
        if p >= n:
            ax.set_visible(False)
            continue
        ax.grid(alpha=0.3, which="both")
        if p % cols == 0:
            ax.set_ylabel(ylabel)
        if p // cols == rows - 1 or p + cols >= n:  # no panel below: the axis is shown here
            ax.set_xlabel(xlabel)
            ax.tick_params(labelbottom=True)  # shared x hides it on all but the bottom row


@styled
def one_time_figure(tau, phi, g2, g2_err, g2_model, *, title: str,
                    max_cols: int = 4, max_points: int = 80) -> Figure:
    """One-time g2 of each angle: data ± standard error, model line, log τ.

    Data markers are thinned to about ``max_points`` lags spaced evenly in log τ (a log axis
    crowds the long lags into a blot otherwise); the model line uses every lag.

    Args:
        tau: lags (s), ``(n_lags,)``.  phi: angles (degrees).
        g2, g2_err, g2_model: ``(n_phi, n_lags)``; NaN where a lag has no pairs.
        title: figure title (dataset, mode, q).
    """
    n = len(phi)
    fig, axes, _ = panel_grid(n, max_cols, panel=_panel(n, max_cols), gaps=(0.75, 0.65),
                              edges=(0.75, 0.2, 0.55, 0.75),
                              title=f"{title}\none-time $g_2(τ)$: mean over all ages")
    shown = log_spaced(len(tau), max_points)
    for p, ax in enumerate(axes.flat[:n]):
        ax.errorbar(tau[shown], g2[p, shown], yerr=np.nan_to_num(g2_err[p, shown]), fmt="o",
                    ms=2.5,
                    color="tab:blue", elinewidth=0.6, alpha=0.8, label="data ± s.e.")
        ax.plot(tau, g2_model[p], color="tab:red", lw=1.3, label="fit", zorder=3)
        ax.set_xscale("log")
        ax.set_title(f"φ = {phi[p]:+.1f}°")
    axes.flat[0].legend(loc="upper right", fontsize=7)
    _finish(axes, n, "τ (s)", "$g_2(τ)$")
    return fig


@styled
def ageing_figure(age, edges, phi, decay, decay_model, *, title: str,
                  max_cols: int = 4) -> Figure:
    """Decay time against age per angle, data (markers) and model (line).

    Args:
        age: window centres (s), ``(W,)``; edges: ``(W + 1,)``.  phi: angles (degrees).
        decay, decay_model: ``(n_phi, W)`` decay times (s), NaN where undefined (why is
            recorded in ``ageing.npz`` and the step's log).
        title: figure title (dataset, mode, q).
    """
    n = len(phi)
    fig, axes, _ = panel_grid(
        n, max_cols, panel=_panel(n, max_cols), gaps=(0.75, 0.65), edges=(0.75, 0.2, 0.55, 0.75),
        title=f"{title}\ndecay time (1/e of $g_2$ − baseline) per age window", sharex=True)
    half = 0.5 * np.diff(edges)
    for p, ax in enumerate(axes.flat[:n]):
        ax.errorbar(age, decay[p], xerr=half, fmt="o", ms=4, color="tab:blue",
                    elinewidth=0.6, label="data")
        ax.plot(age, decay_model[p], "s-", ms=3, color="tab:red", lw=1.2, label="fit")
        undefined = ~np.isfinite(decay[p])
        if undefined.any():
            ax.plot(age[undefined], np.zeros(undefined.sum()), "v", color="0.5",
                    transform=ax.get_xaxis_transform(), clip_on=False, ms=6,
                    label="undefined")
        finite = np.concatenate([decay[p][~undefined], decay_model[p][np.isfinite(
            decay_model[p])]])
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 10:
            ax.set_yscale("log")
        extra = f", {undefined.sum()} undefined" if undefined.any() else ""
        ax.set_title(f"φ = {phi[p]:+.1f}°{extra}")
    axes.flat[0].legend(loc="best", fontsize=7)
    _finish(axes, n, "age $(t_1 + t_2)/2$ (s)", "decay time (s)")
    return fig
