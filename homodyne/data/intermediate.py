"""The intermediate HDF5 file between workflow steps: one :class:`XPCSData`, exactly.

Layout: datasets ``phi``, ``t``, ``c2``, ``sigma`` (float64, stored bit for bit) and root
attributes ``format`` (``"homodyne-xpcs"``), ``format_version``, ``homodyne_version``, ``q``,
``dt``, ``phi`` and the provenance (``source``, ``sha256``, ``layout``, ``bins``, ``frames``);
version 2 adds ``excluded`` (``(N,)`` uint8, 1 for a frame left out by ``frames_exclude``),
so a version-1 reader, which would fit those frames, refuses the file.
Attributes make the provenance visible to any HDF5 tool (``h5dump -A``) without this package.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from homodyne import __version__
from homodyne.data.container import Provenance, XPCSData
from homodyne.data.readers import REMAKE, open_hdf5
from homodyne.data.writers import put
from homodyne.errors import DataFormatError
from homodyne.io import write_atomic

FORMAT = "homodyne-xpcs"
FORMAT_VERSION = 2
_ARRAYS = ("phi", "t", "c2", "sigma")
_ATTRS = ("format_version", "q", "dt", "source", "sha256", "layout", "bins", "frames")
_EXPECTED = "a homodyne XPCSData file written by homodyne.data.write_xpcs"


def write_xpcs(path: str | os.PathLike, data: XPCSData) -> Path:
    """Write ``data`` to ``path`` atomically; :func:`read_xpcs` gives it back exactly.

    Arrays are stored as float64 (they already are, for data made by :func:`load`).
    """
    prov = data.provenance

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            for name in _ARRAYS:
                put(fh, name, np.asarray(getattr(data, name), dtype=np.float64))
            put(fh, "excluded", (~data.frame_ok).astype(np.uint8))
            fh.attrs.update({
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "homodyne_version": __version__,
                "q": float(data.q),
                "dt": float(data.dt),
                "phi": np.asarray(data.phi, dtype=np.float64),
                "source": prov.source,
                "sha256": prov.sha256,
                "layout": prov.layout,
                "bins": np.asarray(prov.bins, dtype=np.int64),
                "frames": np.asarray(prov.frames, dtype=np.int64),
            })

    return write_atomic(path, write)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_xpcs(path: str | os.PathLike) -> XPCSData:
    """Read a file written by :func:`write_xpcs`.

    Raises:
        DataFormatError: missing file, not HDF5, not (or a newer version of) this format,
            missing datasets or attributes, inconsistent shapes.
    """
    path = Path(path)
    with open_hdf5(path, _EXPECTED, REMAKE) as fh:
        found = fh.attrs.get("format")
        if found is None or _text(found) != FORMAT:
            raise DataFormatError(
                f"{path}: not a homodyne XPCSData file (root attribute 'format' is {found!r}, "
                f"expected {FORMAT!r}); raw APS files are read with homodyne.data.load"
            )
        missing = [n for n in _ARRAYS if n not in fh] + [n for n in _ATTRS if n not in fh.attrs]
        if missing:
            raise DataFormatError(
                f"{path}: XPCSData file lacks {', '.join(missing)}; it is damaged, write it again"
            )
        if int(fh.attrs["format_version"]) > FORMAT_VERSION:
            raise DataFormatError(
                f"{path}: format_version {fh.attrs['format_version']} is newer than this "
                f"homodyne ({__version__}) reads ({FORMAT_VERSION}); upgrade homodyne"
            )
        arrays = {name: np.asarray(fh[name][()], dtype=np.float64) for name in _ARRAYS}
        excluded = (np.asarray(fh["excluded"][()], dtype=bool) if "excluded" in fh
                    else None)  # version 1: every frame used
        a = fh.attrs
        provenance = Provenance(
            source=_text(a["source"]),
            sha256=_text(a["sha256"]),
            layout=_text(a["layout"]),
            bins=tuple(int(b) for b in np.ravel(a["bins"])),
            frames=tuple(int(f) for f in np.ravel(a["frames"])),
        )
        q, dt = float(a["q"]), float(a["dt"])
    try:
        return XPCSData(q=q, dt=dt, provenance=provenance, excluded=excluded, **arrays)
    except ValueError as exc:
        raise DataFormatError(
            f"{path}: inconsistent XPCSData arrays ({exc}); write it again"
        ) from exc
