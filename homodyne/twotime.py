"""Model-free views of the two-time data: one-time g2 with errors, ageing, bad frames.

Before a fit of D(t) is believed, the data are looked at without a model (docs/physics.md,
"Model-free views"):

* :func:`one_time_from_two_time` -- g2(τ) for every lag τ = k·dt, the mean of c2 over all
  pairs ``(i, i + k)`` (the diagonal never), with the standard error of that mean from the
  scatter of those pairs along the diagonal.  For a stationary sample the scatter is the
  noise; a sample that ages adds its drift to it, so the error is honest either way.
* :func:`ageing` -- the same average in windows of the age ``t_age = (t1 + t2) / 2``, and
  per window a decay time: how long ``g2 - baseline`` takes to fall to 1/e of its value at
  the shortest lag (:func:`decay_time`).  A window where that time is undefined gets NaN
  and a reason, never an invented number.
* :func:`candidate_bad_frames` -- frames whose row of c2 departs from its neighbours by
  many robust standard deviations (beam dumps, shutter closures, detector glitches):
  suggestions for ``frames_exclude``, which ``homodyne validate`` prints and never applies.

Every function takes arrays (``c2`` of shape ``(n_phi, N, N)``, a ``(N, N)`` bool ``keep``
of the pairs to use) and returns arrays; the fitted model is reduced by the same functions
with the same ``keep``, so data and model are compared like with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BASELINE_LAG_FRACTION = 0.2
"""The baseline is the mean of c2 over the used pairs whose lag is among the longest 20 % of
all pairs' lags (the fit's start estimate takes its offset from the same pairs)."""

BAD_FRAME_Z = 6.0
"""Robust z-score above which a frame's row is suggested as a bad frame."""

BAD_FRAME_NEIGHBOURS = 5
"""Frames on each side a row is compared with."""


def _as_stack(c2) -> tuple[np.ndarray, bool]:
    c2 = np.asarray(c2, dtype=np.float64)
    return (c2[None], True) if c2.ndim == 2 else (c2, False)


def lag_statistics(c2, keep, labels, n_groups: int):
    """Mean, standard error and count of c2 at every lag, per group of pairs.

    Args:
        c2: ``(n_phi, N, N)``.
        keep: ``(N, N)`` bool, the pairs to use (only ``j > i`` is read).
        labels: ``(N, N)`` int in ``[0, n_groups)``, the group of every pair.
        n_groups: number of groups.

    Returns:
        ``mean, err`` of shape ``(n_phi, n_groups, N - 1)`` and ``count``
        ``(n_groups, N - 1)``, lag ``k`` at index ``k - 1``.  ``mean`` is NaN without pairs,
        ``err`` (sample sd / √count) NaN with fewer than two.
    """
    n_phi, n = c2.shape[0], c2.shape[-1]
    mean = np.full((n_phi, n_groups, n - 1), np.nan)
    err = np.full((n_phi, n_groups, n - 1), np.nan)
    count = np.zeros((n_groups, n - 1), dtype=np.int64)
    groups = np.arange(n_groups)
    for k in range(1, n):
        used = np.diagonal(keep, offset=k)
        values = np.where(used, np.diagonal(c2, offset=k, axis1=1, axis2=2), 0.0)
        member = ((np.diagonal(labels, offset=k)[:, None] == groups)
                  & used[:, None]).astype(np.float64)  # (N - k, G)
        n_k = member.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.where(n_k > 0, (values @ member) / n_k, 0.0)  # (n_phi, G)
            centred = np.where(used, values - m @ member.T, 0.0)
            e = np.sqrt((centred**2 @ member) / (n_k - 1) / n_k)
        count[:, k - 1] = n_k
        mean[:, :, k - 1] = np.where(n_k > 0, m, np.nan)
        err[:, :, k - 1] = np.where(n_k > 1, e, np.nan)
    return mean, err, count


