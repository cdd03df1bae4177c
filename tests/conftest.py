"""Shared fixtures: the reference data the tests read lives in ``tests/data`` (see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homodyne import runtime

runtime.configure()  # float64 and one JAX device per CPU, before any test touches JAX

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def golden_cases():
    return json.loads((DATA / "reference" / "golden_c2.json").read_text())["cases"]
