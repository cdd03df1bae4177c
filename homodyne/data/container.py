"""``XPCSData``: one dataset at one q, ready to fit.

Everything downstream (NLSQ, sharding, plots) takes this container, never a file.  Arrays
are float64; ``c2`` is symmetric with its diagonal already corrected, and ``t`` starts at the
first kept frame (docs/data-formats.md: the frame at t = 0 is dropped before fitting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Provenance:
    """Where a dataset came from: enough to find and verify the input again."""

    source: str = ""
    sha256: str = ""
    layout: str = ""
    bins: tuple[int, ...] = ()
    frames: tuple[int, int] = (0, 0)


@dataclass(frozen=True, eq=False)
class XPCSData:
    """Two-time correlations of one dataset at one q.

    Attributes:
        q: wavevector actually used (1/Å).
        phi: azimuthal angles in degrees, normalised to (-180, 180], shape ``(n_phi,)``.
        t: time grid in seconds, shape ``(N,)``.
        dt: frame time in seconds.
        c2: two-time correlation, shape ``(n_phi, N, N)``.
        sigma: per-angle noise estimate of one c2 element, shape ``(n_phi,)``.
        provenance: source file, its sha256, layout, bins and 1-based frame window.
        excluded: ``(N,)`` bool, true for frames whose pairs no fit or view uses
            (``frames_exclude``); ``None`` when every frame is used.  The frames stay in
            ``t`` and ``c2``: the models integrate over the full uniform time grid.
    """

    q: float
    phi: np.ndarray
    t: np.ndarray
    dt: float
    c2: np.ndarray
    sigma: np.ndarray
    provenance: Provenance = field(default_factory=Provenance)
    excluded: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_phi, n = len(self.phi), len(self.t)
        if self.c2.shape != (n_phi, n, n):
            raise ValueError(f"c2 has shape {self.c2.shape}, expected {(n_phi, n, n)}")
        if self.sigma.shape != (n_phi,):
            raise ValueError(f"sigma has shape {self.sigma.shape}, expected {(n_phi,)}")
        if self.excluded is not None and np.shape(self.excluded) != (n,):
            raise ValueError(f"excluded has shape {np.shape(self.excluded)}, expected {(n,)}")

    @property
    def frame_ok(self) -> np.ndarray:
        """``(N,)`` bool: frames whose pairs are used (all true without exclusions)."""
        if self.excluded is None:
            return np.ones(len(self.t), dtype=bool)
        return ~np.asarray(self.excluded, dtype=bool)

    @property
    def pair_ok(self) -> np.ndarray:
        """``(N, N)`` bool: pairs of two used frames (the diagonal included; callers that
        never use it leave it out themselves)."""
        ok = self.frame_ok
        return ok[:, None] & ok[None, :]

    @property
    def n_phi(self) -> int:
        return len(self.phi)

    @property
    def n_frames(self) -> int:
        return len(self.t)

    @property
    def n_points(self) -> int:
        """Independent points a fit uses: the upper triangle (i < j) of every angle.

        c2 is symmetric, so the lower triangle repeats the same measurements; counting it
        would halve the reported uncertainties without adding information.
        """
        return self.n_phi * self.n_frames * (self.n_frames - 1) // 2
