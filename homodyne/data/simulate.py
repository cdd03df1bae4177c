"""Synthetic data with a known truth: the model c2 plus Gaussian noise, in an APS layout.

The file is what :func:`homodyne.data.load` reads, so a simulated dataset travels the same
path as a measured one.  The model is evaluated on ``t = dt*arange(n_frames)``, the time
origin the reader uses for a window starting at frame 1; the loaded data (t from ``dt``) then
equal ``compute_c2`` on ``data.t`` plus noise.  ``<stem>.truth.json`` beside the file records
everything needed to compare a fit with the truth.  Same arguments and seed, same bytes.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from homodyne import __version__
from homodyne import params as registry
from homodyne.data.checks import angles, count, positive
from homodyne.data.preprocess import MIN_FRAMES
from homodyne.data.readers import APS_U, LEGACY
from homodyne.data.writers import write_aps_u, write_legacy
from homodyne.errors import ConfigError
from homodyne.io import write_json
from homodyne.physics import compute_c2

HALVES = ("upper", "lower")


def parameter_vector(mode: str, params) -> tuple[str, np.ndarray]:
    """Canonical mode and its full parameter vector.

    Args:
        mode: model name (aliases accepted).
        params: ``None`` (registry defaults), a mapping by name (defaults fill the rest), or a
            sequence with one value per parameter in registry order.

    Raises:
        ConfigError: unknown mode or parameter name, wrong length, non-finite value.
    """
    try:
        mode = registry.canonical_mode(mode)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    names = registry.names(mode)
    if params is None:
        values = list(registry.defaults(mode))
    elif isinstance(params, Mapping):
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {', '.join(unknown)} for mode {mode!r}; "
                f"its parameters are {', '.join(names)}"
            )
        values = [params.get(name, default) for name, default in
                  zip(names, registry.defaults(mode), strict=True)]
    else:
        values = list(params)
        if len(values) != len(names):
            raise ConfigError(
                f"mode {mode!r} takes {len(names)} parameters ({', '.join(names)}), "
                f"got {len(values)}; pass a mapping by name to set only some"
            )
    try:
        vector = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"parameter values must be numbers, got {values!r}") from exc
    if not np.isfinite(vector).all():
        raise ConfigError(f"parameter values must be finite, got {values!r} for {names}")
    return mode, vector


def _per_angle(name: str, value, n_phi: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or array.size not in (1, n_phi) or not np.isfinite(array).all():
        raise ConfigError(
            f"{name} must be one finite number or one per angle ({n_phi}), got {value!r}"
        )
    return np.broadcast_to(array, (n_phi,))


def _symmetric_noise(rng: np.random.Generator, sd: float, shape: tuple) -> np.ndarray:
    """i.i.d. N(0, sd²) on the upper triangle (diagonal included), mirrored to the lower."""
    noise = np.triu(rng.normal(0.0, sd, size=shape))
    return noise + np.triu(noise, 1).swapaxes(-1, -2)


def simulate(path: str | os.PathLike, *, mode: str, params=None, phi, n_frames: int, dt: float,
             q: float, L: float = registry.DEFAULT_L, contrast=0.3, offset=1.0, noise: float = 0.01,
             seed: int = 0, layout: str = APS_U, half: str | None = None) -> Path:
    """Write a synthetic two-time dataset at one q and its ``<stem>.truth.json``.

    Args:
        path: destination ``.h5`` file.
        mode: ``static``, ``laminar_flow`` or ``heterodyne`` (aliases accepted).
        params: ``None``, a mapping by name, or a full sequence (see
            :func:`parameter_vector`).
        phi: angles in degrees, one matrix each.
        n_frames: frames per matrix (at least 5, the smallest window ``load`` accepts).
        dt: frame time (s).  q: wavevector (1/Å).  L: stator-rotor gap (Å).
        contrast, offset: one value or one per angle.
        noise: sd of the Gaussian noise of each upper-triangle element (0 for none).
        seed: seed of ``numpy.random.default_rng``.
        layout: ``"aps-u"`` or ``"legacy"``.
        half: ``None`` stores full matrices; ``"upper"``/``"lower"`` stores that triangle
            (with the diagonal) and zeros elsewhere, as some beamline exports do.

    Returns:
        The path of the HDF5 file.

    Raises:
        ConfigError: any invalid argument; nothing is written then.
    """
    mode, theta = parameter_vector(mode, params)
    phi = angles(phi)
    n_frames = count("n_frames", n_frames, MIN_FRAMES)
    seed = count("seed", seed, 0)
    dt, q, L = positive("dt", dt), positive("q", q), positive("L", L)
    if not (isinstance(noise, numbers.Real) and 0 <= noise < np.inf):
        raise ConfigError(f"noise must be a finite sd >= 0, got {noise!r}")
    if layout not in (APS_U, LEGACY):
        raise ConfigError(f"layout must be {APS_U!r} or {LEGACY!r}, got {layout!r}")
    if half not in (None, *HALVES):
        raise ConfigError(f"half must be None, 'upper' or 'lower', got {half!r}")
    scaling = {"contrast": contrast, "offset": offset}
    contrast = _per_angle("contrast", contrast, phi.size)
    offset = _per_angle("offset", offset, phi.size)

    t = dt * np.arange(n_frames, dtype=np.float64)
    c2 = np.asarray(compute_c2(mode, theta, t, phi, q=q, dt=dt, L=L, contrast=contrast,
                               offset=offset), dtype=np.float64)
    c2 = c2 + _symmetric_noise(np.random.default_rng(seed), noise, c2.shape)
    if half is not None:
        c2 = np.triu(c2) if half == "upper" else np.tril(c2)

    attrs = {"frame_time_s": dt, "homodyne_version": __version__, "simulated_mode": mode}
    if layout == APS_U:
        out = write_aps_u(path, q_values=[q], phi_values=phi, bins=np.arange(1, phi.size + 1),
                          matrices=c2, attrs=attrs)
    else:
        out = write_legacy(path, q_per_bin=np.full(phi.size, q), phi_per_bin=phi, matrices=c2,
                           attrs=attrs)
    truth = {
        "file": out.name,
        "mode": mode,
        "parameters": dict(zip(registry.names(mode), theta.tolist(), strict=True)),
        "phi": phi.tolist(),
        "q": q,
        "dt": dt,
        "L": L,
        **{name: np.asarray(value, dtype=np.float64).tolist() for name, value in scaling.items()},
        "noise": float(noise),
        "seed": seed,
        "n_frames": n_frames,
        "layout": layout,
        "half": half,
        "homodyne_version": __version__,
    }
    write_json(truth_path(out), truth)
    return out


def truth_path(path: str | os.PathLike) -> Path:
    """``<stem>.truth.json`` beside a simulated file."""
    path = Path(path)
    return path.with_name(f"{path.stem}.truth.json")


def existing_truth(path: str | os.PathLike) -> Path | None:
    """:func:`truth_path` of a data file when that file exists (the input was simulated)."""
    truth = truth_path(path)
    return truth if truth.is_file() else None
