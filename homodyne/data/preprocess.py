"""Preprocessing of raw two-time matrices: selection, half matrices, diagonal, NaN.

The rules are documented in docs/data-formats.md.

Pure array functions plus the selection steps that need the file name for their messages.
Nothing here reads files; :mod:`homodyne.data.loader` strings the steps together.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from homodyne.data.container import XPCSData
from homodyne.errors import ConfigError, DataQualityError

MIN_FRAMES = 5
"""Smallest frame window: after the t = 0 frame is dropped, 4 frames remain, the fewest that
hold a second difference along the diagonal for the noise estimate."""

Q_SAME = 1e-6
"""Relative difference below which two bins' q count as the same ring: one ring's q written
as float32 by one program and float64 by another differ by ~6e-8."""

_LISTED_Q = 40

ANGLE_TOL = 1e-6
"""Degrees of slack at the edges of an angle range, so angles stored as float32 (45.000002)
are not lost to a range written as 45."""


def normalise_angles(phi) -> np.ndarray:
    """Angles in degrees mapped to (-180, 180] (so -180 becomes 180), float64."""
    out = 180.0 - np.mod(180.0 - np.asarray(phi, dtype=np.float64), 360.0)
    return np.where(out <= -180.0, out + 360.0, out)


def select_q(q_bins: np.ndarray, q: float, tolerance: float, source: str):
    """Bins of the ring nearest ``q``: all its angles, never another q.

    Args:
        q_bins: q of every bin.
        q: requested q (1/Å).
        tolerance: largest accepted ``|q_used - q| / q``.
        source: file name for messages.

    Returns:
        ``(mask over bins, q actually used)``.

    Raises:
        DataQualityError: the nearest q is farther than ``tolerance`` from ``q``.
    """
    finite = np.isfinite(q_bins)
    rings = np.unique(q_bins[finite])
    available = ", ".join(f"{v:.6g}" for v in rings[:_LISTED_Q])
    available += f" and {rings.size - _LISTED_Q} more" if rings.size > _LISTED_Q else ""
    if not finite.any():
        raise DataQualityError(f"{source}: no bin has a finite q; the q table is unusable")
    nearest = q_bins[np.argmin(np.where(finite, np.abs(q_bins - q), np.inf))]
    if abs(nearest - q) > tolerance * q:
        raise DataQualityError(
            f"{source}: no bin has q within {tolerance:.0%} of the requested q = {q:.6g} 1/Å "
            f"(nearest {nearest:.6g}); available q: {available}. Set the dataset's q in the config "
            "(datasets[].q) to one of them"
        )
    return np.isclose(q_bins, nearest, rtol=Q_SAME, atol=0.0), float(nearest)


def _ranges(phi_ranges) -> list[tuple[float, float]]:
    try:
        pairs = [(float(lo), float(hi)) for lo, hi in phi_ranges]
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"phi_ranges must be a list of [min, max] pairs in degrees, got {phi_ranges!r}"
        ) from exc
    if not np.isfinite(pairs).all():
        raise ConfigError(f"phi_ranges must be finite degrees, got {phi_ranges!r}")
    return pairs


def phi_mask(phi: np.ndarray, phi_ranges) -> np.ndarray:
    """Angles inside the union of inclusive ranges; ``None`` or ``[]`` keeps every angle.

    Both ends of a range are normalised to (-180, 180] first; a range whose normalised min
    exceeds its max wraps through ±180 (``[170, -170]`` keeps 175 and -175).  A range spanning
    360° or more as written (``[-180, 180]``, ``[0, 360]``) keeps everything.

    Args:
        phi: angles already normalised to (-180, 180].
        phi_ranges: sequence of ``[min, max]`` pairs, any degrees.
    """
    if phi_ranges is None or len(phi_ranges) == 0:
        return np.ones(phi.shape, dtype=bool)
    keep = np.zeros(phi.shape, dtype=bool)
    for lo, hi in _ranges(phi_ranges):
        if hi - lo >= 360.0:
            keep[:] = True
            continue
        lo_n, hi_n = normalise_angles([lo, hi])
        above, below = phi >= lo_n - ANGLE_TOL, phi <= hi_n + ANGLE_TOL
        keep |= (above & below) if lo_n <= hi_n else (above | below)
    return keep


def frame_window(frames, n_frames: int, source: str) -> tuple[int, int]:
    """Validate a 1-based inclusive ``(start, end)`` window; ``None`` means all frames.

    Raises:
        ConfigError: ``frames`` is not two integers.
        DataQualityError: the window lies outside ``1..n_frames`` or is shorter than
            :data:`MIN_FRAMES`.
    """
    if frames is None:
        start, end = 1, n_frames
    else:
        try:
            start, end = (int(v) for v in frames)
            exact = all(float(v) == int(v) for v in frames)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"frames must be (start, end) integers, got {frames!r}") from exc
        if not exact:
            raise ConfigError(f"frames must be (start, end) integers, got {frames!r}")
    if start < 1 or end > n_frames or end - start + 1 < MIN_FRAMES:
        raise DataQualityError(
            f"{source}: frame window ({start}, {end}) is outside the data, which has frames "
            f"1..{n_frames} (1-based, inclusive); choose 1 <= start and end <= {n_frames} "
            f"with at least {MIN_FRAMES} frames"
        )
    return start, end


def full_matrix(matrix: np.ndarray) -> np.ndarray:
    """Rebuild a matrix stored as one triangle: ``half + half.T`` with the diagonal halved.

    A matrix is taken as a half when one strict triangle is exactly zero and the other is
    not (a measured full matrix never has a whole triangle of exact zeros; NaN counts as
    non-zero).  Anything else is returned unchanged.
    """
    lower_empty = not np.tril(matrix, -1).any()
    upper_empty = not np.triu(matrix, 1).any()
    if lower_empty == upper_empty:
        return matrix
    full = matrix + matrix.T
    np.fill_diagonal(full, np.diagonal(matrix))
    return full


def correct_diagonal(c2: np.ndarray) -> np.ndarray:
    """Replace ``c2[p, i, i]`` by the mean of ``c2[p, i, i+1]`` and ``c2[p, i, i-1]``.

    The measured diagonal carries the detector's shot-noise artefact; its neighbours are the
    closest unbiased values.  The first and last frame use their one neighbour.
    """
    out = np.array(c2, dtype=np.float64)
    i = np.arange(c2.shape[-1])
    right = c2[:, i[:-1], i[:-1] + 1]
    left = c2[:, i[1:], i[1:] - 1]
    diag = np.empty(c2.shape[:2])
    diag[:, 0], diag[:, -1] = right[:, 0], left[:, -1]
    diag[:, 1:-1] = 0.5 * (right[:, 1:] + left[:, :-1])
    out[:, i, i] = diag
    return out


def longest_finite_run(c2: np.ndarray) -> tuple[int, int]:
    """Longest window of consecutive frames whose sub-matrix is finite in every angle.

    A window ``[lo, hi)`` is finite unless it holds both frames of a non-finite element
    ``(a, b)``, ``a <= b``, i.e. unless ``lo <= a`` and ``b < hi``.  So the window starting at
    ``lo`` reaches up to the smallest ``b`` over the bad elements with ``a >= lo``.

    Returns:
        ``(start, stop)``, 0-based half-open; the earliest window wins a tie, ``(0, 0)`` when
        no frame is finite.
    """
    bad = ~np.isfinite(c2).all(axis=0)
    upper = np.triu(bad | bad.T)
    n = upper.shape[0]
    reach = np.where(upper.any(axis=1), np.argmax(upper, axis=1), n)
    stop = np.minimum.accumulate(reach[::-1])[::-1]
    start = int(np.argmax(stop - np.arange(n)))
    return start, int(stop[start])


def no_angle_left(source: str, q: float, phi_ranges, present: np.ndarray) -> DataQualityError:
    """The error for a ``phi_ranges`` that keeps none of the angles ``present``."""
    listed = ", ".join(f"{p:g}" for p in present)
    return DataQualityError(
        f"{source}: no angle at q = {q:.6g} lies in phi_ranges {phi_ranges}; angles present: "
        f"{listed} (degrees, normalised to (-180, 180]). Widen or remove the phi ranges"
    )


def select_angles(data: XPCSData, phi_ranges) -> XPCSData:
    """Keep the angles of ``data`` inside ``phi_ranges`` (the workflow's filter step).

    Raises:
        DataQualityError: no angle is left.
    """
    keep = phi_mask(data.phi, phi_ranges)
    if not keep.any():
        raise no_angle_left(data.provenance.source or "dataset", data.q, phi_ranges, data.phi)
    bins = data.provenance.bins
    provenance = replace(data.provenance,
                         bins=tuple(b for b, k in zip(bins, keep, strict=True) if k)
                         if len(bins) == len(keep) else bins)
    return replace(data, phi=data.phi[keep], c2=data.c2[keep], sigma=data.sigma[keep],
                   provenance=provenance)


def excluded_frames(ranges, window: tuple[int, int], source: str = "dataset") -> np.ndarray:
    """``(N,)`` bool over the fitted frames of ``window``: true inside any of ``ranges``.

    ``window`` is the provenance frame window (1-based, inclusive, including the t = 0 frame
    that is dropped), so fitted frame ``i`` is file frame ``window[0] + 1 + i``; ``ranges``
    are 1-based inclusive file frame numbers, as ``frames`` (``frames_exclude``).

    Raises:
        ConfigError: a range outside the fitted frames (a stale or mistyped range), or so
            many frames excluded that fewer than :data:`MIN_FRAMES` remain.
    """
    first, last = window[0] + 1, window[1]
    number = np.arange(first, last + 1)
    excluded = np.zeros(len(number), dtype=bool)
    for a, b in ranges:
        if b < first or a > last:
            raise ConfigError(f"{source}: frames_exclude range [{a}, {b}] lies outside the "
                              f"fitted frames {first}..{last}; remove it or fix the numbers")
        excluded |= (number >= a) & (number <= b)
    if (~excluded).sum() < MIN_FRAMES:
        raise ConfigError(f"{source}: frames_exclude leaves {(~excluded).sum()} of "
                          f"{len(number)} frames; at least {MIN_FRAMES} are needed")
    return excluded


def exclude_frames(data: XPCSData, ranges) -> XPCSData:
    """``data`` with the frames of ``ranges`` marked excluded (see :func:`excluded_frames`);
    earlier exclusions are kept.  ``c2`` and ``t`` are unchanged: the pairs are left out of
    fits and views, while the models still integrate over every frame."""
    if not ranges:
        return data
    excluded = excluded_frames(ranges, data.provenance.frames,
                               data.provenance.source or "dataset")
    return replace(data, excluded=excluded | ~data.frame_ok)
