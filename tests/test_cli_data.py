"""``homodyne simulate`` and ``homodyne import-matrix``: they write files ``load`` reads, and on
bad input they exit 2 with a one-line message and leave no file (nor temp file) behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from homodyne.cli import main
from homodyne.data import load

REAL = Path(__file__).parent / "data" / "real"  # the real matrices, see its README

SIMULATE = ["simulate", "--mode", "laminar_flow", "--phi", "0", "45", "90", "--frames", "30",
            "--dt", "0.1", "--q", "0.0054"]


def run(capsys, argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_simulate_writes_file_and_truth(tmp_path, capsys):
    out = tmp_path / "sim" / "demo.h5"
    rc, stdout, _ = run(capsys, [*SIMULATE, "--param", "D0=2e4", "--param", "beta=0.1",
                                 "--contrast", "0.2", "0.3", "0.4", "--noise", "0.005",
                                 "--seed", "3", "--layout", "legacy", "--half", "lower",
                                 "--out", out])
    assert rc == 0 and str(out) in stdout
    truth = json.loads((tmp_path / "sim" / "demo.truth.json").read_text())
    assert truth["parameters"]["D0"] == 2e4 and truth["parameters"]["beta"] == 0.1
    assert truth["contrast"] == [0.2, 0.3, 0.4] and truth["offset"] == 1.0
    assert (truth["layout"], truth["half"], truth["seed"]) == ("legacy", "lower", 3)
    data = load(out, q=0.0054, dt=0.1)
    assert data.c2.shape == (3, 29, 29) and data.provenance.layout == "legacy"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "D9=1"], "unknown parameter(s) D9"),
        (["--param", "D0"], "--param expects NAME=VALUE"),
        (["--param", "D0=fast"], "--param expects NAME=VALUE"),
        (["--dt", "0"], "dt must be"),
        (["--frames", "3"], "n_frames must be an integer >= 5"),
        (["--mode", "brownian"], "unknown mode 'brownian'"),
        (["--contrast", "0.1", "0.2"], "one per angle (3)"),
    ],
)
def test_simulate_bad_input(tmp_path, capsys, extra, message):
    rc, stdout, stderr = run(capsys, [*SIMULATE, *extra, "--out", tmp_path / "sub" / "x.h5"])
    assert rc == 2 and stdout == ""
    assert stderr.startswith("homodyne: error: ") and message in stderr
    assert list(tmp_path.iterdir()) == []


def test_simulate_rejects_unknown_layout_choice(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*SIMULATE, "--layout", "nexus", "--out", str(tmp_path / "x.h5")])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_import_matrix_yolk_plasma(tmp_path, capsys):
    source = REAL / "yolk_plasma_two_time.npy"
    out = tmp_path / "yolk.h5"
    rc, stdout, _ = run(capsys, ["import-matrix", source, "--q", "0.022", "--dt", "1",
                                 "--triangle", "upper", "--add-baseline", "1.0", "--out", out])
    assert rc == 0 and str(out) in stdout
    data = load(out, q=0.022, dt=1.0)
    np.testing.assert_array_equal(data.c2, data.c2.transpose(0, 2, 1))
    assert abs(np.median(data.c2) - 1.0) < 0.05


def test_import_matrix_several_angles(tmp_path, capsys):
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"m{k}.npy")
        np.save(paths[-1], 1.0 + 0.1 * k + np.eye(8))
    rc, _, _ = run(capsys, ["import-matrix", *paths, "--phi", "10", "100", "--q", "0.01",
                            "--dt", "0.2", "--out", tmp_path / "two.h5"])
    assert rc == 0
    np.testing.assert_array_equal(load(tmp_path / "two.h5", q=0.01, dt=0.2).phi, [10.0, 100.0])


def test_import_matrix_bad_input(tmp_path, capsys):
    yolk = REAL / "yolk_plasma_two_time.npy"
    np.save(tmp_path / "small.npy", np.eye(6))
    (tmp_path / "text.npy").write_text("no")
    cases = [
        ([yolk], "differ by up to", "--triangle"),
        ([tmp_path / "missing.npy"], "no such file", "missing.npy"),
        ([tmp_path / "text.npy"], "not a NumPy .npy array", "text.npy"),
        ([yolk, tmp_path / "small.npy", "--phi", "0", "90", "--triangle", "lower"],
         "different shapes", "small.npy (6, 6)"),
        ([yolk, tmp_path / "small.npy", "--phi", "0"], "one angle per matrix", "(2)"),
    ]
    before = sorted(tmp_path.iterdir())
    for args, message, detail in cases:
        rc, _, stderr = run(capsys, ["import-matrix", *args, "--q", "0.022", "--dt", "1",
                                     "--out", tmp_path / "out" / "x.h5"])
        assert rc == 2 and stderr.startswith("homodyne: error: ")
        assert message in stderr and detail in stderr
        assert sorted(tmp_path.iterdir()) == before  # no output, no temp file, no folder


@pytest.mark.parametrize("command", ["import-matrix", "simulate"])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    text = capsys.readouterr().out
    assert exc.value.code == 0
    if command == "import-matrix":
        assert "--triangle {upper,lower}" in text and "--add-baseline" in text
        assert "c2 - 1" in text and "triangles disagree" in text
    else:
        assert "--half {upper,lower}" in text and "truth.json" in text


def test_console_exit_status(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "homodyne.cli", "import-matrix", str(tmp_path / "none.npy"),
         "--q", "0.01", "--dt", "0.1", "--out", str(tmp_path / "x.h5")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2 and "homodyne: error:" in proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []
