"""`homodyne config`: commented starting configs that parse, validate and cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homodyne import params as registry
from homodyne.cli import main
from homodyne.config import parse_config, read_yaml
from homodyne.data import simulate
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
