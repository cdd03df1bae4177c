"""Import a homodyne 2.x YAML config (``homodyne config import``).

Users arrive with 2.x configs that took effort to tune (bounds, frames, angle ranges,
sampler settings).  This carries over everything that has a counterpart here and lists
the rest, so nothing is dropped silently: the converted config starts with the list of
2.x keys it could not carry and of values whose meaning changed on the way.

What maps where (2.x -> here):

* ``analysis_mode`` -> ``analysis.mode`` (``static_isotropic``/``static_anisotropic`` ->
  ``static``); ``analyzer_parameters.dt`` -> ``analysis.dt``; ``start_frame``/``end_frame``
  (1-based, inclusive, as here) -> the dataset's ``frames``; ``scattering.wavevector_q`` ->
  its ``q``; ``geometry.stator_rotor_gap`` -> ``analysis.L``.
* ``experimental_data.file_path`` or ``data_folder_path``/``data_file_name`` -> the
  dataset's ``file`` (relative paths resolved from the 2.x config's folder, as 2.x did);
  the dataset is named after the file's stem.
* ``phi_filtering.target_ranges`` (when enabled) -> ``phi_ranges``.
* ``initial_parameters`` -> ``analysis.initial`` and ``analysis.fixed``;
  ``parameter_space.bounds`` -> ``analysis.bounds`` (contrast and offset included).
* ``optimization.nlsq`` -> ``nlsq``; ``optimization.mcmc`` and ``optimization.cmc``
  (``per_shard_mcmc`` winning, as it did for shards) -> ``cmc``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from homodyne import params as registry
from homodyne.config import parse_config, read_yaml
from homodyne.errors import ConfigError
from homodyne.templates import Dataset, dataset_name, render

NAME_ALIASES = {"gamma_dot_0": "gamma_dot_t0", "gamma_dot_offset": "gamma_dot_t_offset",
                "phi_0": "phi0"}
"""Parameter names of early 2.x releases."""

LOSSES = ("linear", "soft_l1", "huber", "cauchy")

_REASONS = {
    "experimental_data.phi_angles_path": "angles are read from the HDF5 file",
    "experimental_data.phi_angles_file": "angles are read from the HDF5 file",
    "optimization.nlsq.x_scale_map": "parameters are scaled by the Jacobian (x_scale='jac')",
    "initial_parameters.per_angle_scaling": "contrast and offset start from data estimates",
    "phi_filtering.tolerance": "ranges are carried as written; widen them by this many "
                               "degrees if you relied on it",
}
"""Why some frequently set 2.x keys have no counterpart (others: no equivalent here)."""

_SILENT = ("metadata", "analysis_settings.static_mode", "analysis_settings.model_description",
           "parameter_space.model", "initial_parameters.units", "phi_filtering.algorithm")
"""2.x keys that only document or restate what is carried elsewhere."""


@dataclass(frozen=True)
class Migration:
    """A converted config: its text and what the conversion could not carry or changed."""

    text: str
    dropped: tuple[str, ...]
    notes: tuple[str, ...]


class _Old:
    """The 2.x mapping, remembering which key paths were read (the rest is reported)."""

    def __init__(self, data: Mapping):
        self.data = data
        self.used: set[str] = set(_SILENT)

    def peek(self, path: str, default=None):
        """The value at a dotted key path (``default`` when absent or null), unmarked."""
        node = self.data
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return default
            node = node[key]
        return default if node is None else node

    def get(self, path: str, default=None):
        """:meth:`peek`, marking the key as carried over."""
        self.used.add(path)
        return self.peek(path, default)

    def leftovers(self, node=None, prefix: str = "") -> list[str]:
        """Key paths never read, as deep as needed to tell them from those that were."""
        out = []
        for key, value in (self.data if node is None else node).items():
            path = f"{prefix}{key}"
            if path in self.used or value is None or value == {} or value == []:
                continue
            if isinstance(value, Mapping) and any(u.startswith(path + ".") for u in self.used):
                out += self.leftovers(value, path + ".")
            else:
                reason = _REASONS.get(path, "no equivalent here")
                out.append(f"{path}: {reason}")
        return out


def _name(name: str) -> str:
    return NAME_ALIASES.get(name, name)


def _mode(old: _Old, notes: list[str]) -> str:
    mode = old.get("analysis_mode")
    if mode is None:
        static = old.get("analysis_settings.static_mode")
        if static is None:
            raise ConfigError("analysis_mode is missing; set it to static or laminar_flow")
        mode = "static" if static else "laminar_flow"
    try:
        canonical = registry.canonical_mode(str(mode))
    except ValueError as exc:
        raise ConfigError(f"analysis_mode: {exc}") from exc
    if canonical != mode:
        notes.append(f"analysis_mode {mode} -> mode {canonical}")
    return canonical


def _file(old: _Old, folder: Path, notes: list[str]) -> str:
    """The data file, absolute: 2.x resolved relative paths from its config's folder."""
    path = old.get("experimental_data.file_path")
    name = old.peek("experimental_data.data_file_name")
    joined = name and os.path.join(old.peek("experimental_data.data_folder_path", ""), name)
    if path is None or joined is None or os.path.normpath(joined) == os.path.normpath(path):
        old.get("experimental_data.data_folder_path")
        old.get("experimental_data.data_file_name")
        path = path or joined
    else:
        notes.append(f"experimental_data: file_path {path} used; data_folder_path + "
                     f"data_file_name ({joined}) ignored")
    if not path:
        raise ConfigError("experimental_data: neither file_path nor data_folder_path + "
                          "data_file_name names the data file")
    if not os.path.isabs(path):
        resolved = os.path.abspath(folder / path)
        notes.append(f"data file {path} is relative; resolved from the 2.x config's folder, "
                     f"as 2.x did, to {resolved} (homodyne resolves from where it runs)")
        path = resolved
    return path


