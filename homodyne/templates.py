"""Commented starting configs (``homodyne config``): every key with its value and meaning.

The text is generated, not kept by hand: keys, their order, defaults, allowed values and
descriptions come from the config schema, parameter names, defaults, bounds, units and
meanings from the registry.  So a template cannot offer a key ``parse_config`` refuses or a
default it does not use; ``config/templates/*.yaml`` are this output and a test keeps them
equal.  :mod:`homodyne.migrate` writes converted 2.x configs through the same renderer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homodyne import params as registry
from homodyne.config import SCHEMA_PATH, read_yaml
from homodyne.data.readers import open_hdf5, read_table
from homodyne.errors import HomodyneError

PLACEHOLDER_FILE = "CHANGE_ME/data.h5"
"""Dataset file written when no file is given; ``homodyne validate`` reports it missing."""
PLACEHOLDER_Q = 0.0054
PLACEHOLDER_DT = 0.1
CHANGE_ME = "CHANGE ME"

_COLUMN = 32
_LISTED_RINGS = 8
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}

_MODE_NOTES = {
    "static": ("static: D(t) = D0*t^alpha + D_offset, no flow; fits D0, alpha, D_offset",
               "plus contrast and offset per angle (per_angle_mode)."),
    "laminar_flow": ("laminar_flow: D(t) = D0*t^alpha + D_offset and shear rate",
                     "gamma_dot(t) = gamma_dot_t0*t^beta + gamma_dot_t_offset along phi0,",
                     "plus contrast and offset per angle (per_angle_mode)."),
    "heterodyne": ("heterodyne: reference and sample components, each with its own",
                   "transport, beating through the velocity v(t) = v0*t^beta + v_offset;",
                   "sample fraction f(t) from f0..f3. phi0 is the flow direction (angle",
                   "factor cos(phi - phi0)); the heterodyne 2.0 package's phi0 is minus ours."),
}


@dataclass(frozen=True)
class Dataset:
    """One ``datasets`` entry to write.

    Attributes:
        name: dataset name.
        file: HDF5 path as it should appear in the config.
        q: requested q (1/Å); ``None`` writes a placeholder marked CHANGE ME.
        phi_ranges, frames: written when set, else shown commented out.
        notes: comment lines written above the entry (what was read from the file).
    """

    name: str
    file: str
    q: float | None = None
    phi_ranges: tuple[tuple[float, float], ...] | None = None
    frames: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()


def scalar(value) -> str:
    """A value as YAML flow text that YAML 1.1 readers (PyYAML, Snakemake) parse back as is.

    Floats always carry a dot and a signed exponent (``1.0e-08``): YAML 1.1 reads ``1e-08``
    as a string.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        plain = _PLAIN.match(value) and value.lower() not in _YAML_WORDS
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(scalar(v) for v in value) + "]"


def _line(indent: int, text: str, comment: str = "") -> str:
    text = " " * indent + text
    if not comment:
        return text
    return f"{text.ljust(_COLUMN - 1)} # {comment}"


def _schema() -> dict:
    return read_yaml(SCHEMA_PATH)


def _comment(key: str, spec: Mapping) -> str:
    """The schema's description and the allowed values; 2.x mode aliases are accepted but
    not advertised."""
    text = spec.get("description", "")
    choices = list(registry.MODES) if key == "mode" else spec.get("enum")
    if choices:
        text += ("; " if text else "") + ", ".join(map(str, choices))
    return text


def _section(name: str, schema: Mapping, values: Mapping) -> list[str]:
    """An ``nlsq`` or ``cmc`` section: every key of the schema, value over default."""
    keys = schema["$defs"][name]["properties"]
    defaults = schema["properties"][name]["properties"]
    lines = [f"{name}:"]
    for key, spec in keys.items():
        value = values[key] if key in values else defaults[key]["default"]
        lines.append(_line(2, f"{key}: {scalar(value)}", _comment(key, spec)))
    return lines


