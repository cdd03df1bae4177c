"""Load and validate the analysis configuration shared by ``homodyne run`` and the workflow.

Validation has two layers: the JSON Schema ``config.schema.yaml`` (keys, types, allowed
values, defaults filled in) and the checks a schema cannot express (parameter names of the
chosen mode, bounds that contain the initial values).  All problems are collected and
reported together, each naming its key, so one look at the message fixes the file.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from homodyne import params as registry
from homodyne.errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
"""A decimal number as YAML 1.2 writes it: ``7``, ``0.1``, ``1e-3``, ``2.0e6``."""


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads ``1e-3`` and ``2.0e6`` as floats (YAML 1.2), not strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(rf"^{_NUMBER}$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def read_yaml(path: Path, what: str = "config file"):
    """Parse a YAML file with :class:`_Loader`.

    Raises:
        ConfigError: the file cannot be read or is not valid YAML, naming the file.
    """
    try:
        return yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader subclass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
SECTIONS = ("analysis", "nlsq", "cmc")


def _with_defaults(validator_class):
    """A validator that fills ``default`` values of absent properties (jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(Draft202012Validator)


def _schema() -> dict:
    return read_yaml(SCHEMA_PATH)


def _problems(error) -> list[str]:
    """One line per problem of a schema ``error``; an unknown key is named with the closest
    valid key (a typo) or the list of valid keys, instead of the schema's text."""
    where = _key(error.absolute_path)
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return [f"{where}: {error.message}"]
    known = list(error.schema.get("properties", {}))
    lines = []
    for key in error.instance:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = (f"did you mean {close[0]!r}?" if close else
                f"valid keys here: {', '.join(known)}")
        lines.append(f"{_key([*error.absolute_path, key])}: unknown key; {hint}")
    return lines


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True)
class AnalysisConfig:
    """Model and parameter settings of one dataset (the ``analysis`` section)."""

    mode: str
    dt: float
    L: float = registry.DEFAULT_L
    per_angle_mode: str = "auto"
    fourier_order: int = 2
    initial: Mapping[str, float] = field(default_factory=dict)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    sigma: float | tuple[float, ...] | None = None

    def physical_start(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """``(initial, lower, upper)`` of the physical parameters, config over registry."""
        ps = registry.parameters(self.mode)
        init = tuple(self.initial.get(p.name, p.default) for p in ps)
        bounds = [self.bounds.get(p.name, (p.lower, p.upper)) for p in ps]
        return init, tuple(b[0] for b in bounds), tuple(b[1] for b in bounds)

    def scaling_bounds(self, name: str) -> tuple[float, float]:
        """Bounds of ``contrast`` or ``offset``, config over registry."""
        p = registry.CONTRAST if name == "contrast" else registry.OFFSET
        lo, hi = self.bounds.get(name, (p.lower, p.upper))
        return float(lo), float(hi)


@dataclass(frozen=True)
class NLSQConfig:
    """Least-squares settings (the ``nlsq`` section)."""

    loss: str = "linear"
    f_scale: float = 1.0
    max_iterations: int = 200
    ftol: float = 1e-8
    xtol: float = 1e-8
    gtol: float = 1e-8
    multistart: int = 0
    seed: int = 42
    strategy: str = "auto"


@dataclass(frozen=True)
class CMCConfig:
    """Consensus Monte Carlo settings (the ``cmc`` section, docs/physics.md).

    ``shards`` and ``shards_per_job`` are a number or ``"auto"``: the sharding step
    (:func:`homodyne.problem.resolve_shards`) and the workflow resolve ``auto`` because the
    right value depends on the data and the machine.  ``shards: 1`` is full-data NUTS.
    ``method`` is ``auto``, ``nuts`` or ``importance`` (:func:`homodyne.cmc.shard.
    choose_method`); ``importance_draws`` proposal draws for importance sampling.
    """

    enable: bool = True
    method: str = "auto"
    importance_draws: int = 2000
    shards: int | str = "auto"
    shards_per_job: int | str = "auto"
    chains: int = 4
    warmup: int = 100
    samples: int = 200
    target_accept: float = 0.85
    max_tree_depth: int = 10
    dense_mass: bool = True
    prior_width: float = 5.0
    max_divergence_rate: float = 0.1
    seed: int = 42
    sample_sigma: bool = True
    heterogeneity_cv: float = 0.5


@dataclass(frozen=True)
class TwoTimeConfig:
    """Model-free views of the two-time data (the ``twotime`` section, homodyne.twotime)."""

    age_windows: int = 5


@dataclass(frozen=True)
class DatasetConfig:
    """One dataset with its fully resolved settings (global sections + its overrides)."""

    name: str
    file: Path
    q: float
    analysis: AnalysisConfig
    nlsq: NLSQConfig
    cmc: CMCConfig
    phi_ranges: tuple[tuple[float, float], ...] | None = None
    frames: tuple[int, int] | None = None
    frames_exclude: tuple[tuple[int, int], ...] = ()
    mask_nonfinite: bool = False
    twotime: TwoTimeConfig = field(default_factory=TwoTimeConfig)


@dataclass(frozen=True)
class Config:
    """A validated configuration: the raw mapping (defaults filled) and its datasets."""

    source: str
    raw: Mapping[str, Any]
    datasets: tuple[DatasetConfig, ...]

    @property
    def plots(self) -> Mapping[str, Any]:
        """The ``plots`` section: figure settings, read by the plot steps only."""
        return self.raw["plots"]

    @property
    def fail_on(self) -> str:
        """``workflow.fail_on``: which verdicts make a finished Snakemake run exit 1."""
        return self.raw["workflow"]["fail_on"]

    def dataset(self, name: str) -> DatasetConfig:
        for d in self.datasets:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.datasets)
        raise ConfigError(f"{self.source}: no dataset named {name!r} (datasets: {known})")


