"""CMC figures: traces, marginal posteriors, pair plot and per-shard posteriors.

Every function takes arrays (draws as ``(chains, draws, parameters)``, names, shard
summaries) and returns a :class:`~matplotlib.figure.Figure`, so each can be checked with
synthetic numbers.  Plain matplotlib rather than ArviZ plotting: the figures must match the
NLSQ ones in style, mark NLSQ values and dropped shards, and render without a plotting
backend's global state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from homodyne.plots.figure import (
    CHAIN_COLORS,
    fit_title,
    margins,
    new_figure,
    panel_grid,
    param_label,
    scale_ticks,
    set_title,
    styled,
    unit_of,
)

DROPPED_GID = "dropped-shards"
"""``gid`` of the artist marking dropped shards, so a test or script can find it."""

USED_COLOR, DROPPED_COLOR, CONSENSUS_COLOR = "tab:blue", "tab:red", "0.25"
TRUTH_COLOR = "tab:green"
TRUTH_GID = "truth"
"""``gid`` of the lines marking the known truth of simulated data."""

LEGEND_WIDTH = 6.2
"""Width (inches) the marginals' and the shard figure's one-row legends above the panels
need: a figure of one parameter widens its panel to it (2.9 and 3.95 inches cut them off)."""


def _flat(draws: np.ndarray) -> np.ndarray:
    return draws.reshape(-1, draws.shape[-1])


def _bins(x: np.ndarray, n: int = 40) -> np.ndarray | int:
    """Histogram bins over the finite range of ``x`` (one bin for a constant)."""
    x = x[np.isfinite(x)]
    if x.size == 0 or np.ptp(x) == 0:
        return 1
    return np.linspace(x.min(), x.max(), n + 1)


@styled
def trace_figure(draws: np.ndarray, names: Sequence[str], *, title: str,
                 resampled: bool = False) -> Figure:
    """Draw-by-draw trace (left) and per-chain histogram (right) of every parameter.

    Chains that disagree, drift or stick show up as separated colours; one colour per chain
    (legend on top).  Importance-sampling draws (``resampled``) are one set of independent
    draws resampled by their weights, not a chain: the title says so, and a trace without
    structure is what they should look like.

    Args:
        draws: shape ``(chains, draws, parameters)``.
        names: one per parameter.
        title: figure title (dataset, mode, q).
        resampled: the draws are importance sampling's.
    """
    n_chains, n_draws, n_par = draws.shape
    row, width = 1.1, 7.5
    what = (f"importance sampling, {n_draws} resampled draws" if resampled
            else f"{n_chains} chains × {n_draws} draws")
    head = fit_title(f"{title} · {what}", width)
    height = 0.5 + n_par * row + 0.85 + head.added
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=0.75, right=0.25, bottom=0.5,
                                  top=0.85 + head.added), hspace=0.45, wspace=0.08)
    axes = fig.subplots(n_par, 2, squeeze=False, sharey="row",
                        gridspec_kw={"width_ratios": (3, 1)})
    steps = np.arange(n_draws)
    for k, name in enumerate(names):
        bins = _bins(draws[..., k].ravel())
        for c in range(n_chains):
            color = CHAIN_COLORS[c % len(CHAIN_COLORS)]
            axes[k, 0].plot(steps, draws[c, :, k], color=color, lw=0.5, alpha=0.8,
                            label="resampled draws" if resampled else f"chain {c}")
            axes[k, 1].hist(draws[c, :, k], bins=bins, orientation="horizontal",
                            histtype="step", color=color, density=True)
        axes[k, 0].set_xlim(0, max(1, n_draws - 1))
        axes[k, 0].set_title(scale_ticks(axes[k, 0], "y", param_label(name)), loc="left",
                              pad=3)
        axes[k, 1].tick_params(labelleft=False, labelbottom=False)
        if k < n_par - 1:
            axes[k, 0].tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("density per chain")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=min(n_chains, 8), frameon=False,
               bbox_to_anchor=(0.5, 1 - (0.4 + head.added) / height))
    set_title(fig, head)
    return fig


@styled
def marginals_figure(draws: np.ndarray, names: Sequence[str], *, title: str,
                     reference: Mapping[str, tuple[float, float]] | None = None,
                     truth: Mapping[str, float] | None = None,
                     max_cols: int = 4) -> Figure:
    """Histogram of each parameter's posterior with the NLSQ value and its ±1σ band.

    The x range covers the posterior and the NLSQ value, so a disagreement between the two
    methods is always in view.

    Args:
        draws: shape ``(chains, draws, parameters)``; chains are pooled.
        names: one per parameter.
        title: figure title.
        reference: NLSQ ``{name: (value, sd)}``; parameters without one are shown alone, a
            non-finite sd draws no band.
        truth: the known true values of simulated data ``{name: value}`` (``gid``
            :data:`TRUTH_GID`), kept in view like the NLSQ value.
        max_cols: panels per row at most.
    """
    reference = reference or {}
    flat = _flat(draws)
    n_par = len(names)
    fig, axes, added = panel_grid(n_par, max_cols, panel=(2.3, 1.7), gaps=(0.35, 0.75),
                                  edges=(0.3, 0.3, 0.55, 0.85), title=title,
                                  min_width=LEGEND_WIDTH)
    height = fig.get_figheight()
    for k, ax in enumerate(axes.flat):
        if k >= n_par:
            ax.set_visible(False)
            continue
        x = flat[:, k]
        ax.hist(x, bins=_bins(x), density=True, color=USED_COLOR, alpha=0.6)
        lo, hi = np.nanpercentile(x, [0.1, 99.9])
        value, sd = reference.get(names[k], (math.nan, math.nan))
        if math.isfinite(value):
            if math.isfinite(sd):
                ax.axvspan(value - sd, value + sd, color="0.6", alpha=0.35, lw=0)
            ax.axvline(value, color="k", ls="--", lw=1.2)
            lo, hi = min(lo, value), max(hi, value)
        true = (truth or {}).get(names[k])
        if true is not None and math.isfinite(true):
            ax.axvline(true, color=TRUTH_COLOR, ls=":", lw=1.6, gid=TRUTH_GID)
            lo, hi = min(lo, true), max(hi, true)
        pad = 0.05 * (hi - lo) if hi > lo else 0.5 * max(abs(lo), 1e-12)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(scale_ticks(ax, "x", param_label(names[k])))
        ax.tick_params(labelleft=False, left=False)
    fig.legend(handles=[Patch(color=USED_COLOR, alpha=0.6, label="CMC posterior"),
                        Line2D([], [], color="k", ls="--", label="NLSQ value"),
                        Patch(color="0.6", alpha=0.35, label="NLSQ ±1σ"),
                        *([Line2D([], [], color=TRUTH_COLOR, ls=":", label="truth")]
                          if truth else [])],
               loc="upper center", ncols=4, frameon=False,
               bbox_to_anchor=(0.5, 1 - (0.4 + added) / height))
    return fig


def _pair_label(ax, which: str, name: str) -> str:
    """The name on one line, the scale and the unit below: a cell is too narrow for more
    (``gamma_dot_t_offset (×10⁻⁴)`` on one line ran into the neighbouring cells' ticks)."""
    unit = unit_of(name)
    scale = scale_ticks(ax, which, name).removeprefix(name).strip()
    below = " ".join(part for part in (scale, "" if unit is None else f"[{unit}]") if part)
    return f"{name}\n{below}" if below else name


@styled
def pair_figure(draws: np.ndarray, names: Sequence[str], *, title: str,
                max_points: int = 1500, seed: int = 0) -> Figure:
    """Pairwise scatter of parameters (lower triangle), histograms (diagonal), correlation
    coefficients (upper triangle).

    Correlations are what a per-parameter summary hides and what the full-covariance
    consensus (docs/physics.md) preserves.  At most ``max_points`` draws (a seeded random subset)
    are scattered so the figure stays light; the coefficients use all draws.

    Args:
        draws: shape ``(chains, draws, parameters)``: pass only the parameters to show.
        names: one per parameter.
        title: figure title.
        max_points: draws scattered at most.  seed: of the subset.
    """
    flat = _flat(draws)
    n = len(names)
    cell = 1.35 if n > 4 else 1.8
    width = 1.1 + max(n, 1) * cell + 0.2
    head = fit_title(f"{title} · pairwise posterior (ρ: correlation)", width)
    height = width + 0.35 + head.added
    fig = new_figure(width, height)
    set_title(fig, head)
    if n == 0:
        fig.text(0.5, 0.5, "no varying physical parameter in the draws", ha="center")
        return fig
    fig.subplots_adjust(**margins(width, height, left=1.1, right=0.2, bottom=1.0,
                                  top=0.55 + head.added), wspace=0.08, hspace=0.08)
    axes = fig.subplots(n, n, squeeze=False)
    subset = flat
    if len(flat) > max_points:
        subset = flat[np.random.default_rng(seed).choice(len(flat), max_points, replace=False)]
    corr = np.corrcoef(flat, rowvar=False) if n > 1 else np.ones((1, 1))
    limits = [(float(np.nanmin(flat[:, k])), float(np.nanmax(flat[:, k]))) for k in range(n)]
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if i == j:
                ax.hist(flat[:, i], bins=_bins(flat[:, i], 30), color=USED_COLOR, alpha=0.7)
                ax.tick_params(left=False, labelleft=False)
            elif i > j:
                ax.scatter(subset[:, j], subset[:, i], s=2, alpha=0.35, color=USED_COLOR,
                           lw=0, rasterized=True)
                ax.set_ylim(limits[i])
            else:
                ax.text(0.5, 0.5, f"ρ = {corr[i, j]:+.2f}", transform=ax.transAxes,
                        ha="center", va="center", color="k" if abs(corr[i, j]) < 0.5
                        else DROPPED_COLOR)
                ax.set_axis_off()
                continue
            ax.set_xlim(limits[j])
            # no tick at a cell's edge, where its label would meet the neighbour's
            ax.xaxis.set_major_locator(MaxNLocator(3, prune="both"))
            ax.yaxis.set_major_locator(MaxNLocator(3, prune="both"))
            if i == n - 1:
                ax.set_xlabel(_pair_label(ax, "x", names[j]))
                ax.tick_params(axis="x", labelrotation=90)
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(_pair_label(ax, "y", names[i]))
            elif i != j:
                ax.tick_params(labelleft=False)
    return fig


@styled
def shards_figure(shard_means: np.ndarray, shard_sds: np.ndarray, shard_used: np.ndarray,
                  names: Sequence[str], consensus_mean: np.ndarray, consensus_sd: np.ndarray,
                  *, title: str, reasons: Sequence[str | None] | None = None,
                  max_cols: int = 3) -> Figure:
    """Each shard's posterior mean ± sd per parameter against the consensus band.

    Shards that disagree with the consensus (heterogeneous data) stand out of the band; shards
    left out of the consensus are drawn as red crosses (``gid`` :data:`DROPPED_GID`), at the
    bottom edge when their mean is not finite.

    Args:
        shard_means, shard_sds: shape ``(K, parameters)``.
        shard_used: ``(K,)`` bool, False for a dropped shard.
        names: one per parameter.
        consensus_mean, consensus_sd: of the combined draws, shape ``(parameters,)``.
        title: figure title.
        reasons: why each shard was dropped (``None`` when used), listed under the title.
        max_cols: panels per row at most.
    """
    used = np.asarray(shard_used, dtype=bool)
    n_shards, n_par = shard_means.shape
    index = np.arange(n_shards)
    n_dropped = int((~used).sum())
    why = sorted({r for r in (reasons or []) if r})
    detail = f"{n_shards} shards, {n_dropped} dropped" + (f" ({'; '.join(why)})" if why else "")
    fig, axes, added = panel_grid(n_par, max_cols, panel=(2.9, 1.9), gaps=(0.8, 0.6),
                                  edges=(0.85, 0.2, 0.55, 1.1), title=f"{title}\n{detail}",
                                  sharex=True, min_width=LEGEND_WIDTH)
    rows, cols = axes.shape
    height = fig.get_figheight()
    for k, ax in enumerate(axes.flat):
        if k >= n_par:
            ax.set_visible(False)
            continue
        mean, sd = consensus_mean[k], consensus_sd[k]
        ax.axhspan(mean - sd, mean + sd, color=CONSENSUS_COLOR, alpha=0.2, lw=0)
        ax.axhline(mean, color=CONSENSUS_COLOR, lw=1.2)
        ax.errorbar(index[used], shard_means[used, k], yerr=shard_sds[used, k], fmt="o", ms=4,
                    color=USED_COLOR, elinewidth=1)
        dropped = ~used
        if dropped.any():
            finite = np.isfinite(shard_means[:, k])
            shown, lost = dropped & finite, dropped & ~finite
            ax.errorbar(index[shown], shard_means[shown, k],
                        yerr=np.nan_to_num(shard_sds[shown, k], posinf=0.0), fmt="X", ms=7,
                        color=DROPPED_COLOR, elinewidth=1, zorder=4, gid=DROPPED_GID)
            ax.plot(index[lost], np.full(lost.sum(), 0.03), "X", ms=7, color=DROPPED_COLOR,
                    transform=ax.get_xaxis_transform(), clip_on=False, gid=DROPPED_GID)
        ax.set_ylabel(scale_ticks(ax, "y", param_label(names[k])))
        # whole shard numbers, also for one shard (one integer in view: MaxNLocator's
        # default wants two and fell back to ticks at ±0.045)
        ax.set_xlim(-0.5, n_shards - 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        if k // cols == rows - 1 or k + cols >= n_par:
            ax.set_xlabel("shard")
            ax.tick_params(labelbottom=True)
    handles = [
        Line2D([], [], marker="o", ms=4, ls="none", color=USED_COLOR, label="shard mean ± sd"),
        Line2D([], [], marker="X", ms=7, ls="none", color=DROPPED_COLOR,
               label="dropped shard (at the bottom if not finite)"),
        Patch(color=CONSENSUS_COLOR, alpha=0.3, label="consensus mean ± sd"),
    ]
    fig.legend(handles=handles, loc="upper center", ncols=3, frameon=False,
               bbox_to_anchor=(0.5, 1 - (0.62 + added) / height))
    return fig