def _phi_ranges(old: _Old, notes: list[str]) -> tuple[tuple[float, float], ...] | None:
    ranges = old.get("phi_filtering.target_ranges", [])
    if not old.get("phi_filtering.enabled", False) or not ranges:
        return None
    if old.get("phi_filtering.fallback_to_all_angles", False):
        notes.append("phi_filtering.fallback_to_all_angles: not carried; a dataset with no "
                     "angle in phi_ranges is an error here, not a silent switch to all angles")
    return tuple((float(r["min_angle"]), float(r["max_angle"])) for r in ranges)


def _frames(old: _Old) -> tuple[int, int] | None:
    start = old.get("analyzer_parameters.start_frame")
    end = old.get("analyzer_parameters.end_frame")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ConfigError("analyzer_parameters: start_frame and end_frame come as a pair "
                          f"(got start_frame {start}, end_frame {end})")
    return int(start), int(end)


def _bounds(old: _Old, mode: str, notes: list[str]) -> dict[str, list[float]]:
    known = (*registry.names(mode), *(p.name for p in registry.SCALING))
    bounds, priors, skipped = {}, [], []
    for entry in old.get("parameter_space.bounds", []):
        name = _name(entry["name"])
        if name not in known:
            skipped.append(entry["name"])
            continue
        bounds[name] = [float(entry["min"]), float(entry["max"])]
        if {"prior_mu", "prior_sigma"} & set(entry):
            priors.append(name)
    if priors:
        notes.append(f"parameter_space.bounds priors (type, prior_mu, prior_sigma) of "
                     f"{', '.join(priors)}: not carried; CMC priors are centred on the NLSQ "
                     "fit (docs/physics.md)")
    if skipped:
        notes.append(f"parameter_space.bounds of {', '.join(skipped)}: not parameters of mode "
                     f"{mode}, dropped")
    return bounds


