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
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
from matplotlib import cbook
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
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
    # browser and the tests read it without looking at the pixels; set_title's whole title
    whole = fig.get_label() or " ".join(fig.get_suptitle().split())
    meta = {"Title": whole} if whole else {}
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


TITLE_TOP = 0.08
"""Space (inches) above a figure's title."""

TITLE_SIDE = 0.1
"""Space (inches) kept free left and right of a figure's title."""

SEPARATOR = " · "
"""Joins the parts of a title (dataset, mode, q, angle, verdict, what the figure shows): a
title is broken after one of these first, so each line holds whole parts."""

_WORD = re.compile(r"(?:\$[^$]*\$|\S)+")
"""A word of a title: a run of non-spaces, a mathtext ``$...$`` kept whole (split inside,
its dollar signs would no longer pair)."""


@functools.cache
def _ruler(dpi: float) -> RendererAgg:
    """A renderer that measures text as the figures draw it (one pixel: nothing is drawn)."""
    return RendererAgg(1, 1, dpi)


def _title_font() -> FontProperties:
    """The font of a figure's title (``suptitle``) under the current rcParams."""
    return FontProperties(size=mpl.rcParams["figure.titlesize"],
                          weight=mpl.rcParams["figure.titleweight"])


def _extent(line: str, font: FontProperties) -> tuple[float, float]:
    """Width and height above the baseline (inches) of one line of text in ``font``."""
    width, height, descent = _ruler(DPI).get_text_width_height_descent(
        line, font, ismath=cbook.is_math_text(line))
    return width / DPI, (height - descent) / DPI


def _break_line(line: str, fits: Callable[[str], bool]) -> list[str]:
    """One line of a title broken into lines for which ``fits`` holds: after a
    :data:`SEPARATOR` where it can (the separator's dot stays at the end of the line, so
    the lines joined by spaces are the title again), else between words, and only a word
    that fits no line alone (a very long dataset name) inside the word."""
    dot = SEPARATOR.rstrip()
    tokens: list[tuple[str, str]] = []  # (text, what joins it to the token before)
    for k, part in enumerate(line.split(SEPARATOR)):
        join = SEPARATOR if k else ""
        if fits(part + dot):
            tokens.append((part, join))
            continue
        for word in _WORD.findall(part):
            pieces = [word]
            if not fits(word + dot) and "$" not in word:
                pieces = [""]
                for char in word:
                    if pieces[-1] and not fits(pieces[-1] + char + dot):
                        pieces.append("")
                    pieces[-1] += char
            tokens += [(piece, join if i == 0 else "") for i, piece in enumerate(pieces)]
            join = " "
    lines = [""]
    for text, join in tokens:
        if not lines[-1] or fits(lines[-1] + join + text + dot):
            lines[-1] += (join if lines[-1] else "") + text
        else:
            lines[-1] += join.rstrip()
            lines.append(text)
    return lines


class FittedTitle(NamedTuple):
    """A figure's title as :func:`fit_title` fits it to the figure's width."""

    text: str
    """The title in the lines it is drawn in."""
    added: float
    """The height (inches) of the lines the breaks added."""
    whole: str
    """The title as given, on one line: the saved figure's Title (:func:`save_figure`)."""


def fit_title(text: str, width: float) -> FittedTitle:
    """A figure title broken into lines that fit a figure ``width`` inches wide.

    Figures are sized from their panels, so a figure of one angle or one parameter is
    narrower than a title naming a dataset, the model, q and the verdict: centred, such a
    title lost both ends (the dataset's name with them).  Each line of ``text`` is broken
    as :func:`_break_line` does where it is wider than the figure less :data:`TITLE_SIDE`
    on either side, measured in the title's font (call it under :func:`styled`, as the
    figure is drawn).  The figures are laid out in inches from the top: the caller adds the
    added lines' height to its top margin, moves whatever stands below the title (a legend)
    down by as much, and sets the title with :func:`set_title`.
    """
    font = _title_font()
    room = width - 2 * TITLE_SIDE
    lines = [out for line in text.split("\n")
             for out in _break_line(line, lambda s: _extent(s, font)[0] <= room)]
    added = len(lines) - (text.count("\n") + 1)
    return FittedTitle("\n".join(lines), added * _line_height(font), " ".join(text.split()))


def _line_height(font: FontProperties) -> float:
    """The distance (inches) between two lines of a multi-line text in ``font``, as
    matplotlib spaces them: its line spacing (1.2) times the height of a tall line."""
    return 1.2 * _extent("lp Å⁻¹ χ²", font)[1]


def set_title(fig: Figure, title: FittedTitle) -> None:
    """Set ``title`` as the figure's title, :data:`TITLE_TOP` below its top edge, and the
    whole title as the figure's label, which :func:`save_figure` writes as the PNG's Title
    (a name broken inside the word would read as two words in the drawn lines)."""
    fig.suptitle(title.text, y=1 - TITLE_TOP / fig.get_figheight(), va="top")
    fig.set_label(title.whole)


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
               title: str, sharex: bool = False, min_width: float = 0.0):
    """A titled figure of ``n`` panels in rows of at most ``max_cols``, sized from the panels.

    Args:
        panel: width and height of one panel (inches); panels widen where the figure would
            be narrower than ``min_width`` (room for a legend above them).
        gaps: horizontal and vertical space between panels (inches).
        edges: left, right, bottom and top margins (inches), kept whatever the grid size;
            the top one for ``title`` as written, and grown by the lines :func:`fit_title`
            adds to it.
        title: the figure's title, broken to fit its width.

    Returns:
        ``(figure, axes, added)``: ``axes`` a 2-D array (rows x columns), ``added`` the
        height of the title's added lines, by which anything below the title moves down.
    """
    (pw, ph), (gap_x, gap_y), (left, right, bottom, top) = panel, gaps, edges
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    pw = max(pw, (min_width - left - right - (cols - 1) * gap_x) / cols)
    width = left + cols * pw + (cols - 1) * gap_x + right
    head = fit_title(title, width)
    top += head.added
    height = bottom + rows * ph + (rows - 1) * gap_y + top
    fig = new_figure(width, height)
    fig.subplots_adjust(**margins(width, height, left=left, right=right, bottom=bottom, top=top),
                        wspace=gap_x / pw, hspace=gap_y / ph)
    set_title(fig, head)
    return fig, fig.subplots(rows, cols, squeeze=False, sharex=sharex), head.added


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
