"""Readers for the two APS HDF5 layouts (docs/data-formats.md).

A reader does no science.  It detects the layout from the groups present, turns the file's
bin tables into one :class:`BinTable` (bin number, q, angle and matrix key of every stored
matrix) and reads square frame windows of chosen matrices as float64.  Everything after that
(q and angle selection, half matrices, diagonal, time grid) is :mod:`homodyne.data.preprocess`.

Matrix order, the one place the two layouts differ in spirit:

* APS-U: the k-th key of ``xpcs/twotime/correlation_map`` in *natural* sort order belongs to
  the k-th entry of ``processed_bins``.  Natural order compares runs of digits as integers
  (``c2_2`` < ``c2_10``), so it agrees with alphabetical order for zero-padded keys
  (``c2_00002`` < ``c2_00010``) and stays right for unpadded or mixed-width ones.  Keys whose
  numbers are equal (``c2_01``, ``c2_1``) are ordered by their text.
* Legacy: the k-th key of ``exchange/C2T_all`` in *creation* order belongs to bin k.  h5py
  iterates alphabetically unless the group tracks creation order, so the creation-order index
  is asked for explicitly.  A group written without ``track_order`` has no record of creation
  order; the documented fallback is the same natural sort as APS-U.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from homodyne.errors import DataFormatError

APS_U = "aps-u"
LEGACY = "legacy"

APS_U_PATHS = {
    "q": "xpcs/qmap/dynamic_v_list_dim0",
    "phi": "xpcs/qmap/dynamic_v_list_dim1",
    "bins": "xpcs/twotime/processed_bins",
    "matrices": "xpcs/twotime/correlation_map",
}
LEGACY_PATHS = {
    "q": "xpcs/dqlist",
    "phi": "xpcs/dphilist",
    "matrices": "exchange/C2T_all",
}
LAYOUTS = {APS_U: APS_U_PATHS, LEGACY: LEGACY_PATHS}
_LISTED_GROUPS = 20


@dataclass(frozen=True)
class BinTable:
    """Every stored matrix of a file: its 1-based bin number, q, angle and key.

    Attributes:
        layout: ``"aps-u"`` or ``"legacy"``.
        group: HDF5 path of the group holding the matrices.
        bins: 1-based bin numbers, shape ``(K,)``.
        q: q of each bin (1/Å), shape ``(K,)``.
        phi: angle of each bin in degrees as stored (not normalised), shape ``(K,)``.
        keys: key of each bin's matrix inside ``group`` (str, or bytes for names that are
            not UTF-8).
        n_frames: F, the side of every (F, F) matrix.
    """

    layout: str
    group: str
    bins: np.ndarray
    q: np.ndarray
    phi: np.ndarray
    keys: tuple
    n_frames: int


REMAKE = ("it is damaged or incomplete (a killed job, a full disk): delete it and run the "
          "same command again to remake it")
"""How to recover from a damaged file the workflow made itself (an intermediate)."""


@contextmanager
def open_hdf5(path: str | os.PathLike, expected: str,
              remedy: str | None = None) -> Iterator[h5py.File]:
    """Open ``path`` read-only, turning a missing or non-HDF5 file into ``DataFormatError``.

    Args:
        path: file to open.
        expected: what the caller needs, for the message (e.g. "an APS HDF5 file").
        remedy: what to do about an unreadable file, for files the workflow made itself
            (:data:`REMAKE`); ``None`` for the user's input files.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file; check the path (expected {expected})")
    advice = f"; {remedy}" if remedy else ""
    if not h5py.is_hdf5(path):
        raise DataFormatError(f"{path}: not an HDF5 file; expected {expected}{advice}")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(
            f"{path}: cannot be opened as HDF5 ({exc}); expected {expected}{advice}"
        ) from exc
    with fh:
        yield fh


def _text(name: str | bytes) -> str:
    """A key as text for sorting and messages (bytes keys that are not UTF-8 are escaped)."""
    return name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name


def natural_key(name: str | bytes) -> tuple:
    """Sort key comparing digit runs as integers: ``c2_2`` < ``c2_10`` == order of ``c2_00002``."""
    text = _text(name)
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text


def _group_names(fh: h5py.File) -> list[str]:
    names = ["/"]

    def add(name: str, obj) -> None:
        if isinstance(obj, h5py.Group):
            names.append(f"/{name}")

    fh.visititems(add)
    return names


def detect_layout(fh: h5py.File, path: Path) -> str:
    """Name the layout whose required paths are all present, or explain what is missing."""
    present = {name: [p for p in paths.values() if p in fh] for name, paths in LAYOUTS.items()}
    for name, paths in LAYOUTS.items():
        if len(present[name]) == len(paths):
            return name
    closest = max(LAYOUTS, key=lambda name: len(present[name]))
    if present[closest]:
        missing = [p for p in LAYOUTS[closest].values() if p not in fh]
        raise DataFormatError(
            f"{path}: looks like the {closest} layout but lacks {', '.join(missing)}; "
            "the file is incomplete or was exported with another tool"
        )
    groups = _group_names(fh)
    shown = ", ".join(groups[:_LISTED_GROUPS])
    more = f" (and {len(groups) - _LISTED_GROUPS} more)" if len(groups) > _LISTED_GROUPS else ""
    expected = "; ".join(f"{name}: {', '.join(paths.values())}" for name, paths in LAYOUTS.items())
    raise DataFormatError(
        f"{path}: unknown HDF5 layout; groups found: {shown}{more}. Expected one of "
        f"{expected}. Convert bare matrices with `homodyne import-matrix`"
    )


