"""Pure JAX physics: the c2 models and per-angle scaling (docs/physics.md)."""

from homodyne.physics.core import (
    compute_c2,
    compute_c2_block,
    compute_c2_points,
    folded_triangle,
)
from homodyne.physics.scaling import (
    AngleScaling,
    angle_scaling,
    estimate_scaling,
    scaling_names,
)

__all__ = [
    "AngleScaling",
    "angle_scaling",
    "compute_c2",
    "compute_c2_block",
    "compute_c2_points",
    "estimate_scaling",
    "folded_triangle",
    "scaling_names",
]
