"""Shared fixtures: the reference data the tests read lives in ``tests/data`` (see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from capabilities import check_marks

from homodyne import runtime

runtime.configure()  # float64 and one JAX device per CPU, before any test touches JAX

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def golden_cases():
    return json.loads((DATA / "reference" / "golden_c2.json").read_text())["cases"]


def pytest_runtest_setup(item):
    """A test marked ``root``, ``scheduler`` or ``browser`` skips where the machine lacks
    that (saying what and how to provide it), and fails instead in CI (tests/capabilities.py)."""
    check_marks(mark.name for mark in item.iter_markers())
