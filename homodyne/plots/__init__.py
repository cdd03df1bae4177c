"""Figures of NLSQ and CMC results (GitHub issue 6, docs/outputs.md).

Entry points, each reading a dataset's result files through :mod:`homodyne.results` (this
package draws; it opens no result file itself):

* :func:`plot_results` -- every figure that applies to a results folder (``homodyne plot
  RESULTS_DIR [--dataset NAME] [--svg]``).
* :func:`plot_nlsq` / :func:`plot_cmc` -- the figures of one dataset (the workflow's
  ``plot`` step).
* :func:`plot_datasets` -- parameters across the given datasets.
* :func:`plot_twotime` -- the model-free views of one dataset (the workflow's ``twotime``
  step).

Array-level builders, each returning a :class:`~matplotlib.figure.Figure` (save it with
:func:`save_figure`): :mod:`homodyne.plots.c2` (``AnglePanels``, ``c2_overview_figure``,
``c2_cuts_figure``, ``residual_histogram_figure``), :mod:`homodyne.plots.posterior`
(``trace_figure``, ``marginals_figure``, ``pair_figure``, ``shards_figure``) and
:mod:`homodyne.plots.datasets` (``datasets_figure``).

Files, all PNG at 150 dpi (and SVG beside them with ``svg=True``), named by the figure
table of :mod:`homodyne.layout` (``FIGURES``; one per angle, ``angle_figure_file``) in a
dataset's ``plots/`` folder; the model-free views' ``one_time.png`` and ``ageing.png``
beside their files in ``twotime/``; ``plots/datasets_parameters.png`` of a results folder
(docs/outputs.md lists them for users).  Matplotlib is used through its object-oriented
API on the Agg canvas only (no ``pyplot``, no global backend switch).
"""

from homodyne.plots.api import plot_cmc, plot_datasets, plot_nlsq, plot_results, plot_twotime
from homodyne.plots.figure import save_figure

__all__ = ["plot_cmc", "plot_datasets", "plot_nlsq", "plot_results", "plot_twotime",
           "save_figure"]
