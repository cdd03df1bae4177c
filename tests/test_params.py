import dataclasses

import pytest
from conftest import ROOT

from homodyne import params
from homodyne.config import SCHEMA_PATH, read_yaml


def test_modes_have_spec_order():
    assert params.names("static") == ("D0", "alpha", "D_offset")
    assert params.names("laminar_flow") == (
        "D0", "alpha", "D_offset", "gamma_dot_t0", "beta", "gamma_dot_t_offset", "phi0",
    )
    assert params.names("heterodyne") == (
        "D0_ref", "alpha_ref", "D_offset_ref", "D0_sample", "alpha_sample", "D_offset_sample",
        "v0", "beta", "v_offset", "f0", "f1", "f2", "f3", "phi0",
    )


@pytest.mark.parametrize("alias", ["static_isotropic", "static_anisotropic"])
def test_aliases_map_to_static(alias):
    assert params.canonical_mode(alias) == "static"
    assert params.names(alias) == params.names("static")


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown mode 'laminar'.*laminar_flow"):
        params.canonical_mode("laminar")


@pytest.mark.parametrize("mode", ["static", "laminar_flow", "heterodyne"])
def test_defaults_inside_bounds_and_documented(mode):
    for p in params.parameters(mode):
        assert p.lower <= p.default <= p.upper, p.name
        assert p.unit and p.meaning


def test_spec_values():
    lam = {p.name: p for p in params.parameters("laminar_flow")}
    assert (lam["D0"].default, lam["D0"].lower, lam["D0"].upper) == (1e3, 1e2, 1e5)
    assert (lam["gamma_dot_t0"].lower, lam["gamma_dot_t0"].upper) == (1e-6, 0.5)
    het = {p.name: p for p in params.parameters("heterodyne")}
    assert (het["v0"].default, het["v0"].lower, het["v0"].upper) == (1e3, 1e-6, 1e4)
    assert (het["v_offset"].lower, het["v_offset"].upper) == (-100.0, 100.0)
    assert params.bounds("static") == ((1e2, -2.0, -1e5), (1e5, 2.0, 1e5))


def test_registry_is_immutable():
    with pytest.raises(TypeError):
        params.MODES["new"] = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.parameters("static")[0].default = 5.0
    assert isinstance(params.parameters("static"), tuple)


def test_every_alias_is_accepted_by_the_schema_and_explained():
    """The 2.x mode names: in the schema's enum, named in its description of `mode` (so in
    config/README.md), in the README's and docs/physics.md's account of the models."""
    mode = read_yaml(SCHEMA_PATH)["$defs"]["analysis"]["properties"]["mode"]
    readme = (ROOT / "README.md").read_text().split("\n## The models\n", 1)[1]
    physics = (ROOT / "docs" / "physics.md").read_text()
    for alias, canonical in params.ALIASES.items():
        assert alias in mode["enum"] and alias in mode["description"]
        assert f"names of {canonical}" in mode["description"]
        assert f"`{alias}`" in readme and f"`{alias}`" in physics


def test_the_stator_rotor_gap_has_one_default():
    """The schema's default of ``analysis.L`` (YAML cannot import it) and every signature
    that defaults L are the registry's DEFAULT_L, and no module assigns the number itself."""
    import inspect
    import re

    from homodyne.cli import build_parser
    from homodyne.config import AnalysisConfig
    from homodyne.data import simulate
    from homodyne.physics import compute_c2, compute_c2_block, compute_c2_points

    analysis = read_yaml(SCHEMA_PATH)["properties"]["analysis"]["properties"]
    assert analysis["L"]["default"] == params.DEFAULT_L == AnalysisConfig("static", 0.1).L
    for function in (compute_c2, compute_c2_block, compute_c2_points, simulate):
        assert inspect.signature(function).parameters["L"].default == params.DEFAULT_L
    assert build_parser().parse_args(
        ["simulate", "--mode", "static", "--phi", "0", "--frames", "10", "--dt", "0.1",
         "--q", "0.005", "--out", "x.h5"]).L == params.DEFAULT_L
    written = [str(p) for p in (ROOT / "homodyne").rglob("*.py") if p.name != "params.py"
               and re.search(r"=\s*(?:2(?:\.0*)?e\+?0*6|2_?000_?000(?:\.0*)?)\b", p.read_text())]
    assert not written, written
