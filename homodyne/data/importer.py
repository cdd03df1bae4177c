"""Bare two-time matrices (``.npy`` or arrays, one per angle) -> an APS-U file ``load`` reads.

Matrices published without their beamline file carry no q, angle or frame time; the caller
states them.  Two repairs are offered because real exports need them: ``triangle`` takes one
triangle and mirrors it (for matrices whose triangles disagree, e.g. averaged differently),
and ``add_baseline`` adds a constant (for matrices stored as c2 - 1).  A matrix whose
triangles disagree (beyond rounding, 1e-9 relative) is refused unless a triangle is chosen, so
nothing is silently averaged; one that agrees is stored as its upper triangle mirrored, so the
file is exactly symmetric.
"""

from __future__ import annotations

import logging
import numbers
import os
from pathlib import Path

import numpy as np

from homodyne import __version__, quality
from homodyne.data.checks import angles, positive
from homodyne.data.preprocess import full_matrix
from homodyne.data.writers import write_aps_u
from homodyne.errors import ConfigError, DataFormatError, DataQualityError

log = logging.getLogger(__name__)

TRIANGLES = ("upper", "lower")
_SYMMETRY_RTOL = 1e-9
_SYMMETRY_ATOL = 1e-12


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file; give .npy files holding (F, F) matrices")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataFormatError(
            f"{path}: not a NumPy .npy array ({exc}); save each matrix with numpy.save"
        ) from exc


def _as_list(matrices) -> list[tuple[str, np.ndarray]]:
    """``(label, array)`` pairs from a path, an array, or a sequence of either."""
    if isinstance(matrices, str | os.PathLike | np.ndarray):
        matrices = [matrices]
    items = []
    for k, item in enumerate(matrices, start=1):
        if isinstance(item, str | os.PathLike):
            items.append((str(item), _load_npy(Path(item))))
            continue
        array = np.asarray(item)
        stack = array if array.ndim == 3 else [array]
        items.extend((f"matrix {k}" if array.ndim != 3 else f"matrix {k}[{i}]", m)
                     for i, m in enumerate(stack))
    if not items:
        raise ConfigError("no matrices given; pass one (F, F) matrix per angle")
    return items


def _prepared(label: str, matrix: np.ndarray, triangle: str | None) -> np.ndarray:
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise DataFormatError(f"{label}: shape {matrix.shape} is not a square (F, F) matrix")
    if not np.issubdtype(matrix.dtype, np.number) or np.iscomplexobj(matrix):
        raise DataFormatError(f"{label}: dtype {matrix.dtype} is not a real number type")
    matrix = matrix.astype(np.float64)
    if triangle == "upper":
        return np.triu(matrix) + np.triu(matrix, 1).T
    if triangle == "lower":
        return np.tril(matrix) + np.tril(matrix, -1).T
    matrix = full_matrix(matrix)
    if not np.allclose(matrix, matrix.T, rtol=_SYMMETRY_RTOL, atol=_SYMMETRY_ATOL,
                       equal_nan=True):
        gap = np.nanmax(np.abs(matrix - matrix.T))
        raise DataQualityError(
            f"{label}: the two triangles differ by up to {gap:.3g}, so the matrix is not "
            "symmetric; choose one with triangle='upper'|'lower' (CLI: --triangle) to mirror it"
        )
    return np.triu(matrix) + np.triu(matrix, 1).T  # exactly symmetric, upper values kept


def _check_quality(items, stack, phi, add_baseline: float) -> None:
    """Refuse data no fit can use, log a warning for doubtful data
    (:func:`homodyne.quality.data_reasons`, on the matrices as they will be stored)."""
    found = [r for (label, _), m, p in zip(items, stack, phi, strict=True)
             for r in quality.data_reasons(m + add_baseline, label, phi=[p])]
    refused = quality.refuse(found)
    if refused:
        raise DataQualityError(refused)
    for r in found:
        log.warning("warning: %s", r["message"])


def import_matrices(matrices, *, q: float, dt: float, phi=None, out: str | os.PathLike,
                    triangle: str | None = None, add_baseline: float = 0.0) -> Path:
    """Write measured c2 matrices, one per angle, as an APS-U file at one q.

    Args:
        matrices: a ``.npy`` path or an array, or a sequence of them; a 3-D array is a stack
            of matrices.  Each is (F, F), all of one F; a half matrix (one triangle zero) is
            rebuilt like the reader does.
        q: wavevector of the matrices (1/Å); ``load`` must be asked for (about) this q.
        dt: frame time (s), stored as the root attribute ``frame_time_s`` for information
            only: ``load`` takes dt from its caller.
        phi: angle of each matrix in degrees; may be omitted for a single matrix (0°).
        out: destination ``.h5`` file, written atomically.
        triangle: ``"upper"`` or ``"lower"``: keep that triangle (with the diagonal) and
            mirror it.  Needed when the triangles disagree.
        add_baseline: constant added to every element, e.g. 1.0 for matrices stored as c2-1.

    Returns:
        The path of the written file.

    Raises:
        ConfigError: invalid q, dt, phi, triangle or add_baseline.
        DataFormatError: missing or unreadable input, non-square or mismatched matrices.
        DataQualityError: triangles disagree and no ``triangle`` was chosen, or the data
            cannot be a c2 (:func:`homodyne.quality.data_reasons`: a baseline far below 1,
            as in a matrix stored as c2 - 1, or no finite value); doubtful data (contrast,
            decay, baseline off 1, NaN) are logged as warnings.
    """
    q, dt = positive("q", q), positive("dt", dt)
    if triangle not in (None, *TRIANGLES):
        raise ConfigError(f"triangle must be 'upper' or 'lower', got {triangle!r}")
    if not (isinstance(add_baseline, numbers.Real) and np.isfinite(add_baseline)):
        raise ConfigError(f"add_baseline must be a finite number, got {add_baseline!r}")
    items = _as_list(matrices)
    if phi is None and len(items) > 1:
        raise ConfigError(f"{len(items)} matrices need one angle each (phi / --phi)")
    phi = angles(0.0 if phi is None else phi)
    if phi.size != len(items):
        raise ConfigError(f"phi must hold one angle per matrix ({len(items)}), got {phi}")
    stack = [_prepared(label, m, triangle) for label, m in items]
    shapes = {m.shape for m in stack}
    if len(shapes) > 1:
        listed = ", ".join(f"{label} {m.shape}" for label, m in items)
        raise DataFormatError(
            f"matrices of different shapes ({listed}); every angle needs the same frames"
        )
    _check_quality(items, stack, phi, add_baseline)
    attrs = {
        "frame_time_s": dt,
        "homodyne_version": __version__,
        "imported_from": ", ".join(label for label, _ in items),
        "added_baseline": float(add_baseline),
        "triangle": triangle or "as stored",
    }
    return write_aps_u(out, q_values=[q], phi_values=phi, bins=np.arange(1, len(stack) + 1),
                       matrices=np.stack(stack) + add_baseline, attrs=attrs)
