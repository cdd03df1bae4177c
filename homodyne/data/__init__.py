"""Data layer: HDF5 readers, preprocessing, the XPCSData container, synthetic data.

Public entry points:

* :func:`load` -- an APS-U or legacy APS file at one q -> :class:`XPCSData` (docs/data-formats.md).
* :func:`write_xpcs` / :func:`read_xpcs` -- the intermediate file between workflow steps.
* :func:`estimate_sigma` -- per-angle noise of one c2 element from the data alone.
* :func:`simulate` -- a synthetic file with a known truth (``<stem>.truth.json``).
* :func:`import_matrices` -- bare measured matrices -> an APS-U file.
"""

from homodyne.data.container import Provenance, XPCSData
from homodyne.data.importer import import_matrices
from homodyne.data.intermediate import read_xpcs, write_xpcs
from homodyne.data.loader import load, require_finite
from homodyne.data.noise import estimate_sigma
from homodyne.data.preprocess import exclude_frames, select_angles
from homodyne.data.simulate import simulate

__all__ = [
    "Provenance",
    "XPCSData",
    "estimate_sigma",
    "exclude_frames",
    "import_matrices",
    "load",
    "read_xpcs",
    "require_finite",
    "select_angles",
    "simulate",
    "write_xpcs",
]
