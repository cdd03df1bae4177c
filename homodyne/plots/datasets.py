"""Cross-dataset figure: each physical parameter with its uncertainty against the dataset.

Datasets are placed side by side in order of q (then name), labelled with name and q, rather
than on a numeric q axis: several datasets may share a q (samples, temperatures, shear
rates), and the name is what the reader looks for.  NLSQ values carry their 1σ, CMC posterior
means their sd, slightly offset so both stay visible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from homodyne import params as registry
from homodyne.plots.figure import margins, new_figure, param_label, scale_ticks, styled

NLSQ_STYLE = {"fmt": "o", "color": "tab:blue", "label": "NLSQ ± 1σ"}
CMC_STYLE = {"fmt": "s", "color": "tab:orange", "label": "CMC mean ± sd"}


@dataclass(frozen=True)
class DatasetRow:
    """One dataset's estimates: ``{parameter: (value, uncertainty)}`` per method."""

    name: str
    q: float
    mode: str
    nlsq: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cmc: Mapping[str, tuple[float, float]] = field(default_factory=dict)


def physical_names(modes: Sequence[str]) -> list[str]:
    """Physical parameter names of all ``modes``, registry order, each once."""
    names: dict[str, None] = {}
    for mode in modes:
        try:
            names.update(dict.fromkeys(registry.names(mode)))
        except ValueError:
            continue
    return list(names)


def _points(rows: Sequence[DatasetRow], method: str, name: str):
    values = [getattr(r, method).get(name, (math.nan, math.nan)) for r in rows]
    value, err = (np.array(v, dtype=np.float64) for v in zip(*values, strict=True))
    return value, np.where(np.isfinite(err), err, 0.0)


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
    height = label_room + 0.2 + n_rows * ph + (n_rows - 1) * gap_y + 0.85
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=0.85, right=0.2,
                                  bottom=label_room + 0.2, top=0.85),
                        wspace=gap_x / pw, hspace=gap_y / ph)
    axes = fig.subplots(n_rows, cols, squeeze=False)
    x = np.arange(len(rows))
    ticks = [f"{r.name}\nq = {r.q:.3g}" for r in rows]
    has_cmc = any(r.cmc for r in rows)
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        shift = 0.12 if has_cmc else 0.0
        value, err = _points(rows, "nlsq", names[k])
        ax.errorbar(x - shift, value, yerr=err, ms=5, capsize=2, **NLSQ_STYLE)
        if has_cmc:
            value, err = _points(rows, "cmc", names[k])
            ax.errorbar(x + shift, value, yerr=err, ms=5, capsize=2, **CMC_STYLE)
        _robust_limits(ax, [_points(rows, m, names[k]) for m in
                            (("nlsq", "cmc") if has_cmc else ("nlsq",))])
        ax.set_ylabel(scale_ticks(ax, "y", param_label(names[k])))
        ax.set_xticks(x, ticks, rotation=45 if len(rows) > 4 else 0,
                      ha="right" if len(rows) > 4 else "center")
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.grid(alpha=0.3, axis="y")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=2, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    modes = ", ".join(dict.fromkeys(r.mode for r in rows))
    fig.suptitle(f"Parameters across {len(rows)} datasets · {modes} · q in Å⁻¹",
                 y=1 - 0.08 / height, va="top")
    return fig