def _initial(old: _Old, mode: str, bounds: dict, notes: list[str]) -> tuple[dict, list[str]]:
    """Initial values and fixed names; 2.x started from bound mid-points when values is null."""
    names = [_name(n) for n in old.get("initial_parameters.parameter_names", [])]
    values = old.get("initial_parameters.values")
    ours = registry.names(mode)
    initial = {}
    if values is not None:
        if len(values) != len(names):
            raise ConfigError(f"initial_parameters: {len(values)} values for {len(names)} "
                              "parameter_names")
        initial = {n: float(v) for n, v in zip(names, values, strict=True) if n in ours}
        if other := [n for n in names if n not in ours]:
            notes.append(f"initial_parameters of {', '.join(other)}: not parameters of mode "
                         f"{mode}, dropped")
    fixed_values = old.get("initial_parameters.fixed_parameters", {})
    if isinstance(fixed_values, Mapping):
        initial.update({_name(n): float(v) for n, v in fixed_values.items()})
    fixed = [_name(n) for n in fixed_values]
    active = old.get("initial_parameters.active_parameters")
    if active is not None:
        fixed += [n for n in ours if n not in {_name(a) for a in active} and n not in fixed]
    for p in registry.parameters(mode):
        lo, hi = bounds.get(p.name, (p.lower, p.upper))
        if p.name not in initial and (values is None or not lo <= p.default <= hi):
            initial[p.name] = 0.5 * (lo + hi)
    if values is None:
        notes.append("initial_parameters.values is null: starting at the mid-points of the "
                     "bounds, as 2.x did")
    return initial, [n for n in fixed if n in ours]


def _per_angle(old: _Old, notes: list[str]) -> dict:
    """2.x fits contrast and offset per angle (``individual``) unless anti-degeneracy's
    Fourier mode is on; its ``auto`` is Fourier from 6 angles on, ours from 1 + 2K."""
    anti = "optimization.nlsq.anti_degeneracy"
    if not old.get(f"{anti}.enable", False):
        old.get(anti)  # off: none of its settings apply
        notes.append("per_angle_mode individual (contrast and offset per angle, as in 2.x); "
                     "auto shares one pair over 3 or more angles and fits faster")
        return {"per_angle_mode": "individual"}
    mode = old.get(f"{anti}.per_angle_mode", "auto")
    if mode == "direct":
        return {"per_angle_mode": "individual"}
    order = int(old.get(f"{anti}.fourier.order", 2))
    if mode == "auto":
        notes.append(f"anti_degeneracy.per_angle_mode auto -> fourier (order {order}); 2.x "
                     "switched to Fourier from 6 angles, homodyne from 1 + 2*order")
    return {"per_angle_mode": "fourier", "fourier_order": order}


def _nlsq(old: _Old, notes: list[str]) -> dict:
    nlsq = {}
    if (iterations := old.get("optimization.nlsq.max_iterations")) is not None:
        nlsq["max_iterations"] = int(iterations)
    if (tolerance := old.get("optimization.nlsq.tolerance")) is not None:
        nlsq.update(dict.fromkeys(("ftol", "xtol", "gtol"), float(tolerance)))
    loss = old.get("optimization.nlsq.loss")
    if loss in LOSSES:
        nlsq["loss"] = loss
    elif loss is not None:
        notes.append(f"optimization.nlsq.loss {loss}: not available (choose one of "
                     f"{', '.join(LOSSES)}); using linear")
    start = "optimization.nlsq.multi_start"
    if not old.get(f"{start}.enable", False):
        old.get(start)  # off: none of its settings apply
    else:
        nlsq["multistart"] = max(0, int(old.get(f"{start}.n_starts", 1)) - 1)
        if (seed := old.get(f"{start}.seed")) is not None:
            nlsq["seed"] = int(seed)
    return nlsq


_SAMPLER = {"chains": ("num_chains", "chains"), "warmup": ("num_warmup", "warmup"),
            "samples": ("num_samples", "samples"), "target_accept": ("target_accept_prob",),
            "max_tree_depth": ("max_tree_depth", "max_treedepth"),
            "dense_mass": ("dense_mass_matrix",)}


