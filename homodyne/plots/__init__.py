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

Files, all PNG at 150 dpi (and SVG beside them with ``svg=True``)::

    <results_dir>/<dataset>/plots/c2_phi_<angle>.png   per angle, e.g. c2_phi_+045.0.png,
                                                       c2_phi_-157.5.png: data, fit, residual/σ
    <results_dir>/<dataset>/plots/c2_overview.png      all angles, data above / fit below t1=t2
    <results_dir>/<dataset>/plots/c2_cuts.png          c2 along constant-lag lines, all angles
    <results_dir>/<dataset>/plots/residual_histogram.png   residual/σ against N(0, 1)
    <results_dir>/<dataset>/plots/cmc_trace.png        traces, one colour per chain
    <results_dir>/<dataset>/plots/cmc_marginals.png    posteriors with NLSQ value and ±1σ
    <results_dir>/<dataset>/plots/cmc_pair.png         pair plot of the physical parameters
    <results_dir>/<dataset>/plots/cmc_shards.png       shard means ± sd, consensus band, dropped
    <results_dir>/plots/datasets_parameters.png        physical parameters against dataset
    <results_dir>/<dataset>/twotime/one_time.png       one-time g2 per angle, fit on top
    <results_dir>/<dataset>/twotime/ageing.png         decay time against age per angle

The angle tag is signed, zero-padded, one decimal.  Matplotlib is used through its
object-oriented API on the Agg canvas only (no ``pyplot``, no global backend switch).
"""

from homodyne.plots.api import plot_cmc, plot_datasets, plot_nlsq, plot_results, plot_twotime
from homodyne.plots.figure import save_figure

__all__ = ["plot_cmc", "plot_datasets", "plot_nlsq", "plot_results", "plot_twotime",
           "save_figure"]
