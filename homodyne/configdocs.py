"""``config/README.md``: every config key, generated from the config schema.

The Snakemake workflow catalog expects a ``config/README.md`` that documents the config.  It
is written from ``homodyne/config.schema.yaml`` (keys, types, allowed values, defaults and
descriptions), the schema that validates every config, so the page cannot drift from what
the workflow accepts; a test keeps the committed file equal to :func:`render`'s output.

    python -m homodyne.configdocs            # rewrite config/README.md
    python -m homodyne.configdocs --check    # exit 1 when config/README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from homodyne import params as registry
from homodyne.config import SCHEMA_PATH, read_yaml
from homodyne.io import write_atomic

README = Path(__file__).resolve().parents[1] / "config" / "README.md"
COMMAND = "python -m homodyne.configdocs"

_SECTIONS = {
    "analysis": "The physical model, the frame time and the fit parameters' start values, "
                "bounds and fixed set.",
    "nlsq": "The least-squares fit (nlsq's trust-region reflective solver).",
    "cmc": "Bayesian uncertainty by Consensus Monte Carlo: NUTS on data shards, combined "
           "(docs/physics.md).",
    "plots": "Figures; changing these redraws the figures only.",
    "workflow": "How a Snakemake run ends: it prints one verdict line per dataset last; "
                "`fail_on` chooses which verdicts also make it exit 1.",
}


def _resolve(spec: Mapping, schema: Mapping) -> Mapping:
    """``spec`` with a local ``$ref`` replaced by its target."""
    ref = spec.get("$ref")
    if ref is None:
        return spec
    target: Mapping = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _bounds(spec: Mapping) -> str:
    limits = [(">=", spec.get("minimum")), (">", spec.get("exclusiveMinimum")),
              ("<=", spec.get("maximum")), ("<", spec.get("exclusiveMaximum"))]
    return ", ".join(f"{op} {value:g}" for op, value in limits if value is not None)


def describe_type(spec: Mapping, schema: Mapping) -> str:
    """What a value of ``spec`` may be, in words: ``integer >= 1``, ``one of `a`, `b```."""
    spec = _resolve(spec, schema)
    if "oneOf" in spec:
        return " or ".join(describe_type(s, schema) for s in spec["oneOf"])
    if "enum" in spec:
        return "one of " + ", ".join(f"`{v}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type")
    if kind == "array":
        items = describe_type(spec.get("items", {}), schema)
        n_min, n_max = spec.get("minItems"), spec.get("maxItems")
        if n_min == n_max == 2:
            return f"pair [{items}, {items}]"
        unique = ", no repeats" if spec.get("uniqueItems") else ""
        least = f", at least {n_min}" if n_min else ""
        return f"list of {items}{least}{unique}"
    if kind == "object":
        values = spec.get("additionalProperties")
        if isinstance(values, Mapping):
            return f"mapping: parameter name → {describe_type(values, schema)}"
        return "mapping"
    text = {"number": "number", "integer": "integer", "boolean": "`true` or `false`",
            "string": "text", "null": "`null`"}.get(kind, str(kind))
    bounds = _bounds(spec)
    if "pattern" in spec:
        bounds = (bounds + ", " if bounds else "") + f"matching `{spec['pattern']}`"
    return f"{text} {bounds}".strip() if bounds else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _default(value) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if value in ({}, []):
        return "empty"
    return f"`{value}`"


def _table(keys: Mapping, schema: Mapping, defaults: Mapping, required) -> list[str]:
    rows = ["| key | value | default | meaning |", "|---|---|---|---|"]
    for key, spec in keys.items():
        if key in required:
            default = "**required**"
        elif "default" in defaults.get(key, {}):
            default = _default(defaults[key]["default"])
        else:
            default = "—"
        meaning = _resolve(spec, schema).get("description", "")
        rows.append(f"| `{key}` | {_cell(describe_type(spec, schema))} | {default} | "
                    f"{_cell(meaning)} |")
    return rows


def undocumented(schema: Mapping | None = None) -> list[str]:
    """Config keys without a description (every key must say what it does)."""
    schema = schema or read_yaml(SCHEMA_PATH)
    missing = []
    dataset_keys = schema["properties"]["datasets"]["items"]["properties"]
    for key, spec in dataset_keys.items():
        if "$ref" not in spec and "description" not in spec:
            missing.append(f"datasets[].{key}")
    for section in _SECTIONS:
        keys = _resolve(_section_spec(schema, section), schema).get("properties", {})
        missing += [f"{section}.{key}" for key, spec in keys.items()
                    if "description" not in _resolve(spec, schema)]
    return missing


def _section_spec(schema: Mapping, section: str) -> Mapping:
    """The key definitions of a top-level section (its ``$defs`` entry, if it has one)."""
    return schema["$defs"].get(section) or schema["properties"][section]


def render(schema: Mapping | None = None) -> str:
    """The text of ``config/README.md`` for ``schema`` (default: the package's)."""
    schema = schema or read_yaml(SCHEMA_PATH)
    top = schema["properties"]
    dataset = top["datasets"]["items"]
    lines = [
        "# Configuration",
        "",
        f"<!-- Generated from homodyne/config.schema.yaml by `{COMMAND}`. Do not edit:",
        "     change the schema and run the command; tests/test_configdocs.py fails when this",
        "     file and the schema differ. -->",
        "",
        _cell(schema["description"]),
        "",
        "Start from `config/config.yaml` (the built-in demo), from",
        "`config/templates/<mode>.yaml`, or from `homodyne config --mode MODE --datasets FILE.h5`",
        "(every key with its default and meaning). Check a config with",
        "`homodyne validate FILE`; run it with `homodyne run FILE` or",
        "`snakemake --profile profiles/local --configfile FILE`.",
        "",
        "Top-level sections: " + ", ".join(
            f"`{k}`" + (" (required)" if k in schema.get("required", ()) else "")
            for k in top) + ". Unknown keys are an error.",
        "",
        "## `datasets`",
        "",
        "A list with one entry per HDF5 file and q. Each entry:",
        "",
        *_table({k: v for k, v in dataset["properties"].items() if "$ref" not in v}, schema,
                dataset["properties"], dataset.get("required", ())),
        "",
        "An entry may also carry its own " + ", ".join(
            f"`{k}`" for k, v in dataset["properties"].items() if "$ref" in v)
        + " mapping: any key of those sections, overriding the top-level value for this"
        " dataset only.",
    ]
    for section, about in _SECTIONS.items():
        spec = _section_spec(schema, section)
        keys = _resolve(spec, schema).get("properties", {})
        required = top[section].get("required", ())
        lines += ["", f"## `{section}`" + (" (required)" if section in schema["required"]
                                           else ""), "", about, "",
                  *_table(keys, schema, top[section].get("properties", {}), required)]
    lines += ["", *_parameters()]
    return "\n".join(lines)


def _parameters() -> list[str]:
    """The parameter names ``analysis.initial``, ``bounds`` and ``fixed`` accept, per mode,
    from the registry (docs/physics.md has the model)."""
    lines = ["## Parameters by mode", "",
             "The names `analysis.initial`, `analysis.bounds` and `analysis.fixed` accept, "
             "with the default start value and bounds used when the config gives none "
             "(docs/physics.md).", ""]
    for mode, ps in (*registry.MODES.items(), ("every mode, per angle", registry.SCALING)):
        lines += [f"### {mode}" if mode in registry.MODES else f"### Scaling ({mode})", "",
                  "| name | unit | default | bounds | meaning |", "|---|---|---|---|---|"]
        lines += [f"| `{p.name}` | {'—' if p.unit == '-' else p.unit} | {p.default:g} | "
                  f"[{p.lower:g}, {p.upper:g}] | {p.meaning} |" for p in ps]
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when {README.name} differs from the schema's text")
    parser.add_argument("--out", type=Path, default=README, help="file to write or check")
    args = parser.parse_args(argv)
    missing = undocumented()
    if missing:
        print(f"{SCHEMA_PATH}: keys without a description: {', '.join(missing)}",
              file=sys.stderr)
        return 1
    text = render()
    if args.check:
        if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out} is out of date with {SCHEMA_PATH.name}; run `{COMMAND}`",
                  file=sys.stderr)
            return 1
        return 0
    write_atomic(args.out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
