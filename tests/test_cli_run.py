"""`homodyne run --method nlsq`: result files (docs/outputs.md), progress, clean failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from homodyne import layout
from homodyne.cli import main
from homodyne.data import simulate


def _config(tmp_path, **analysis):
    data = simulate(tmp_path / "s.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
                    phi=[0.0, 90.0], n_frames=61, dt=0.1, q=0.0054, noise=0.01, seed=4)
    cfg = {"datasets": [{"name": "demo", "file": str(data), "q": 0.0054}],
           "analysis": {"mode": "static", "dt": 0.1, **analysis}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_run_writes_nlsq_results(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["run", str(_config(tmp_path)), "--method", "nlsq", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "iteration" in printed and "cost" in printed  # progress
    assert "reduced" in printed and "D0" in printed  # final table
    summary = json.loads((out / "demo/nlsq/nlsq_results.json").read_text())
    for key in ("parameters", "chi2", "reduced_chi2", "dof", "iterations", "success", "message",
                "mode", "per_angle_mode", "n_points", "q", "dt", "timestamp", "version"):
        assert key in summary, key
    assert summary["success"] is True and summary["mode"] == "static"
    assert set(summary["parameters"]) == {"D0", "alpha", "D_offset", "contrast_0",
                                          "contrast_1", "offset_0", "offset_1"}
    assert set(summary["parameters"]["D0"]) >= {"value", "uncertainty"}
    assert summary["n_points"] == 2 * 60 * 59 // 2
    arrays = np.load(out / "demo/nlsq/nlsq_results.npz")
    for key in ("parameters", "covariance", "phi", "t", "c2_exp", "c2_fit", "residuals"):
        assert key in arrays, key
    assert arrays["c2_fit"].shape == arrays["c2_exp"].shape == (2, 60, 60)
    np.testing.assert_allclose(arrays["residuals"], arrays["c2_exp"] - arrays["c2_fit"])
    assert not list(out.rglob("*.tmp"))


def test_bad_config_fails_before_any_output(tmp_path, capsys):
    out = tmp_path / "results"
    cfg = _config(tmp_path, initial={"D0": 5.0})
    assert main(["run", str(cfg), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homodyne: error:") and "analysis.initial.D0" in err
    assert not out.exists()


def test_missing_data_file_is_one_clear_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": [{"name": "x", "file": str(tmp_path / "no.h5"),
                                                 "q": 0.005}], "analysis": {"dt": 0.1}}))
    assert main(["run", str(cfg), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no.h5" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "x" / "nlsq").exists()


def test_run_with_plots_draws_the_figures(tmp_path):
    out = tmp_path / "results"
    assert main(["run", str(_config(tmp_path)), "--output", str(out), "--plots"]) == 0
    names = {p.name for p in (out / "demo/plots").glob("*.png")}
    assert {"c2_overview.png", "c2_phi_+000.0.png", "c2_phi_+090.0.png"} <= names


def test_run_with_frames_exclude_leaves_their_pairs_out_and_writes_the_views(tmp_path):
    cfg = _config(tmp_path)
    config = yaml.safe_load(cfg.read_text())
    config["datasets"][0]["frames_exclude"] = [[20, 22]]  # fitted frames 18-20
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "results"
    assert main(["run", str(cfg), "--output", str(out), "--plots"]) == 0
    summary = json.loads((out / "demo/nlsq/nlsq_results.json").read_text())
    assert summary["n_points"] == 2 * (60 * 59 // 2 - (3 * 59 - 3))
    assert summary["settings"]["filter"] == {"frames_exclude": [[20, 22]]}
    with np.load(out / "demo/twotime/one_time.npz") as z:
        assert np.flatnonzero(z["excluded"]).tolist() == [18, 19, 20]
        assert z["g2"].shape == z["g2_model"].shape == (2, 59)
        assert z["count"][0] == 59 - 4  # lag 1: the pairs (17, 18) ... (20, 21) are out
    with np.load(out / "demo/twotime/ageing.npz") as z:
        assert z["decay_time"].shape == (2, 5)
    assert (out / "demo/twotime/ageing.png").is_file()
    assert (out / "demo/twotime/one_time.png").is_file()


def test_method_cmc_is_the_same_run_as_both_as_the_help_says(tmp_path, monkeypatch, capsys):
    """What each --method hands to the runner: cmc and both the same datasets (NLSQ, then CMC
    where enabled), nlsq the datasets with CMC switched off; the help says exactly that."""
    handed = {}

    def record(datasets, output, plots=None):
        handed[method] = list(datasets)
        for ds in datasets:  # the summary _run reads back for the verdict
            path = Path(layout.dataset(output, ds.name).summary)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"quality": {"verdict": "ok", "reasons": []}}))
        return []

    monkeypatch.setattr("homodyne.runner.run", record)
    config = _config(tmp_path)
    for method in ("nlsq", "both", "cmc"):
        assert main(["run", str(config), "--method", method, "--output",
                     str(tmp_path / method)]) == 0
    assert handed["cmc"] == handed["both"] != handed["nlsq"]
    assert [ds.cmc.enable for ds in handed["both"]] == [True]
    assert [ds.cmc.enable for ds in handed["nlsq"]] == [False]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "cmc: the same run as both" in text and "nlsq: NLSQ only (default)" in text
