"""Cross-dataset figure: each physical parameter with its uncertainty against the dataset.

Datasets are placed side by side in order of q (then name), labelled with name and q, rather
than on a numeric q axis: several datasets may share a q (samples, temperatures, shear
rates), and the name is what the reader looks for.  NLSQ values carry their 1σ, CMC posterior
means their sd, slightly offset so both stay visible.

A dataset's label carries its verdict, in the verdict's colour, and a dataset whose verdict
is ``failed`` is drawn hollow and faded: drawn like the others, a failed fit read as a
measurement.  A parameter a dataset held fixed is drawn as fixed (open grey diamond, no
error bar), not as a measured point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from homodyne import params as registry
from homodyne.plots.figure import (
    fit_title,
    margins,
    new_figure,
    param_label,
    scale_ticks,
    set_title,
    styled,
)

NLSQ_STYLE = {"fmt": "o", "color": "tab:blue", "label": "NLSQ ± 1σ"}
CMC_STYLE = {"fmt": "s", "color": "tab:orange", "label": "CMC mean ± sd"}
FIXED_STYLE = {"marker": "D", "ls": "none", "ms": 5, "mfc": "none", "color": "0.35",
               "label": "fixed (not fitted)"}
FIXED_GID = "fixed"
"""``gid`` of the marks of fixed parameters: held at their start value, not measured."""

VERDICT_COLORS = {"ok": "tab:green", "warning": "darkorange", "failed": "tab:red"}
"""Colour of a dataset's tick label by its verdict (the word is in the label too)."""
UNUSABLE = "failed"
"""A dataset with this verdict is drawn hollow and faded: its numbers must not be used."""


@dataclass(frozen=True)
class DatasetRow:
    """One dataset's estimates: ``{parameter: (value, uncertainty)}`` per method."""

    name: str
    q: float
    mode: str
    nlsq: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cmc: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    verdict: str | None = None
    """The dataset's verdict (:func:`homodyne.plots.api.dataset_quality`), None if unknown."""
    fixed: frozenset[str] = frozenset()
    """Parameters held fixed in the fit: drawn as fixed, not as measurements."""


def physical_names(modes: Sequence[str]) -> list[str]:
    """Physical parameter names of all ``modes``, registry order, each once."""
    names: dict[str, None] = {}
    for mode in modes:
        try:
            names.update(dict.fromkeys(registry.names(mode)))
        except ValueError:
            continue
    return list(names)


def _points(rows: Sequence[DatasetRow], method: str, name: str, *, fixed: bool = False):
    """Values and error bars of ``name`` by ``method``; NaN where a dataset lacks it, where
    it was fixed (unless ``fixed``: then only the fixed values)."""
    values = [getattr(r, method).get(name, (math.nan, math.nan))
              if (name in r.fixed) == fixed else (math.nan, math.nan) for r in rows]
    value, err = (np.array(v, dtype=np.float64) for v in zip(*values, strict=True))
    return value, np.where(np.isfinite(err), err, 0.0)


def _tick(row: DatasetRow) -> str:
    """A dataset's x label: name, q and (when known) its verdict, in capitals."""
    verdict = f"\n{row.verdict.upper()}" if row.verdict else ""
    return f"{row.name}\nq = {row.q:.3g}{verdict}"


def _draw(ax, x, value, err, unusable, style) -> None:
    """Error bars of one method; datasets whose verdict is :data:`UNUSABLE` hollow and
    faded, so a failed fit is not read as a measurement."""
    for mask, extra in ((~unusable, {}), (unusable, {"mfc": "none", "alpha": 0.45})):
        if mask.any():
            ax.errorbar(x[mask], value[mask], yerr=err[mask], ms=5, capsize=2,
                        **{**style, **extra, "label": style["label"] if not extra
                           else f"{style['label']}, verdict failed"})


OFF_SCALE = 5.0
"""An error bar longer than this many times the spread of the values (or their typical
error bar) is left to run off the axis: one unconstrained dataset (σ = 1e9) must not
flatten every other point of its panel."""


