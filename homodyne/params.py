"""Parameter registry: the one place that says which physical parameters a model has.

Every other module (physics, fitting, sampling, config validation, output writers) asks this
registry for names, order, defaults and bounds, so that a parameter vector means the same
thing everywhere.  The values are those documented in docs/physics.md.
Entries are frozen dataclasses in tuples: nothing here can be mutated at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Parameter:
    """One model parameter: its name, default value, bounds, unit and meaning."""

    name: str
    default: float
    lower: float
    upper: float
    unit: str
    meaning: str


_D0 = Parameter("D0", 1.0e3, 1.0e2, 1.0e5, "Å²/s^(1+alpha)", "transport prefactor")
_ALPHA = Parameter("alpha", 0.5, -2.0, 2.0, "-", "transport exponent")
_D_OFFSET = Parameter("D_offset", 10.0, -1.0e5, 1.0e5, "Å²/s", "transport offset")

_HOMODYNE_STATIC = (_D0, _ALPHA, _D_OFFSET)
_HOMODYNE_SHEAR = (
    Parameter("gamma_dot_t0", 0.01, 1.0e-6, 0.5, "1/s^(1+beta)", "shear-rate prefactor"),
    Parameter("beta", 0.0, -2.0, 2.0, "-", "shear exponent"),
    Parameter("gamma_dot_t_offset", 0.0, -0.1, 0.1, "1/s", "shear-rate offset"),
    Parameter("phi0", 0.0, -90.0, 90.0, "deg", "flow direction angle"),
)
"""phi0 spans one period: the shear factor depends on cos(phi - phi0) only through sinc²,
which is even, so phi0 and phi0 ± 180° are the same flow."""


def _transport(suffix: str, what: str) -> tuple[Parameter, ...]:
    return (
        Parameter(
            f"D0_{suffix}", 1.0e4, 1.0e2, 1.0e6, "Å²/s^(1+alpha)", f"{what} transport prefactor"
        ),
        Parameter(f"alpha_{suffix}", 0.0, -2.0, 2.0, "-", f"{what} transport exponent"),
        Parameter(f"D_offset_{suffix}", 0.0, -1.0e5, 1.0e5, "Å²/s", f"{what} transport offset"),
    )


_HETERODYNE = (
    *_transport("ref", "reference"),
    *_transport("sample", "sample"),
    Parameter("v0", 1.0e3, 1.0e-6, 1.0e4, "Å/s^(1+beta)", "velocity prefactor"),
    Parameter("beta", 0.0, -2.0, 2.0, "-", "velocity exponent"),
    Parameter("v_offset", 0.0, -100.0, 100.0, "Å/s", "velocity offset"),
    Parameter("f0", 0.5, 0.0, 1.0, "-", "sample fraction amplitude"),
    Parameter("f1", 0.0, -10.0, 10.0, "1/s", "sample fraction rate"),
    Parameter("f2", 0.0, -1.0e4, 1.0e4, "s", "sample fraction time shift"),
    Parameter("f3", 0.0, 0.0, 1.0, "-", "sample fraction baseline"),
    Parameter("phi0", 0.0, -10.0, 10.0, "deg", "flow direction angle"),
)

MODES: MappingProxyType[str, tuple[Parameter, ...]] = MappingProxyType(
    {
        "static": _HOMODYNE_STATIC,
        "laminar_flow": _HOMODYNE_STATIC + _HOMODYNE_SHEAR,
        "heterodyne": _HETERODYNE,
    }
)
"""Ordered physical parameters per canonical mode."""

ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {"static_isotropic": "static", "static_anisotropic": "static"}
)
"""Mode names of the homodyne 2.x package accepted as synonyms."""

CONTRAST = Parameter("contrast", 0.5, 0.0, 1.0, "-", "optical contrast (per angle)")
OFFSET = Parameter("offset", 1.0, 0.5, 1.5, "-", "baseline incl. the Siegert 1 (per angle)")
SCALING = (CONTRAST, OFFSET)
"""Per-angle scaling parameters (docs/physics.md), shared by all modes."""

DEFAULT_L = 2.0e6
"""Stator-rotor gap L in Å (200 µm) where a config, a command line or a call gives none: the
one default of the geometry, so ``analysis.L``, ``homodyne simulate --L``, the physics
functions and the simulator cannot disagree (the schema's default is this number too, YAML
cannot import it: tests/test_params.py keeps them equal)."""


def canonical_mode(mode: str) -> str:
    """Return the canonical mode name for ``mode`` or its homodyne 2.x alias.

    Raises:
        ValueError: ``mode`` is not a known mode or alias.
    """
    mode = ALIASES.get(mode, mode)
    if mode not in MODES:
        known = sorted([*MODES, *ALIASES])
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(known)}")
    return mode


def parameters(mode: str) -> tuple[Parameter, ...]:
    """Ordered physical parameters of ``mode`` (aliases accepted)."""
    return MODES[canonical_mode(mode)]


def names(mode: str) -> tuple[str, ...]:
    """Ordered physical parameter names of ``mode``."""
    return tuple(p.name for p in parameters(mode))


def defaults(mode: str) -> tuple[float, ...]:
    """Default values of ``mode``'s physical parameters, in order."""
    return tuple(p.default for p in parameters(mode))


def bounds(mode: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(lower, upper)`` bounds of ``mode``'s physical parameters, in order."""
    ps = parameters(mode)
    return tuple(p.lower for p in ps), tuple(p.upper for p in ps)


def named(mode: str, vector) -> dict:
    """``mode``'s physical parameter ``vector`` (numbers or JAX arrays) as ``{name: value}``.

    The physics kernels read their parameters by name from this mapping, so the registry's
    order is only the layout of the vector that fits, samplers and files share, never a
    second, positional definition of the physics.  Inside a compiled model it is built once
    while tracing and costs nothing when the program runs.

    Raises:
        ValueError: ``vector`` has not one entry per parameter of ``mode``.
    """
    keys = names(mode)
    if len(vector) != len(keys):
        raise ValueError(f"mode {mode!r} takes {len(keys)} parameters {keys}, "
                         f"got {len(vector)} values")
    return {name: vector[k] for k, name in enumerate(keys)}