def _analysis_problems(a: Mapping[str, Any], where: str) -> list[str]:
    """Checks the schema cannot express: names of the mode, bounds containing initial values."""
    mode = registry.canonical_mode(a["mode"])
    names = registry.names(mode)
    scaling = tuple(p.name for p in registry.SCALING)
    problems = []
    for name in a["initial"]:
        if name not in names:
            problems.append(f"{where}.initial.{name}: not a parameter of mode {mode!r} "
                            f"(parameters: {', '.join(names)})")
    for name, (lo, hi) in a["bounds"].items():
        if name not in names + scaling:
            problems.append(f"{where}.bounds.{name}: not a parameter of mode {mode!r} "
                            f"(parameters: {', '.join(names + scaling)})")
        elif not lo < hi:
            problems.append(f"{where}.bounds.{name}: lower {lo} must be below upper {hi}")
    for name in a["fixed"]:
        if name not in names + scaling:
            problems.append(f"{where}.fixed: {name!r} is not a parameter of mode {mode!r}")
    if not problems:
        for p in registry.parameters(mode):
            lo, hi = a["bounds"].get(p.name, (p.lower, p.upper))
            value = a["initial"].get(p.name, p.default)
            if not lo <= value <= hi:
                source = "initial" if p.name in a["initial"] else "default initial value"
                problems.append(f"{where}.initial.{p.name}: {source} {value} is outside its "
                                f"bounds [{lo}, {hi}]; change the value or the bounds")
    return problems