def one_time_from_two_time(c2, keep, dt: float):
    """One-time g2(τ) of a two-time matrix: the mean over all pairs at each lag.

    Args:
        c2: ``(N, N)`` or ``(n_phi, N, N)``.
        keep: ``(N, N)`` bool, pairs to use (``None``: all); the diagonal is never used.
        dt: frame time (s).

    Returns:
        ``tau`` ``(N - 1,)`` = dt·(1 … N−1), ``g2`` and ``g2_err`` of shape ``(N - 1,)`` or
        ``(n_phi, N - 1)`` like ``c2``, and ``count`` ``(N - 1,)``, the pairs at each lag.
    """
    c2, single = _as_stack(c2)
    n = c2.shape[-1]
    keep = np.ones((n, n), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    g2, err, count = lag_statistics(c2, keep, np.zeros((n, n), dtype=np.int64), 1)
    g2, err = g2[:, 0], err[:, 0]
    tau = dt * np.arange(1, n, dtype=np.float64)
    return (tau, g2[0] if single else g2, err[0] if single else err, count[0])


def baseline(c2, keep, t) -> np.ndarray:
    """Per-angle long-lag level: mean c2 of the used pairs at the longest lags.

    See :data:`BASELINE_LAG_FRACTION`.  ``c2`` ``(n_phi, N, N)``; returns ``(n_phi,)``.
    """
    c2, _ = _as_stack(c2)
    i, j = np.triu_indices(c2.shape[-1], k=1)
    used = np.asarray(keep, dtype=bool)[i, j]
    i, j = i[used], j[used]
    lag = np.abs(np.asarray(t)[j] - np.asarray(t)[i])
    far = lag >= np.percentile(lag, 100 * (1 - BASELINE_LAG_FRACTION))
    return c2[:, i[far], j[far]].mean(axis=1)


def decay_time(tau, g2, base) -> tuple[float, str]:
    """The time ``g2 - base`` takes to fall to 1/e of its value at the shortest lag τ₁.

    The lag where it reaches 1/e is interpolated linearly in log τ between the last lag
    above and the first at or below; the decay time is that lag minus τ₁, so a single
    exponential ``exp(-τ/τ_c)`` gives exactly ``τ_c`` at any frame time.  Returns
    ``(time, "")`` or ``(nan, reason)``.
    """
    tau, y = np.asarray(tau), np.asarray(g2) - base
    have = np.flatnonzero(np.isfinite(y))
    if len(have) < 2:
        return math.nan, "fewer than two lags with pairs"
    y0 = y[have[0]]
    if not y0 > 0:
        return math.nan, "no correlation above the baseline at the shortest lag"
    below = have[y[have] <= y0 / math.e]
    if not len(below):
        return math.nan, (f"g2 - baseline does not fall to 1/e within the window's lags "
                          f"(up to {tau[have[-1]]:.3g} s)")
    b = below[0]
    a = have[have < b][-1]
    frac = (y[a] - y0 / math.e) / (y[a] - y[b])
    crossing = np.exp(np.log(tau[a]) + frac * (np.log(tau[b]) - np.log(tau[a])))
    return float(crossing - tau[have[0]]), ""


def age_edges(t, n_windows: int) -> np.ndarray:
    """``n_windows + 1`` equal-width edges spanning the ages ``(t1 + t2) / 2`` of the grid."""
    return np.linspace(t[0], t[-1], n_windows + 1)


def age_labels(t, edges) -> np.ndarray:
    """``(N, N)`` window index of every pair's age ``(t[i] + t[j]) / 2``."""
    age = 0.5 * (np.asarray(t)[:, None] + np.asarray(t)[None, :])
    return np.clip(np.searchsorted(edges, age, side="right") - 1, 0, len(edges) - 2)


@dataclass(frozen=True)
class Ageing:
    """g2 per age window and angle, with the decay time of each (NaN + reason if undefined).

    Shapes: ``g2``, ``g2_err`` ``(n_phi, W, N - 1)``; ``count`` ``(W, N - 1)``;
    ``decay_time``, ``reason`` ``(n_phi, W)``; ``baseline`` ``(n_phi,)``.
    """

    edges: np.ndarray
    tau: np.ndarray
    g2: np.ndarray
    g2_err: np.ndarray
    count: np.ndarray
    baseline: np.ndarray
    decay_time: np.ndarray
    reason: np.ndarray

    @property
    def age(self) -> np.ndarray:
        """Window centres (s)."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def ageing(c2, keep, t, dt: float, n_windows: int, base=None) -> Ageing:
    """g2(τ) and the decay time in ``n_windows`` windows of the age, per angle.

    Args:
        c2: ``(n_phi, N, N)``.  keep: ``(N, N)`` bool pairs to use.  t: time grid (s).
        dt: frame time (s).  n_windows: number of equal-width age windows.
        base: per-angle baseline; default :func:`baseline` of ``c2``.
    """
    c2, _ = _as_stack(c2)
    keep = np.asarray(keep, dtype=bool)
    edges = age_edges(t, n_windows)
    g2, err, count = lag_statistics(c2, keep, age_labels(t, edges), n_windows)
    base = baseline(c2, keep, t) if base is None else np.asarray(base, dtype=np.float64)
    tau = dt * np.arange(1, c2.shape[-1], dtype=np.float64)
    times = np.full((c2.shape[0], n_windows), np.nan)
    reasons = np.full((c2.shape[0], n_windows), "", dtype=object)
    for p in range(c2.shape[0]):
        for w in range(n_windows):
            times[p, w], reasons[p, w] = decay_time(tau, g2[p, w], base[p])
    return Ageing(edges=edges, tau=tau, g2=g2, g2_err=err, count=count, baseline=base,
                  decay_time=times, reason=reasons.astype(str))


# ------------------------------------------------------------------------- bad frames

def _robust_z(x: np.ndarray, half: int) -> np.ndarray:
    """Departure of each entry of ``x`` (last axis) from the median of its ``half``
    neighbours on each side, in robust standard deviations (1.4826·MAD).

    The series is extended at both ends by point reflection through its end value, so a
    linear trend does not make the first and last frames stand out.
    """
    n = x.shape[-1]
    lead = 2 * x[..., :1] - x[..., half:0:-1]
    tail = 2 * x[..., -1:] - x[..., -2:-half - 2:-1]
    padded = np.concatenate([lead, x, tail], axis=-1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=-1)[..., :n, :]
    neighbours = np.delete(windows, half, axis=-1)
    r = x - np.median(neighbours, axis=-1)
    mad = 1.4826 * np.median(np.abs(r - np.median(r, axis=-1, keepdims=True)), axis=-1,
                             keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mad > 0, r / mad, 0.0)


def frame_scores(c2) -> np.ndarray:
    """``(N,)`` largest robust z-score of a frame's row mean or row spread over angles.

    A row ``c2[i, :]`` (the diagonal left out) changes slowly from frame to frame; a frame
    whose mean or standard deviation jumps away from its neighbours' is suspect.
    """
    c2, _ = _as_stack(c2)
    n = c2.shape[-1]
    half = min(BAD_FRAME_NEIGHBOURS, (n - 1) // 2)
    if half < 1:
        return np.zeros(n)
    off = ~np.eye(n, dtype=bool)
    rows = c2[:, off].reshape(c2.shape[0], n, n - 1)
    stats = np.stack([rows.mean(axis=-1), rows.std(axis=-1)])  # (2, n_phi, N)
    return np.abs(_robust_z(stats, half)).max(axis=(0, 1))


def candidate_bad_frames(c2, excluded=None, threshold: float = BAD_FRAME_Z):
    """Runs of frames whose :func:`frame_scores` exceed ``threshold``.

    Args:
        c2: ``(n_phi, N, N)``.
        excluded: ``(N,)`` bool, frames already excluded (never suggested again).

    Returns:
        ``[(first, last, score), ...]``, 0-based inclusive indices of the fitted frames and
        the largest score of each run.
    """
    score = frame_scores(c2)
    flagged = score > threshold
    if excluded is not None:
        flagged &= ~np.asarray(excluded, dtype=bool)
    runs, k = [], 0
    idx = np.flatnonzero(flagged)
    while k < len(idx):
        end = k
        while end + 1 < len(idx) and idx[end + 1] == idx[end] + 1:
            end += 1
        runs.append((int(idx[k]), int(idx[end]), float(score[idx[k]:idx[end] + 1].max())))
        k = end + 1
    return runs


# ------------------------------------------------------------- data against a fitted model

MIN_LAG_PAIRS = 10
"""Lags with fewer pairs than this are left out of :func:`decay_agreement` (their standard
error, from the scatter of a handful of pairs, is itself too uncertain)."""


def decay_agreement(c2, model, keep, t, dt: float) -> dict:
    """How well a fitted model reproduces the data's one-time g2, angle by angle.

    Both are reduced over the same pairs (:func:`one_time_from_two_time`).  Per angle,
    ``score`` is the mean of ``z² = ((g2_data - g2_model) / g2_err)²`` over the lags with at
    least :data:`MIN_LAG_PAIRS` pairs: about 1 when the model follows the data within their
    scatter, far above 1 when it decays too fast or too slow (a local minimum, or a model
    that misses structure), however many points the fit had.  ``decay_data`` and
    ``decay_model`` are the 1/e decay times (:func:`decay_time`) that say by how much.

    Returns:
        ``{score, lags, decay_data, decay_model}``, lists with one value per angle.
    """
    tau, g2, err, count = one_time_from_two_time(c2, keep, dt)
    _, g2_model, _, _ = one_time_from_two_time(model, keep, dt)
    use = (count >= MIN_LAG_PAIRS)[None] & np.isfinite(err) & (err > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = np.where(use, ((g2 - g2_model) / np.where(use, err, 1.0)) ** 2, 0.0)
    lags = use.sum(axis=1)
    score = np.where(lags > 0, z2.sum(axis=1) / np.maximum(lags, 1), np.nan)
    base, base_model = baseline(c2, keep, t), baseline(model, keep, t)
    data_times = [decay_time(tau, g2[p], base[p])[0] for p in range(len(g2))]
    model_times = [decay_time(tau, g2_model[p], base_model[p])[0] for p in range(len(g2))]
    return {"score": score.tolist(), "lags": lags.astype(int).tolist(),
            "decay_data": [float(v) for v in data_times],
            "decay_model": [float(v) for v in model_times]}
