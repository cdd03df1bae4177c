"""The repository stands on its own: a fresh clone needs nothing beside it.

No tracked text file may point at the folder of reference material the project started from
(a ``shared`` folder beside the checkout), at its specification by section number, or at an
absolute path on the machine it was developed on; the tests read their data from
``tests/data`` only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Built by concatenation so that this file does not match itself.
FORBIDDEN = ["../" + "shared", "shared/" + "SPEC", "SPEC" + " §", "SPEC" + ".md",
             "/work/" + "shared", "shared/" + "data/real", "shared/" + "reference"]


def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    paths = [ROOT / p for p in out.stdout.decode().split("\0") if p]
    texts = []
    for path in paths:
        if not path.is_file():
            continue
        head = path.read_bytes()[:8192]
        if b"\0" not in head:
            texts.append(path)
    return texts


def test_no_pointer_outside_the_repository():
    files = tracked_text_files()
    assert len(files) > 50 and ROOT / "homodyne" / "cli.py" in files
    hits = []
    for path in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            hits += [f"{path.relative_to(ROOT)}:{n}: {word!r}" for word in FORBIDDEN
                     if word in line]
    assert not hits, "pointers outside the repository:\n" + "\n".join(hits)


def test_reference_data_is_tracked_in_tests_data():
    tracked = {p.relative_to(ROOT).as_posix() for p in tracked_text_files()}
    assert "tests/data/reference/golden_c2.json" in tracked
    assert "tests/data/README.md" in tracked
    for doc in ("physics", "data-formats", "outputs"):
        assert f"docs/{doc}.md" in tracked
