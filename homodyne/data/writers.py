"""Writers of the two APS layouts, for synthetic data and imported matrices.

Files are written atomically (:func:`homodyne.io.write_atomic`) and deterministically: no
object carries a creation or modification time (datasets with ``track_times=False``, groups
with a creation property list that says the same), so the same content gives the same bytes.
Keys are ``c2_00001``, ``c2_00002``, ... in bin order, which natural and alphabetical order
agree on; the legacy group also records creation order, the order its reader trusts.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from homodyne.data.readers import APS_U_PATHS, LEGACY_PATHS
from homodyne.io import write_atomic


def _new_group(parent: h5py.Group, name: str, *, track_order: bool = False) -> h5py.Group:
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    if track_order:
        gcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def _require_group(root: h5py.Group, path: str, *, track_order: bool = False) -> h5py.Group:
    """Return group ``path`` under ``root``, creating missing levels without timestamps.

    ``track_order`` applies to the last level only (the one holding the matrices).
    """
    group = root
    parts = path.split("/")
    for depth, name in enumerate(parts, start=1):
        if name in group:
            group = group[name]
        else:
            group = _new_group(group, name, track_order=track_order and depth == len(parts))
    return group


def put(group: h5py.Group, name: str, data) -> h5py.Dataset:
    """Create a dataset without timestamps (see module docstring)."""
    return group.create_dataset(name, data=data, track_times=False)


def _put_matrices(fh: h5py.File, group_path: str, matrices, *, track_order: bool) -> None:
    group = _require_group(fh, group_path, track_order=track_order)
    for k, matrix in enumerate(matrices, start=1):
        put(group, f"c2_{k:05d}", np.asarray(matrix))


def _put_attrs(fh: h5py.File, attrs: dict | None) -> None:
    for key, value in (attrs or {}).items():
        fh.attrs[key] = value


def write_aps_u(path: str | os.PathLike, *, q_values, phi_values, bins, matrices,
                attrs: dict | None = None) -> Path:
    """Write an APS-U (8-ID-I nexus results) file.

    Args:
        path: destination.
        q_values: q grid, shape ``(n_q,)`` (``dynamic_v_list_dim0``).
        phi_values: angle grid in degrees, shape ``(n_phi,)`` (``dynamic_v_list_dim1``).
        bins: 1-based bin numbers of the matrices, shape ``(K,)``; bin ``b`` is q index
            ``(b-1) // n_phi`` and angle index ``(b-1) % n_phi``.
        matrices: ``K`` matrices of shape ``(F, F)``, stored as given.
        attrs: root attributes (informational, e.g. the frame time).
    """

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            _put_attrs(fh, attrs)
            tables = (("q", q_values, np.float64), ("phi", phi_values, np.float64),
                      ("bins", bins, np.int64))
            for role, values, dtype in tables:
                parent, name = APS_U_PATHS[role].rsplit("/", 1)
                put(_require_group(fh, parent), name, np.asarray(values, dtype=dtype))
            _put_matrices(fh, APS_U_PATHS["matrices"], matrices, track_order=False)

    return write_atomic(path, write)


def write_legacy(path: str | os.PathLike, *, q_per_bin, phi_per_bin, matrices,
                 attrs: dict | None = None) -> Path:
    """Write an APS legacy file: ``xpcs/dqlist``, ``xpcs/dphilist`` (1, M) and ``exchange/C2T_all``.

    Args:
        path: destination.
        q_per_bin: q of each bin, shape ``(M,)``.
        phi_per_bin: angle of each bin in degrees, shape ``(M,)``.
        matrices: ``M`` matrices of shape ``(F, F)``, stored in bin order.
        attrs: root attributes (informational).
    """

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            _put_attrs(fh, attrs)
            xpcs = _require_group(fh, "xpcs")
            for role, values in (("q", q_per_bin), ("phi", phi_per_bin)):
                name = LEGACY_PATHS[role].rsplit("/", 1)[1]
                put(xpcs, name, np.asarray(values, dtype=np.float64).reshape(1, -1))
            _put_matrices(fh, LEGACY_PATHS["matrices"], matrices, track_order=True)

    return write_atomic(path, write)