def _unit(p: registry.Parameter) -> str:
    return "dimensionless" if p.unit == "-" else p.unit


def _analysis(mode: str, schema: Mapping, values: Mapping) -> list[str]:
    """The ``analysis`` section with every parameter of ``mode`` under initial and bounds."""
    keys = schema["$defs"]["analysis"]["properties"]
    defaults = schema["properties"]["analysis"]["properties"]
    initial, bounds = values.get("initial", {}), values.get("bounds", {})
    ps = registry.parameters(mode)
    lines = ["analysis:"]
    for key, spec in keys.items():
        comment = _comment(key, spec)
        if key == "mode":
            lines.append(_line(2, f"mode: {mode}", comment))
        elif key == "dt" and "dt" not in values:
            lines.append(_line(2, f"dt: {scalar(PLACEHOLDER_DT)}",
                               f"{CHANGE_ME}: {comment} (required; files do not carry it)"))
        elif key == "initial":
            lines.append(_line(2, "initial:", f"{comment}; registry defaults unless set"))
            lines += [_line(4, f"{p.name}: {scalar(float(initial.get(p.name, p.default)))}",
                            f"{_unit(p)}; {p.meaning}") for p in ps]
        elif key == "bounds":
            lines.append(_line(2, "bounds:", comment))
            lines += [_line(4, f"{p.name}: {scalar(list(map(float, pair)))}", _unit(p))
                      for p in (*ps, *registry.SCALING)
                      for pair in [bounds.get(p.name, (p.lower, p.upper))]]
        else:
            value = values[key] if key in values else defaults[key]["default"]
            lines.append(_line(2, f"{key}: {scalar(value)}", comment))
    return lines


def _datasets(schema: Mapping, datasets: Sequence[Dataset]) -> list[str]:
    keys = schema["properties"]["datasets"]["items"]["properties"]
    lines = ["datasets:"]
    for ds in datasets:
        lines += [_line(2, f"# {note}") for note in ds.notes]
        lines.append(_line(2, f"- name: {scalar(ds.name)}", _comment("name", keys["name"])))
        file_comment = _comment("file", keys["file"])
        if ds.file == PLACEHOLDER_FILE:
            file_comment = f"{CHANGE_ME}: {file_comment}"
        lines.append(_line(4, f"file: {scalar(ds.file)}", file_comment))
        q_comment = _comment("q", keys["q"])
        q = ds.q if ds.q is not None else PLACEHOLDER_Q
        lines.append(_line(4, f"q: {scalar(float(q))}",
                           q_comment if ds.q is not None else f"{CHANGE_ME}: {q_comment}"))
        for key, value, example, default in (
                ("phi_ranges", ds.phi_ranges, [[-10.0, 10.0], [80.0, 100.0]], "all"),
                ("frames", ds.frames, [1, 1000], "all"),
                ("frames_exclude", None, [[120, 123]], "none")):
            comment = _comment(key, keys[key])
            if value is None:
                lines.append(_line(4, f"# {key}: {scalar(example)}",
                                   f"{comment}; default {default}"))
            else:
                lines.append(_line(4, f"{key}: {scalar(value)}", comment))
        spec = keys["mask_nonfinite"]
        lines.append(_line(4, f"# mask_nonfinite: {scalar(not spec['default'])}",
                           f"{_comment('mask_nonfinite', spec)}; default "
                           f"{scalar(spec['default'])}"))
        lines.append(_line(4, "# analysis: {per_angle_mode: individual}",
                           "per-dataset override of any analysis, nlsq or cmc key"))
    return lines


