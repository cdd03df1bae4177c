"""``load``: one APS HDF5 file at one q -> :class:`XPCSData`, ready to fit.

The layouts and every selection rule are documented in docs/data-formats.md.
"""

from __future__ import annotations

import logging
import numbers
import os
from pathlib import Path

import numpy as np

from homodyne.data import preprocess
from homodyne.data.checks import positive
from homodyne.data.container import Provenance, XPCSData
from homodyne.data.noise import estimate_sigma
from homodyne.data.readers import open_hdf5, read_table, read_window
from homodyne.errors import ConfigError, DataQualityError
from homodyne.io import sha256_file

log = logging.getLogger(__name__)

_EXPECTED = "an APS-U or legacy APS HDF5 file (docs/data-formats.md)"


def _nonfinite_message(source: str, c2: np.ndarray, bins, phi, window) -> str:
    counts = (~np.isfinite(c2)).sum(axis=(1, 2))
    listed = ", ".join(
        f"bin {b} (phi {p:g}): {n}" for b, p, n in zip(bins, phi, counts, strict=True) if n
    )
    return (
        f"{source}: {counts.sum()} non-finite (NaN/Inf) values in the selected data, frames "
        f"{window[0]}..{window[1]}: {listed}. Choose a frame window (frames) or angles "
        "(phi_ranges) that avoid them, or keep the longest run of finite frames with "
        "mask_nonfinite: true on the dataset (load(..., mask_nonfinite=True) from Python)"
    )


def _mask_nonfinite(source: str, c2: np.ndarray, window: tuple[int, int]):
    """Shrink the window to its longest run of frames with a finite sub-matrix in every angle."""
    lo, hi = preprocess.longest_finite_run(c2)
    if hi - lo < preprocess.MIN_FRAMES:
        raise DataQualityError(
            f"{source}: after masking non-finite values only {hi - lo} consecutive finite "
            f"frames remain in frames {window[0]}..{window[1]}; at least "
            f"{preprocess.MIN_FRAMES} are needed. The data are unusable in this window"
        )
    kept = (window[0] + lo, window[0] + hi - 1)
    log.warning(
        "%s: mask_nonfinite dropped %d of %d frames; using frames %d..%d",
        source, c2.shape[1] - (hi - lo), c2.shape[1], *kept,
    )
    return c2[:, lo:hi, lo:hi], kept


def require_finite(data: XPCSData) -> XPCSData:
    """``data`` itself when every c2 value is finite, else the error naming the bad angles.

    Raises:
        DataQualityError: NaN/Inf in ``data.c2``, counted per angle bin.
    """
    if not np.isfinite(data.c2).all():
        p = data.provenance
        bins = p.bins if len(p.bins) == data.n_phi else ("?",) * data.n_phi
        raise DataQualityError(_nonfinite_message(p.source or "dataset", data.c2, bins,
                                                  data.phi, p.frames))
    return data


def load(path: str | os.PathLike, *, q: float, dt: float, phi_ranges=None, frames=None,
         q_tolerance: float = 0.1, mask_nonfinite: bool = False,
         check_finite: bool = True) -> XPCSData:
    """Read one dataset at one q from an APS-U or legacy APS HDF5 file.

    Steps (docs/data-formats.md): detect the layout; take every angle bin of the q ring
    nearest ``q``; keep angles (normalised to (-180, 180]) inside ``phi_ranges``; read the
    frame window; rebuild half-stored matrices; replace the diagonal by its neighbours'
    mean; put the time grid ``t = dt*(0..N-1)`` on the window and drop its first frame
    (t = 0); estimate the per-angle noise.

    Non-finite values are an error unless ``mask_nonfinite`` is set.  Then the frame window
    shrinks to its longest run of consecutive frames whose sub-matrix is finite in every kept
    angle, as if that window had been asked for: frames cannot be dropped from the middle,
    because the models integrate rates over a uniform frame grid, and NaN cannot be carried
    into a least-squares fit.  The new window is logged and recorded in the provenance.

    Args:
        path: the HDF5 file.
        q: requested wavevector (1/Å).
        dt: frame time (s), from the analysis config; files do not carry it reliably.
        phi_ranges: ``[[min, max], ...]`` in degrees, inclusive, union; min > max wraps
            through ±180; ``None`` or empty keeps every angle.
        frames: ``(start, end)``, 1-based inclusive; ``None`` for all frames.
        q_tolerance: largest accepted relative distance of the nearest q from ``q``.
        mask_nonfinite: keep the longest finite run of frames instead of failing on NaN/Inf.
        check_finite: False keeps NaN/Inf for a later angle selection to check with
            :func:`require_finite` (the workflow's load step reads every angle of the ring,
            and its filter step checks the angles it keeps).

    Returns:
        XPCSData with ``q`` the q actually used, ``t`` starting at ``dt``, ``sigma`` from
        :func:`homodyne.data.estimate_sigma`, and provenance (absolute source path, sha256,
        layout, 1-based bins, 1-based window including the dropped t = 0 frame).

    Raises:
        ConfigError: ``q``, ``dt`` or ``q_tolerance`` invalid, malformed ``frames`` or
            ``phi_ranges``.
        DataFormatError: missing file, not HDF5, unknown layout, inconsistent tables or
            matrix shapes.
        DataQualityError: q too far, frame window outside the data, no angle left, NaN/Inf.
    """
    q, dt = positive("q", q), positive("dt", dt)
    if not (isinstance(q_tolerance, numbers.Real) and q_tolerance >= 0):
        raise ConfigError(f"q_tolerance must be a number >= 0, got {q_tolerance!r}")
    path = Path(path)
    source = str(path)
    with open_hdf5(path, _EXPECTED) as fh:
        table = read_table(fh, path)
        at_q, q_used = preprocess.select_q(table.q, q, q_tolerance, source)
        ring_phi = preprocess.normalise_angles(table.phi[at_q])
        keep = preprocess.phi_mask(ring_phi, phi_ranges)
        if not keep.any():
            raise preprocess.no_angle_left(source, q_used, phi_ranges, ring_phi)
        index = np.flatnonzero(at_q)[keep]
        window = preprocess.frame_window(frames, table.n_frames, source)
        c2 = np.stack([
            preprocess.full_matrix(read_window(fh, table, k, window[0] - 1, window[1]))
            for k in index
        ])
    bins, phi = table.bins[index], ring_phi[keep]
    if check_finite and not np.isfinite(c2).all():
        if not mask_nonfinite:
            raise DataQualityError(_nonfinite_message(source, c2, bins, phi, window))
        c2, window = _mask_nonfinite(source, c2, window)
    c2 = preprocess.correct_diagonal(c2)[:, 1:, 1:]
    t = dt * np.arange(1, c2.shape[1] + 1, dtype=np.float64)
    provenance = Provenance(
        source=str(path.resolve()),
        sha256=sha256_file(path),
        layout=table.layout,
        bins=tuple(int(b) for b in bins),
        frames=window,
    )
    return XPCSData(q=q_used, phi=phi, t=t, dt=dt, c2=c2, sigma=estimate_sigma(c2),
                    provenance=provenance)
