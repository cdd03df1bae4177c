"""The two measured matrices of tests/data/real, as a new user runs them (issue 21, item 3):
import, the config `homodyne config` writes, a run; the verdict names one cause and one
remedy (CHX: an ageing sample whose D_offset the data do not determine; yolk: a stationary
sample); the remedy pasted under the dataset's entry, a second run ends `ok` or a `warning`
whose one diagnosis is a property of the data.

CHX: q 0.005 1/Å, dt 0.1 s; yolk plasma: q 0.022, dt 0.1 s (tests/data/real/README.md),
stored as c2 - 1 with triangles that disagree (import one triangle, add the baseline), as
README "Can I trust this fit?" says.  The first run is NLSQ only (what it diagnoses needs
no posterior; the posterior of a degenerate valley is slow to sample, which is why the
remedy comes first); the second is the default `--method both` with the template's CMC
settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homodyne import layout, steps
from homodyne.cli import main
from homodyne.cmc import read_shard
from homodyne.config import load_config

REAL = Path(__file__).parent / "data" / "real"
REMEDY = {
    # alpha -0.20 ± 0.20 with D_offset free, -0.52 ± 0.05 with it fixed: the sample ages,
    # D_offset is the parameter too many, and D0 (79,000 ± 11,000 then) reaches its bound
    "chx": ("degenerate_D_offset", "analysis: {fixed: [D_offset], initial: {D_offset: 0.0}, "
            "bounds: {D0: [100.0, 1000000.0]}}"),
    # alpha 0.003 ± 3.2, and 0.09 ± 0.10 with D_offset fixed: stationary
    "yolk": ("degenerate_alpha",
             "analysis: {fixed: [alpha, D_offset], initial: {alpha: 0.0, D_offset: 0.0}}"),
}

CASES = {
    "chx": ["chx_two_time.npy", "--q", "0.005", "--dt", "0.1"],
    "yolk": ["yolk_plasma_two_time.npy", "--q", "0.022", "--dt", "0.1", "--triangle", "upper",
             "--add-baseline", "1.0"],
}


def _summary(out: Path, name: str) -> dict:
    return json.loads(Path(layout.dataset(out, name).summary).read_text())


def _paste(config: Path, name: str, line: str) -> None:
    """Put ``line`` under the dataset's entry, as a user pastes the printed remedy."""
    text = config.read_text()
    entry = f"  - name: {name}"
    head, tail = text.split(entry, 1)
    first, rest = tail.split("\n", 1)
    config.write_text(f"{head}{entry}{first}\n    {line}\n{rest}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_matrix_reaches_a_usable_answer_by_one_printed_remedy(name, tmp_path, capsys):
    args = CASES[name]
    h5 = tmp_path / f"{name}.h5"
    assert main(["import-matrix", str(REAL / args[0]), *args[1:], "--out", str(h5)]) == 0
    config = tmp_path / f"{name}.yaml"
    assert main(["config", "--mode", "static", "--datasets", str(h5), "--out",
                 str(config)]) == 0
    assert "  dt: 0.1 " in config.read_text()  # the frame time of both (CHANGE ME: right here)

    # 1. the defaults: one cause (the offset too many, or a stationary sample), one remedy
    main(["run", str(config), "--output", str(tmp_path / "first")])
    printed = capsys.readouterr().out
    first = _summary(tmp_path / "first", name)["quality"]
    assert first["verdict"] != "ok"
    cause, remedy = REMEDY[name]
    assert [d["cause"] for d in first["diagnosis"]] == [cause]
    (diagnosis,) = first["diagnosis"]
    assert diagnosis["remedy_text"] == remedy
    assert f"remedy (paste under the dataset's entry in the config): {remedy}" in printed
    explained = set(diagnosis["explains"])
    assert {f"{r['check']} {r['parameter']}" if r["parameter"] else r["check"]
            for r in first["reasons"]} <= explained  # nothing left with its own hint
    # the checks' own hints, which pull different ways, are not printed
    assert "widen the bound if the physics allows" not in printed
    assert "narrow the bounds on physical grounds" not in printed

    # the degenerate fit's shards tell NUTS not to continue: more draws cannot cure it
    ds = load_config(config).dataset(name)
    out = layout.dataset(tmp_path / "first", name)
    (shard,) = steps.shard_step(ds, out.filtered, out.nlsq_json, tmp_path / "shards")
    assert read_shard(shard).no_continuation == diagnosis["finding"].split(":", 1)[0]

    # 2. the remedy pasted once: ok, or a warning that is a property of the data
    _paste(config, name, diagnosis["remedy_text"])
    main(["run", str(config), "--method", "both", "--output", str(tmp_path / "second")])
    second = _summary(tmp_path / "second", name)["quality"]
    assert second["verdict"] in ("ok", "warning"), second
    if second["verdict"] == "warning":
        (d,) = second["diagnosis"]
        assert d["remedy"] == {} and "property of the data" in d["finding"]
        assert {f"{r['check']} {r['parameter']}" if r["parameter"] else r["check"]
                for r in second["reasons"]} <= set(d["explains"])
