"""`homodyne config`: commented starting configs that parse, validate and cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from homodyne import params as registry
from homodyne.cli import main
from homodyne.cmc.priors import MAX_WIDTH_FRACTION, MIN_WIDTH_FRACTION
from homodyne.config import SCHEMA_PATH, parse_config, read_yaml
from homodyne.data import simulate
from homodyne.search import LOCAL_STARTS
from homodyne.templates import PLACEHOLDER_FILE, generate, scalar

ROOT = Path(__file__).resolve().parents[1]
MODES = ("static", "laminar_flow", "heterodyne")


@pytest.mark.parametrize("mode", MODES)
def test_committed_template_is_the_generator_output(mode):
    committed = ROOT / "config" / "templates" / f"{mode}.yaml"
    assert committed.read_text(encoding="utf-8") == generate(mode), (
        f"{committed} is stale; regenerate with "
        f"`homodyne config --mode {mode} --out config/templates/{mode}.yaml`")


@pytest.mark.parametrize("mode", MODES)
def test_template_validates_with_every_parameter_and_its_registry_values(mode, tmp_path):
    text = generate(mode)
    for data in (yaml.safe_load(text), read_yaml(_write(tmp_path / "c.yaml", text))):
        config = parse_config(data)  # YAML 1.1 (PyYAML, Snakemake) and our loader agree
        ds = config.datasets[0]
        assert ds.file == Path(PLACEHOLDER_FILE) and ds.analysis.mode == mode
        for p in registry.parameters(mode):
            assert ds.analysis.initial[p.name] == p.default
            assert ds.analysis.bounds[p.name] == (p.lower, p.upper)
            assert f"{p.name}: " in text
        assert config.raw["nlsq"] == parse_config(_minimal(mode)).raw["nlsq"]  # defaults shown
        assert config.raw["cmc"] == parse_config(_minimal(mode)).raw["cmc"]


@pytest.mark.parametrize("mode", MODES)
def test_every_key_is_explained_on_its_line(mode):
    text = generate(mode)
    keyed = [line for line in text.splitlines() if line.startswith(" ") and ":" in line]
    unexplained = [line for line in keyed if " # " not in line]
    assert keyed and not unexplained
    assert "CHANGE ME" in text.split("file:")[1].splitlines()[0]  # the placeholder is marked


def _descriptions(schema) -> dict[str, str]:
    """Every key's description in the schema, by dotted name."""
    out = {}
    for section in ("analysis", "nlsq", "cmc"):
        for key, spec in schema["$defs"][section]["properties"].items():
            out[f"{section}.{key}"] = spec.get("description", "")
    for key, spec in schema["properties"]["datasets"]["items"]["properties"].items():
        out[f"datasets.{key}"] = spec.get("description", "")
    for section in ("twotime", "plots", "workflow"):
        for key, spec in schema["properties"][section]["properties"].items():
            out[f"{section}.{key}"] = spec.get("description", "")
    return out


def test_no_description_states_a_default_by_hand():
    """Defaults come from the schema's ``default`` (filled in by validation, shown by the
    template and config/README.md), never from a description's words, which would not
    follow a change of the default."""
    stated = {k: d for k, d in _descriptions(read_yaml(SCHEMA_PATH)).items()
              if re.search(r"\bdefaults? (?:is |of )?(?:true|false|null|-?\d)", d)}
    assert not stated


@pytest.mark.parametrize("mode", MODES)
def test_every_default_a_comment_states_is_the_default(mode):
    """A line `key: value  # ...; default X` (or its commented-out example) of the template
    states the default validation fills in."""
    text = generate(mode)
    filled = parse_config(_minimal(mode)).raw
    entry = filled["datasets"][0]
    checked = 0
    for line in text.splitlines():
        m = re.match(r"\s*(?:- |# )?(\w+): .* # .*\bdefault (true|false|null|-?[\d.e+-]+)$",
                     line)
        if m:
            key, stated = m.groups()
            actual = entry[key] if key in entry else next(
                filled[s][key] for s in ("analysis", "nlsq", "cmc") if key in filled[s])
            assert yaml.safe_load(stated) == actual, line
            checked += 1
    assert checked >= 1  # mask_nonfinite's line at least


def test_numbers_in_descriptions_are_the_code_constants():
    """The descriptions that quote a number of the code (the global search's starts, the
    prior's clipping) quote the constant itself; so do the README's config comments."""
    d = _descriptions(read_yaml(SCHEMA_PATH))
    starts = 2 + LOCAL_STARTS  # the configured and the data-driven start, and those around it
    assert (f"besides the {starts} of the global search (configured, data-driven, "
            f"{LOCAL_STARTS} around it)") in d["nlsq.multistart"]
    low, high = f"{MIN_WIDTH_FRACTION:.0%}", f"{MAX_WIDTH_FRACTION:.0%}"
    assert f"[{low}, {high}] of the bounds" in d["cmc.prior_width"]
    readme = (ROOT / "README.md").read_text()
    assert f"(the search always runs {starts})" in readme
    assert f"(clipped to {low[:-1]}-{high[:-1]} % of the bounds)" in readme


def test_dataset_entries_from_files(tmp_path):
    a = simulate(tmp_path / "run 1.h5", mode="static", phi=[0.0, 90.0], n_frames=12, dt=0.1,
                 q=0.0123, seed=1)
    b = simulate(tmp_path / "sub" / "run 1.hdf", mode="static", phi=[0.0], n_frames=8,
                 dt=0.1, q=0.02, seed=1, layout="legacy")
    broken = tmp_path / "broken.h5"
    broken.write_text("not hdf5")
    text = generate("static", [a, b, broken])
    entries = yaml.safe_load(text)["datasets"]
    assert [e["name"] for e in entries] == ["run_1", "run_1_2", "broken"]
    assert [e["file"] for e in entries] == [str(a), str(b), str(broken)]
    assert [e["q"] for e in entries[:2]] == [0.0123, 0.02]
    assert "12 frames" in text and "legacy file" in text
    assert "could not read q" in text and "not an HDF5 file" in text
    assert entries[2]["q"] > 0  # placeholder, marked
    parse_config(yaml.safe_load(text))


@pytest.mark.parametrize("value", [1e-8, 2.0e6, 1e16, -3.5e-12, 0.0, 7, True, None, "yes",
                                   "1.5", "a b.h5", "x: y", "Å²/s", [[-10.0, 10.0]]])
def test_scalar_reads_back_as_written(value):
    assert yaml.safe_load(f"k: {scalar(value)}")["k"] == value


def test_cli_prints_or_writes(tmp_path, capsys):
    assert main(["config", "--mode", "heterodyne"]) == 0
    assert capsys.readouterr().out == generate("heterodyne")
    out = tmp_path / "new" / "c.yaml"
    assert main(["config", "--mode", "static", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == generate("static")
    assert not list(out.parent.glob("*.tmp"))


def test_cli_without_mode_is_an_error(capsys):
    assert main(["config"]) == 2
    assert capsys.readouterr().err.startswith("homodyne: error:")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _minimal(mode: str) -> dict:
    return {"datasets": [{"name": "x", "file": "x.h5", "q": 0.01}],
            "analysis": {"mode": mode, "dt": 0.1}}
