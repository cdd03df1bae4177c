"""Shared fixtures: the ../shared folder beside the checkout holds reference data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homodyne import runtime

runtime.configure()  # float64 and one JAX device per CPU, before any test touches JAX

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; its absence is a setup error, not a reason to skip."""
    assert SHARED.is_dir(), f"expected the shared reference folder at {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def golden_cases(shared_dir):
    return json.loads((shared_dir / "reference" / "golden_c2.json").read_text())["cases"]