def render(mode: str, datasets: Sequence[Dataset] = (), *, analysis: Mapping | None = None,
           nlsq: Mapping | None = None, cmc: Mapping | None = None,
           header: Iterable[str] = ()) -> str:
    """A complete commented config for ``mode``.

    Args:
        mode: ``static``, ``laminar_flow`` or ``heterodyne`` (2.x aliases accepted).
        datasets: entries to write; none writes one placeholder entry.
        analysis: values of the ``analysis`` section (``initial`` and ``bounds`` by parameter
            name); absent keys show their defaults.
        nlsq, cmc: values of those sections; absent keys show their defaults.
        header: comment lines put first (without ``#``).
    """
    mode = registry.canonical_mode(mode)
    schema = _schema()
    datasets = list(datasets) or [Dataset("sample", PLACEHOLDER_FILE)]
    intro = [f"homodyne analysis config, mode {mode}.", *_MODE_NOTES[mode],
             "Check with `homodyne validate FILE`, run with `homodyne run FILE`."]
    header = list(header)
    lines = [f"# {text}".rstrip() for text in [*header, *([""] if header else []), *intro]]
    lines += ["", "# one entry per HDF5 file at one q", *_datasets(schema, datasets)]
    lines += ["", *_analysis(mode, schema, analysis or {})]
    lines += ["", "# least-squares fit (trust region, bounds enforced)",
              *_section("nlsq", schema, nlsq or {})]
    lines += ["", "# Bayesian posterior: importance sampling or NUTS, on shards of the points",
              *_section("cmc", schema, cmc or {})]
    lines += ["", "# model-free views: one-time g2 and ageing (README: Model-free views)",
              "twotime:", *(_line(2, f"{key}: {scalar(spec['default'])}", _comment(key, spec))
                            for key, spec in
                            schema["properties"]["twotime"]["properties"].items())]
    lines += ["", "# the end of a Snakemake run: one verdict line per dataset", "workflow:",
              *(_line(2, f"{key}: {scalar(spec['default'])}", _comment(key, spec))
                for key, spec in schema["properties"]["workflow"]["properties"].items())]
    return "\n".join(lines) + "\n"


def dataset_name(path: str | Path, taken: Iterable[str] = ()) -> str:
    """A valid, unused dataset name from a file's stem (other characters become ``_``)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem).lstrip("_.-") or "dataset"
    name, k, taken = stem, 2, set(taken)
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name


def dataset_from_file(path: str | Path, taken: Iterable[str] = ()) -> Dataset:
    """Entry for an HDF5 file: name from its stem, q of its first q ring when readable.

    Only the bin tables are read (no matrices); an unreadable file gives the placeholder q
    and a note saying why.
    """
    name = dataset_name(path, taken)
    try:
        with open_hdf5(path, "an APS-U or legacy APS HDF5 file") as fh:
            table = read_table(fh, Path(path))
    except HomodyneError as exc:
        reason = " ".join(str(exc).split())
        return Dataset(name, str(path), notes=(f"could not read q: {reason}",))
    q = float(f"{table.q[0]:.6g}")
    rings = np.unique(table.q[np.isfinite(table.q)])
    listed = ", ".join(f"{v:.6g}" for v in rings[:_LISTED_RINGS])
    more = ", ..." if rings.size > _LISTED_RINGS else ""
    n_phi = int(np.isclose(table.q, table.q[0]).sum())
    note = (f"{table.layout} file, {table.n_frames} frames, q rings: {listed}{more}; "
            f"q below is the first ring ({n_phi} angle{'s' * (n_phi != 1)})")
    return Dataset(name, str(path), q=q, notes=(note,))


def generate(mode: str, files: Sequence[str | Path] = ()) -> str:
    """What ``homodyne config --mode MODE --datasets FILES`` prints."""
    datasets: list[Dataset] = []
    for path in files:
        datasets.append(dataset_from_file(path, (d.name for d in datasets)))
    header = (f"Written by `homodyne config --mode {registry.canonical_mode(mode)}`: every key "
              "with its default", "and meaning. Replace the values marked CHANGE ME.")
    return render(mode, datasets, header=header)
