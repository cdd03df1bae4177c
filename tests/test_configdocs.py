"""config/README.md is generated from the config schema and kept equal to it."""

from __future__ import annotations

import copy

from conftest import ROOT

from homodyne import configdocs
from homodyne.config import SCHEMA_PATH, read_yaml


def test_committed_config_readme_is_the_generator_output():
    committed = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    assert committed == configdocs.render(), (
        f"config/README.md is out of date with the schema; run `{configdocs.COMMAND}`")


def test_every_config_key_has_a_description():
    assert configdocs.undocumented() == []


def test_every_key_of_every_section_is_in_the_page():
    schema = read_yaml(SCHEMA_PATH)
    text = configdocs.render(schema)
    for section in ("analysis", "nlsq", "cmc"):
        for key in schema["$defs"][section]["properties"]:
            assert f"| `{key}` |" in text.split(f"## `{section}`", 1)[1], (section, key)
    for key in schema["properties"]["plots"]["properties"]:
        assert f"| `{key}` |" in text.split("## `plots`", 1)[1]


def test_a_schema_change_changes_the_page_and_the_check_notices(tmp_path, capsys):
    schema = copy.deepcopy(read_yaml(SCHEMA_PATH))
    schema["$defs"]["cmc"]["properties"]["new_key"] = {
        "description": "a key added to the schema", "type": "integer", "minimum": 3}
    schema["properties"]["cmc"]["properties"]["new_key"] = {"default": 7}
    assert "| `new_key` | integer >= 3 | `7` | a key added to the schema |" in (
        configdocs.render(schema))
    out = tmp_path / "README.md"
    out.write_text(configdocs.render(schema), encoding="utf-8")
    assert configdocs.main(["--check", "--out", str(out)]) == 1
    assert configdocs.COMMAND in capsys.readouterr().err
    assert configdocs.main(["--out", str(out)]) == 0
    assert configdocs.main(["--check", "--out", str(out)]) == 0


def test_an_undescribed_key_is_reported():
    schema = copy.deepcopy(read_yaml(SCHEMA_PATH))
    schema["$defs"]["nlsq"]["properties"]["bare"] = {"type": "number"}
    assert configdocs.undocumented(schema) == ["nlsq.bare"]