def _cmc(old: _Old, notes: list[str]) -> dict:
    cmc = {}
    for section in ("optimization.mcmc", "optimization.cmc.per_shard_mcmc"):
        for ours, theirs in _SAMPLER.items():
            for key in theirs:
                if (value := old.get(f"{section}.{key}")) is not None:
                    cmc[ours] = value
    enable = old.get("optimization.cmc.enable")
    if isinstance(enable, bool):
        cmc["enable"] = enable
    elif enable is not None:
        notes.append(f"optimization.cmc.enable {enable} -> true: CMC runs whenever the method "
                     "asks for it, whatever the data size")
    per_shard = old.get("optimization.cmc.sharding.max_points_per_shard")
    if isinstance(per_shard, int) and not isinstance(per_shard, bool):
        notes.append(f"optimization.cmc.sharding.max_points_per_shard {per_shard} dropped: "
                     "cmc.shards: auto runs one shard (full-data NUTS) up to millions of "
                     "points; set cmc.shards to split")
    if (seed := old.get("optimization.cmc.sharding.seed_base")) is not None:
        cmc["seed"] = int(seed)
    if (method := old.get("optimization.method")) is not None:
        notes.append(f"optimization.method {method}: the method is chosen when running "
                     "(homodyne run --method, or the workflow), not in the config")
    return cmc


def migrate(data: Mapping, source: str = "<2.x config>", folder: str | Path = ".") -> Migration:
    """Convert a homodyne 2.x config mapping.

    Args:
        data: the parsed 2.x YAML.
        source: its name, for the header and messages.
        folder: where the 2.x config lives (its relative data paths start there).

    Raises:
        ConfigError: the 2.x config lacks what a config needs here (mode, dt, q, data file)
            or the converted config does not validate; every message names the 2.x key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a homodyne 2.x config mapping")
    old, notes = _Old(data), []
    try:
        mode = _mode(old, notes)
        dt, q = old.get("analyzer_parameters.dt"), old.get("analyzer_parameters.scattering."
                                                           "wavevector_q")
        if dt is None or q is None:
            raise ConfigError("analyzer_parameters: dt and scattering.wavevector_q are needed")
        file = _file(old, Path(folder), notes)
        bounds = _bounds(old, mode, notes)
        initial, fixed = _initial(old, mode, bounds, notes)
        analysis = {"dt": float(dt), "initial": initial, "bounds": bounds, "fixed": fixed,
                    **_per_angle(old, notes)}
        if (gap := old.get("analyzer_parameters.geometry.stator_rotor_gap")) is not None:
            analysis["L"] = float(gap)
        dataset = Dataset(dataset_name(file), file, float(q), _phi_ranges(old, notes),
                          _frames(old))
        sections = {"analysis": analysis, "nlsq": _nlsq(old, notes), "cmc": _cmc(old, notes)}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: not a homodyne 2.x config this can read ({exc!r})") from exc
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    dropped = old.leftovers()
    header = [f"Converted from the homodyne 2.x config {source} by `homodyne config import`.",
              "Changed on the way (review):", *(f"  - {n}" for n in notes),
              "Not carried over:", *(f"  - {d}" for d in dropped or ["nothing"])]
    text = render(mode, [dataset], header=header, **sections)
    try:
        parse_config(yaml.safe_load(text), source=f"{source} (converted)")
    except ConfigError as exc:
        raise ConfigError(f"{exc}\nfix these values in {source} and import again") from exc
    return Migration(text, tuple(dropped), tuple(notes))


def migrate_file(path: str | Path) -> Migration:
    """Read and convert a homodyne 2.x YAML config file (see :func:`migrate`)."""
    path = Path(path)
    return migrate(read_yaml(path, "2.x config"), source=str(path), folder=path.parent)
