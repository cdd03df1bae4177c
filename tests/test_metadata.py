"""What a scientist expects beside the code: a license matching the package metadata, and a
citation file whose references the documentation cites the same way."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT

import homodyne

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_license_file_is_the_license_pyproject_declares():
    assert PYPROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.splitlines()[0] == "MIT License"
    assert "Permission is hereby granted, free of charge" in text


def test_citation_file_is_valid_and_matches_the_package():
    for key in ("cff-version", "message", "title", "authors", "preferred-citation"):
        assert key in CITATION, key
    assert CITATION["version"] == homodyne.__version__
    assert CITATION["license"] == PYPROJECT["license"]
    for work in (CITATION["preferred-citation"], *CITATION["references"]):
        assert {"type", "title", "authors", "journal", "year", "doi"} <= set(work), work
        assert all("family-names" in a or "name" in a for a in work["authors"])


def test_every_cited_doi_is_cited_in_the_docs_and_the_readme():
    """One set of references: CITATION.cff, docs/physics.md and the README agree."""
    dois = {CITATION["preferred-citation"]["doi"]} | {w["doi"] for w in CITATION["references"]}
    physics = (ROOT / "docs" / "physics.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for doi in dois:
        assert f"doi:{doi}" in physics and f"doi:{doi}" in readme, doi
    cited = set(re.findall(r"doi:(10\.\S+?)[.,)]?(?:\s|$)", physics + readme))
    assert cited == dois
