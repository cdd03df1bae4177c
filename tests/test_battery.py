"""The fast subset of the battery of realistic datasets (benchmarks/battery.py, issue 20):
random truths with phi0 != 0, beta != 0, contrast that varies with angle and asymmetric
angle sets, each fitted with the default config and compared with a truth the fit never
sees.  The whole battery and its counts are in benchmarks/README.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import battery

FAST = (3, 13, 15)
"""Small cases of the battery (3: static, 6 angles × 102 frames, constant contrast; 13:
laminar flow, 6 angles × 106 frames, smooth contrast, phi0 15°; 15: static, 4 angles ×
142 frames)."""


@pytest.mark.parametrize("index", FAST)
def test_battery_case_is_recovered_and_never_confidently_wrong(tmp_path, index):
    case = battery.draw_case(index)
    assert case["n_frames"] <= 150 and len(case["phi"]) <= 6  # keeps the default run short
    result = battery.run_case(case, tmp_path)
    assert result["class"] == "recovered", result
    assert result["pulls"], "no parameter was judged"


def test_classification_follows_the_verdict_and_the_pulls():
    ok = {"verdict": "ok", "reasons": []}
    truth = {"D0": 1e4, "alpha": -0.5}
    assert battery.classify(truth, {"D0": 1.01e4, "alpha": -0.5}, {"D0": 100, "alpha": 0.1},
                            ok)["class"] == "recovered"
    wrong = battery.classify(truth, {"D0": 1.1e4, "alpha": -0.5}, {"D0": 100, "alpha": 0.1}, ok)
    assert wrong["class"] == "confidently_wrong" and wrong["pulls"]["D0"] == pytest.approx(10)
    flagged = {"verdict": "warning", "reasons": [
        {"check": "chi2", "parameter": None, "severity": "warning", "message": ""}]}
    assert battery.classify(truth, {"D0": 1.1e4, "alpha": -0.5}, {"D0": 100, "alpha": 0.1},
                            flagged)["class"] == "flagged"
    unidentified = {"verdict": "warning", "reasons": [
        {"check": "correlated", "parameter": "D0", "partner": "alpha", "severity": "warning",
         "message": ""}]}
    judged = battery.classify(truth, {"D0": 1.1e4, "alpha": 0.5}, {"D0": 100, "alpha": 0.1},
                              unidentified)
    assert judged["class"] == "recovered" and judged["skipped"] == ["D0", "alpha"]


def test_battery_draws_realistic_and_reproducible_cases():
    cases = [battery.draw_case(k) for k in range(32)]
    assert cases[5] == battery.draw_case(5)
    assert {c["mode"] for c in cases} == {"static", "laminar_flow"}
    laminar = [c for c in cases if c["mode"] == "laminar_flow"]
    assert any(abs(c["truth"]["phi0"]) > 10 for c in laminar)
    assert any(abs(c["truth"]["beta"]) > 0.2 for c in laminar)
    assert {c["contrast_form"] for c in cases} == {"constant", "smooth", "scattered"}
    for c in cases:
        assert 100 <= c["n_frames"] <= 500 and 0.004 <= c["noise"] <= 0.03
        assert 1e3 <= c["truth"]["D0"] <= 1e5 and -1 <= c["truth"]["alpha"] <= 0.3
        phi = sorted(c["phi"])
        if len(phi) > 2:  # no angle set is symmetric about 0
            assert not all(any(abs(p + q) < 1e-6 for q in phi) for p in phi)
