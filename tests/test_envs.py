"""The conda environment for --sdm conda pins exactly what pyproject.toml pins."""

from __future__ import annotations

import tomllib

import yaml
from conftest import ROOT


def _pins(lines):
    return {name.lower(): version for name, _, version in (x.partition("==") for x in lines)
            if version}


def test_conda_env_matches_pyproject():
    env = yaml.safe_load((ROOT / "envs/homodyne.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _pins(pip) == _pins(project["dependencies"])
    assert python == "python=3.12" and project["requires-python"] == ">=3.12"
    assert "--editable .." in pip  # the package itself, relative to envs/


def test_lock_file_agrees_with_pyproject():
    lock = _pins(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                 if not line.startswith("#"))
    project = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                    ["dependencies"])
    project.pop("nlsq")  # installed with --no-deps by make setup
    assert {k: lock.get(k) for k in project} == project
