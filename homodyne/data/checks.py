"""Argument checks shared by the data entry points: one message style, one error family.

A bad argument (not a bad file) is a ``ConfigError``: it usually comes from the analysis
config or the command line, and the fix is there.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from homodyne.errors import ConfigError


def positive(name: str, value) -> float:
    """``value`` as a finite float > 0, else ``ConfigError`` naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number > 0, got {value!r}") from exc
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def angles(phi) -> np.ndarray:
    """``phi`` as a 1-D float64 array of finite degrees, else ``ConfigError``."""
    try:
        array = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"phi must be angles in degrees, got {phi!r}") from exc
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ConfigError(f"phi must be a list of finite angles in degrees, got {phi!r}")
    return array


def count(name: str, value, least: int) -> int:
    """``value`` as an int >= ``least`` (bools and floats refused), else ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)
