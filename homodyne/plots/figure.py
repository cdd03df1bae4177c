"""Figure plumbing shared by every plot: Agg figures without pyplot, one style, atomic saves.

Figures are built with the object-oriented API (:class:`matplotlib.figure.Figure` attached to a
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`), never with ``pyplot``: plotting then
works headless, in threads and inside workflow jobs, leaves no global figure registry to close,
and cannot be slowed by an interactive backend.  Layouts are fixed grids (``subplots_adjust``)
rather than ``tight_layout``/constrained layout, whose solvers cost more than the drawing
itself on grids of many panels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from homodyne import params as registry
from homodyne.io import write_atomic

DPI = 150
"""Resolution of every PNG: readable on screen, sharp enough for a printed figure."""

PNG_COMPRESSION = 3
"""zlib level of the PNGs: half the encoding time of the default 6 for files about 5% larger
(noisy residual maps hardly compress at any level)."""

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "image.interpolation": "nearest",
    "svg.fonttype": "none",
}
"""Font sizes chosen for figures about 7 inches wide: a column of a paper at 1:1 scale."""

CHAIN_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
                "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def styled[F: Callable](build: F) -> F:
    """Run a figure builder under :data:`STYLE` without changing the caller's rcParams."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, *, svg: bool = False) -> list[Path]:
    """Write ``fig`` as ``path`` (PNG, :data:`DPI`) and, with ``svg``, beside it as SVG.

    Each file goes through a temporary file in its folder and is renamed into place, so an
    interrupted run never leaves a half-written figure.  SVG carries no date, so the same
    results give the same bytes.

    Returns:
        The written paths, PNG first.
    """
    path = Path(path).with_suffix(".png")
    # the title (dataset, model, verdict) also as the PNG's Title: a viewer, a file
    # browser and the tests read it without looking at the pixels
    meta = {"Title": " ".join(fig.get_suptitle().split())} if fig.get_suptitle() else {}
    written = [write_atomic(path, lambda tmp: fig.savefig(
        tmp, format="png", dpi=DPI, metadata=meta,
        pil_kwargs={"compress_level": PNG_COMPRESSION}))]
    if svg:
        written.append(write_atomic(path.with_suffix(".svg"), lambda tmp: fig.savefig(
            tmp, format="svg", metadata={"Date": None})))
    return written


def title(name: str, mode: str, q: float, phi: float | None = None, *,
          quality: str | None = None, step: str | None = None) -> str:
    """A title naming the dataset, the model, q, (if given) the angle, and the dataset's
    quality verdict (``ok``/``warning``/``failed``, see :mod:`homodyne.quality`), so no figure
    of an untrustworthy result circulates without saying so.  ``step`` names where the
    verdict comes from when the NLSQ and Bayesian verdicts differ: an NLSQ figure of a fit
    that is fine may carry a Bayesian ``WARNING``, and says so."""
    text = f"{name} · {mode} · q = {q:.4g} Å⁻¹"
    text = text if phi is None else f"{text} · φ = {phi:+.1f}°"
    if quality is None:
        return text
    if quality == "ok":
        return f"{text} · quality: OK"
    return f"{text} · quality: {quality.upper()} ({f'{step}; ' if step else ''}see reasons)"


def _units() -> dict[str, str]:
    units = {p.name: p.unit for mode in registry.MODES for p in registry.parameters(mode)}
    return {**units, "noise_scale": "-"}


def unit_of(name: str) -> str | None:
    """The unit of a parameter from the registry (per-angle ``contrast_3``/``offset_3`` and
    the CMC ``noise_scale`` are dimensionless, ``-``); None for an unknown name."""
    unit = _units().get(name)
    if unit is None:
        unit = {s.name: s.unit for s in registry.SCALING}.get(name.split("_")[0])
    return unit


def param_label(name: str, sep: str = " ") -> str:
    """``name [unit]`` (``sep`` between them); an unknown name stays bare."""
    unit = unit_of(name)
    return name if unit is None else f"{name}{sep}[{unit}]"


def margins(width: float, height: float, *, left: float, right: float, bottom: float,
            top: float) -> dict[str, float]:
    """``subplots_adjust`` fractions for margins given in inches on a ``width`` x ``height``
    figure, so text keeps its room whatever the number of panels."""
    return {"left": left / width, "right": 1 - right / width, "bottom": bottom / height,
            "top": 1 - top / height}


def panel_grid(n: int, max_cols: int, *, panel: tuple[float, float],
               gaps: tuple[float, float], edges: tuple[float, float, float, float],
               sharex: bool = False):
    """A figure of ``n`` panels in rows of at most ``max_cols``, sized from the panels.

    Args:
        panel: width and height of one panel (inches).
        gaps: horizontal and vertical space between panels (inches).
        edges: left, right, bottom and top margins (inches), kept whatever the grid size.

    Returns:
        ``(figure, axes)`` with ``axes`` a 2-D array (rows x columns).
    """
    (pw, ph), (gap_x, gap_y), (left, right, bottom, top) = panel, gaps, edges
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    width = left + cols * pw + (cols - 1) * gap_x + right
    height = bottom + rows * ph + (rows - 1) * gap_y + top
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=left, right=right, bottom=bottom, top=top),
                        wspace=gap_x / pw, hspace=gap_y / ph)
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=sharex)


def scale_ticks(ax, which: str, name: str) -> str:
    """Plain tick labels on the ``x`` or ``y`` axis; return ``name`` with the axis' power of
    ten, for the caller to use as label or title.

    Matplotlib's offset text (``×10⁻⁴``, ``+1``) sits at the axis end, where in grids of
    panels it collides with the neighbour's labels.  Here ticks show plain numbers (no offset)
    and a scale of 10^e with ``|e| >= 3`` moves into the returned text: ``beta (×10⁻⁴)``.
    Call it after the data are plotted: the scale comes from the current limits.
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    top = max(abs(lo), abs(hi))
    exponent = math.floor(math.log10(top)) if math.isfinite(top) and top > 0 else 0
    scale = 10.0**exponent if abs(exponent) >= 3 else 1.0
    tiny = 1e-9 * abs(hi - lo)  # a tick meant as 0 but off by rounding prints as 0

    def tick(x, _):
        return f"{(0.0 if abs(x) < tiny else x) / scale:g}"

    axis.set_major_formatter(FuncFormatter(tick))
    return name if scale == 1.0 else f"{name} (×10$^{{{exponent}}}$)"