def _merged(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict:
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def _cmc_config(c: Mapping[str, Any]) -> CMCConfig:
    """``CMCConfig`` with whole numbers as ``int`` (JSON Schema accepts ``4.0`` as an integer)."""
    integers = ("shards", "shards_per_job", "chains", "warmup", "samples", "importance_draws",
                "max_tree_depth", "seed")
    return CMCConfig(**{k: int(v) if k in integers and v != "auto" else v
                        for k, v in c.items()})


def _dataset(entry: Mapping[str, Any], raw: Mapping[str, Any]) -> DatasetConfig:
    a = _merged(raw["analysis"], entry.get("analysis"))
    analysis = AnalysisConfig(
        mode=registry.canonical_mode(a["mode"]),
        dt=float(a["dt"]),
        L=float(a["L"]),
        per_angle_mode=a["per_angle_mode"],
        fourier_order=int(a["fourier_order"]),
        initial=MappingProxyType({k: float(v) for k, v in a["initial"].items()}),
        bounds=MappingProxyType({k: (float(v[0]), float(v[1])) for k, v in a["bounds"].items()}),
        fixed=tuple(a["fixed"]),
        sigma=tuple(a["sigma"]) if isinstance(a["sigma"], list) else a["sigma"],
    )
    return DatasetConfig(
        name=entry["name"],
        file=Path(entry["file"]),
        q=float(entry["q"]),
        analysis=analysis,
        nlsq=NLSQConfig(**_merged(raw["nlsq"], entry.get("nlsq"))),
        cmc=_cmc_config(_merged(raw["cmc"], entry.get("cmc"))),
        phi_ranges=(tuple((float(lo), float(hi)) for lo, hi in entry["phi_ranges"])
                    if "phi_ranges" in entry else None),
        frames=tuple(entry["frames"]) if "frames" in entry else None,
        frames_exclude=tuple((int(a), int(b)) for a, b in entry.get("frames_exclude", ())),
        mask_nonfinite=bool(entry.get("mask_nonfinite", False)),
        twotime=TwoTimeConfig(age_windows=int(raw["twotime"]["age_windows"])),
    )


def _numeric_text(error) -> list[tuple]:
    """Paths of the strings that are a number literal where a schema ``error`` (or one it
    contains, as ``oneOf`` does) expected a number or an integer."""
    expected = error.validator_value if error.validator == "type" else ()
    expected = {expected} if isinstance(expected, str) else set(expected)
    found = ([tuple(error.absolute_path)] if expected & {"number", "integer"}
             and isinstance(error.instance, str) and re.fullmatch(_NUMBER, error.instance)
             else [])
    return found + [path for sub in error.context or () for path in _numeric_text(sub)]


def read_numbers(data: Any) -> Any:
    """``data`` with the strings that stand where the schema expects a number, and are a
    number literal, read as :func:`read_yaml` reads them (``"2.0e6"`` -> ``2000000.0``).

    Snakemake loads its config files with a YAML 1.1 reader, which takes ``2.0e6`` and
    ``1e-3`` for strings (its floats need a dot and a signed exponent), and gives
    ``--config`` values inside a mapping as strings; the workflow reads the config that way
    (its documented ``config``), so the same file means the same numbers to both drivers.
    Nothing else changes: any other string stays for the schema to report with its key.
    """
    out = copy.deepcopy(data)
    for path in {p for e in Draft202012Validator(_schema()).iter_errors(out)
                 for p in _numeric_text(e)}:
        parent = out
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = yaml.load(parent[path[-1]], Loader=_Loader)
    return out


def check_config(data: dict) -> tuple[dict, list[str]]:
    """Validate a configuration mapping without raising, for callers that report config
    problems together with others (``homodyne validate`` adds the datasets' problems).

    Returns:
        ``(copy of data with schema defaults filled in, problems)``; ``problems`` is empty
        when the config is valid.  Each problem names its key path.
    """
    raw = copy.deepcopy(data)
    errors = sorted(_Validator(_schema()).iter_errors(raw), key=lambda e: list(e.path))
    problems = [line for e in errors for line in _problems(e)]
    if not problems:
        global_problems = _analysis_problems(raw["analysis"], "analysis")
        problems += global_problems
        names = [d["name"] for d in raw["datasets"]]
        for k, entry in enumerate(raw["datasets"]):
            if entry["name"] in names[:k]:
                problems.append(f"datasets[{k}].name: {entry['name']!r} is used more than once")
            if "frames" in entry and entry["frames"][0] > entry["frames"][1]:
                problems.append(f"datasets[{k}].frames: start {entry['frames'][0]} is after "
                                f"end {entry['frames'][1]}")
            for r, (a, b) in enumerate(entry.get("frames_exclude", ())):
                if a > b:
                    problems.append(f"datasets[{k}].frames_exclude[{r}]: start {a} is after "
                                    f"end {b}")
            if entry.get("analysis") and not global_problems:
                merged = _merged(raw["analysis"], entry["analysis"])
                problems += _analysis_problems(merged, f"datasets[{k}].analysis")
    return raw, list(dict.fromkeys(problems))


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate a configuration mapping and resolve every dataset.

    Raises:
        ConfigError: listing every problem found, each with its key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'datasets' and 'analysis', "
                          f"got {type(data).__name__}")
    raw, problems = check_config(data)
    if problems:
        listing = "\n  - ".join(problems)
        raise ConfigError(f"{source}: invalid configuration:\n  - {listing}")
    return Config(source=source, raw=raw,
                  datasets=tuple(_dataset(d, raw) for d in raw["datasets"]))


def load_config(path: str | Path) -> Config:
    """Read a YAML config file and validate it (see :func:`parse_config`)."""
    path = Path(path)
    return parse_config(read_yaml(path), source=str(path))