def _vector(fh: h5py.File, path: Path, name: str) -> np.ndarray:
    """A numeric dataset flattened to float64 (tables are (n,), (1, n) or (n, 1) in practice)."""
    obj = fh[name]
    if not isinstance(obj, h5py.Dataset) or not np.issubdtype(obj.dtype, np.number):
        raise DataFormatError(f"{path}: {name} is not a numeric dataset; the file is malformed")
    return np.asarray(obj[()], dtype=np.float64).ravel()


def _bin_numbers(values: np.ndarray, n_bins: int, path: Path, name: str) -> np.ndarray:
    ok = np.isfinite(values) & (values == np.round(values)) & (values >= 1) & (values <= n_bins)
    if not ok.all():
        bad = values[~ok][:5].tolist()
        raise DataFormatError(
            f"{path}: {name} holds {bad}, not 1-based bin numbers in 1..{n_bins} "
            "(n_q x n_phi of xpcs/qmap); the file is malformed"
        )
    return values.astype(np.int64)


def _creation_order(group: h5py.Group) -> list | None:
    """Link names in creation order, or ``None`` when the group does not record it."""
    flags = group.id.get_create_plist().get_link_creation_order()
    if not flags & h5py.h5p.CRT_ORDER_TRACKED:
        return None
    names: list = []
    try:
        group.id.links.iterate(names.append, idx_type=h5py.h5.INDEX_CRT_ORDER)
    except RuntimeError:  # tracked but not indexed: no way to ask for the order
        return None
    return [_as_key(n) for n in names]


def _as_key(name: bytes) -> str | bytes:
    """str where the name is UTF-8 (as h5py's own keys), else the raw bytes h5py also accepts."""
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return name


def _matrix_keys(fh: h5py.File, path: Path, group_name: str, layout: str) -> tuple:
    group = fh[group_name]
    if not isinstance(group, h5py.Group):
        raise DataFormatError(f"{path}: {group_name} is not a group of matrices")
    keys = _creation_order(group) if layout == LEGACY else None
    if keys is None:
        keys = sorted(group.keys(), key=natural_key)
    return tuple(keys)


def _matrix_side(fh: h5py.File, path: Path, group_name: str, keys: tuple) -> int:
    """Check every matrix is a square numeric (F, F) dataset of one common F; return F."""
    shapes = {}
    for key in keys:
        obj = fh[group_name][key]
        where = f"{group_name}/{_text(key)}"
        if not isinstance(obj, h5py.Dataset) or not np.issubdtype(obj.dtype, np.number):
            raise DataFormatError(
                f"{path}: {where} is not a numeric dataset; remove it or re-export the file"
            )
        if obj.ndim != 2 or obj.shape[0] != obj.shape[1]:
            raise DataFormatError(
                f"{path}: {where} has shape {obj.shape}, not a square (F, F) two-time matrix; "
                "re-export the correlation maps as full or half square matrices"
            )
        shapes.setdefault(obj.shape, where)
    if len(shapes) > 1:
        listed = ", ".join(f"{where} {shape}" for shape, where in shapes.items())
        raise DataFormatError(
            f"{path}: matrices of different shapes ({listed}); every bin must cover the same "
            "frames, so the file is inconsistent"
        )
    return next(iter(shapes))[0]


def read_table(fh: h5py.File, path: Path) -> BinTable:
    """Detect the layout of an open file and describe every stored matrix.

    Raises:
        DataFormatError: unknown layout, malformed tables, bin count != matrix count,
            non-square or mismatched matrices.
    """
    layout = detect_layout(fh, path)
    paths = LAYOUTS[layout]
    q_col, phi_col = _vector(fh, path, paths["q"]), _vector(fh, path, paths["phi"])
    keys = _matrix_keys(fh, path, paths["matrices"], layout)
    if layout == APS_U:
        bins = _bin_numbers(_vector(fh, path, paths["bins"]), q_col.size * phi_col.size, path,
                            paths["bins"])
        q, phi = q_col[(bins - 1) // phi_col.size], phi_col[(bins - 1) % phi_col.size]
        counted = f"{paths['bins']} lists {bins.size} processed bins"
    else:
        if q_col.size != phi_col.size:
            raise DataFormatError(
                f"{path}: {paths['q']} has {q_col.size} bins but {paths['phi']} has "
                f"{phi_col.size}; the file is malformed"
            )
        bins, q, phi = np.arange(1, q_col.size + 1), q_col, phi_col
        counted = f"{paths['q']} lists {bins.size} bins"
    if not keys:
        raise DataFormatError(f"{path}: {paths['matrices']} holds no matrices; nothing to read")
    if len(keys) != bins.size:
        raise DataFormatError(
            f"{path}: {counted} but {paths['matrices']} holds {len(keys)} matrices; each bin "
            "needs exactly one matrix, so the file is inconsistent (re-export it)"
        )
    n_frames = _matrix_side(fh, path, paths["matrices"], keys)
    return BinTable(layout, paths["matrices"], bins, q, phi, keys, n_frames)


def read_window(fh: h5py.File, table: BinTable, index: int, start: int, stop: int) -> np.ndarray:
    """Matrix of bin ``table.bins[index]`` restricted to frames ``start:stop`` (0-based), float64.

    Only the window is read from disk: a principal sub-matrix of a half matrix is itself a
    half matrix, so the triangle can be rebuilt afterwards.
    """
    dataset = fh[table.group][table.keys[index]]
    return np.asarray(dataset[start:stop, start:stop], dtype=np.float64)
