"""Pure JAX physics: the c2 models (SPEC §2-3) and per-angle scaling (SPEC §4)."""

from homodyne.physics.core import compute_c2, compute_c2_points
from homodyne.physics.scaling import AngleScaling, angle_scaling, estimate_scaling

__all__ = [
    "AngleScaling",
    "angle_scaling",
    "compute_c2",
    "compute_c2_points",
    "estimate_scaling",
]