def _robust_limits(ax, series) -> None:
    """y limits from the values and their ordinary error bars, ignoring off-scale ones."""
    values = np.concatenate([v for v, _ in series])
    errors = np.concatenate([e for _, e in series])
    keep = np.isfinite(values)
    if not keep.any():
        return
    v, e = values[keep], errors[keep]
    positive = e[e > 0]
    typical = max(float(np.ptp(v)), float(np.median(positive)) if positive.size else 0.0)
    ordinary = e <= OFF_SCALE * typical if typical > 0 else e == 0
    lo = float(np.min(v - np.where(ordinary, e, 0.0)))
    hi = float(np.max(v + np.where(ordinary, e, 0.0)))
    pad = 0.08 * (hi - lo) if hi > lo else 0.5 * max(abs(hi), 1e-12)
    ax.set_ylim(lo - pad, hi + pad)


@styled
def datasets_figure(rows: Sequence[DatasetRow], *, max_cols: int = 3) -> Figure:
    """One panel per physical parameter, datasets along x (sorted by q, then name).

    Args:
        rows: one per dataset; parameters a dataset lacks (other mode) are left blank, a
            non-finite uncertainty draws no error bar.
        max_cols: panels per row at most.
    """
    rows = sorted(rows, key=lambda r: (math.inf if math.isnan(r.q) else r.q, r.name))
    names = physical_names([r.mode for r in rows])
    cols = max(1, min(len(names), max_cols))
    n_rows = max(1, math.ceil(len(names) / cols))
    label_room = 0.25 + 0.07 * max(len(r.name) for r in rows) if len(rows) > 4 else 0.6
    pw, ph, gap_x, gap_y = max(2.6, 0.35 * len(rows)), 2.0, 0.85, 0.5 + label_room
    width = 0.85 + cols * pw + (cols - 1) * gap_x + 0.2
    modes = ", ".join(dict.fromkeys(r.mode for r in rows))
    head = fit_title(f"Parameters across {len(rows)} datasets · {modes} · q in Å⁻¹", width)
    label_room += 0.15 if any(r.verdict for r in rows) else 0.0  # the verdict's line
    height = label_room + 0.2 + n_rows * ph + (n_rows - 1) * gap_y + 1.05 + head.added
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=0.85, right=0.2,
                                  bottom=label_room + 0.2, top=1.05 + head.added),
                        wspace=gap_x / pw, hspace=gap_y / ph)
    axes = fig.subplots(n_rows, cols, squeeze=False)
    x = np.arange(len(rows))
    ticks = [_tick(r) for r in rows]
    unusable = np.array([r.verdict == UNUSABLE for r in rows])
    has_cmc = any(r.cmc for r in rows)
    legend: dict[str, object] = {}
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        shift = 0.12 if has_cmc else 0.0
        _draw(ax, x - shift, *_points(rows, "nlsq", names[k]), unusable, NLSQ_STYLE)
        if has_cmc:
            _draw(ax, x + shift, *_points(rows, "cmc", names[k]), unusable, CMC_STYLE)
        fixed, _ = _points(rows, "nlsq", names[k], fixed=True)
        if np.isfinite(fixed).any():
            ax.plot(x - shift, fixed, gid=FIXED_GID, **FIXED_STYLE)
        _robust_limits(ax, [_points(rows, m, names[k]) for m in
                            (("nlsq", "cmc") if has_cmc else ("nlsq",))]
                       + [(fixed, np.zeros_like(fixed))])
        ax.set_ylabel(scale_ticks(ax, "y", param_label(names[k])))
        ax.set_xticks(x, ticks, rotation=45 if len(rows) > 4 else 0,
                      ha="right" if len(rows) > 4 else "center")
        for label, row in zip(ax.get_xticklabels(), rows, strict=True):
            label.set_color(VERDICT_COLORS.get(row.verdict or "", "black"))
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.grid(alpha=0.3, axis="y")
        legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    if any(r.verdict for r in rows):
        legend["dataset label colour: verdict ok, warning, failed"] = Line2D(
            [], [], ls="none", marker="s", ms=0)
    fig.legend(list(legend.values()), list(legend), loc="upper center", ncols=3,
               frameon=False, bbox_to_anchor=(0.5, 1 - (0.4 + head.added) / height))
    set_title(fig, head)
    return fig
