"""homodyne: XPCS two-time correlation analysis (NLSQ + Consensus Monte Carlo).

Importing the package changes no setting: a job or command configures JAX first with
:func:`homodyne.runtime.configure` (float64, devices = its threads, compilation cache).
"""

__version__ = "0.1.0"
