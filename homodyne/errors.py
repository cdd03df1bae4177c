"""One exception type per failure family, so the CLI and workflow can report them cleanly.

Every message names the file and/or key at fault and what to do about it; the CLI prints
the message alone (no traceback) and exits non-zero.
"""

from __future__ import annotations


class HomodyneError(Exception):
    """Base class of every error this package raises on purpose."""


class SetupError(HomodyneError):
    """The process is not set up to compute: JAX runs in float32 (no configure() call)."""


class ConfigError(HomodyneError):
    """The analysis config is invalid: unknown key, wrong type, value out of range."""


class DataFormatError(HomodyneError):
    """An input file is missing, unreadable, or not in a known HDF5 layout."""


class DataQualityError(HomodyneError):
    """The data are readable but unusable: NaN/Inf, nothing left after selection, ..."""


class FitError(HomodyneError):
    """A fit or sampler could not run or produced no usable result."""


class LockError(HomodyneError):
    """Another process holds the output folder this one would write."""
