"""Data layer: HDF5 readers, preprocessing, the XPCSData container, synthetic data."""

from homodyne.data.container import Provenance, XPCSData

__all__ = ["Provenance", "XPCSData"]
