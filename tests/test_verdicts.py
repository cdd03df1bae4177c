"""The verdict lines that end every Snakemake run (homodyne.verdicts, issue 21 item 1).

The result files are written here as the steps write them (``write_json``, the layout of
:mod:`homodyne.layout`); the workflow's own run is in tests/test_workflow.py.
"""

from __future__ import annotations

import pytest
import yaml

from homodyne import verdicts
from homodyne.config import load_config
from homodyne.errors import ConfigError
from homodyne.io import write_json
from homodyne.layout import dataset

WARN = {"check": "r_hat", "parameter": "D0", "severity": "warning",
        "message": "D0: R-hat = 1.06 > 1.05: the chains do not fully agree"}
FAIL = {"check": "r_hat", "parameter": "alpha", "severity": "failed",
        "message": "alpha: R-hat = 1.12 > 1.1: the chains sample different distributions"}


def _results(root, name, *, nlsq=None, cmc=None, summary=None, tables=False):
    """Result files of one dataset: each ``quality`` given is written into its file."""
    ds = dataset(root, name)
    if nlsq is not None:
        write_json(ds.nlsq_json, {"quality": nlsq})
    if cmc is not None:
        write_json(ds.cmc_diagnostics, {"quality": cmc})
    if summary is not None:
        write_json(ds.summary, {"dataset": name, "quality": summary})
    if tables:
        write_json(ds.diagnostics_table, {})
    return ds


def _quality(*reasons):
    severities = {r["severity"] for r in reasons}
    worst = "failed" if "failed" in severities else "warning" if reasons else "ok"
    return {"verdict": worst, "reasons": list(reasons)}


def test_a_failed_dataset_names_its_failing_reason_not_the_first_warning(tmp_path):
    ds = _results(tmp_path, "chx", nlsq=_quality(), cmc=_quality(WARN, FAIL),
                  summary=_quality(WARN, FAIL), tables=True)
    v = verdicts.dataset_verdict(ds, cmc=True)
    assert (v.name, v.overall, v.nlsq, v.cmc) == ("chx", "failed", "ok", "failed")
    assert v.reason == f"[failed] {FAIL['message']}"
    assert v.where == ds.diagnostics_table  # every reason, with its remedy


def test_an_ok_dataset_and_one_without_cmc(tmp_path):
    ds = _results(tmp_path, "a", nlsq=_quality(), summary=_quality())
    v = verdicts.dataset_verdict(ds, cmc=False)
    assert (v.overall, v.nlsq, v.cmc, v.reason) == ("ok", "ok", verdicts.NOT_RUN,
                                                     "no check fired")
    assert v.where == ds.summary  # no tables page yet: the summary itself


def test_a_dataset_whose_steps_did_not_finish_points_at_its_logs(tmp_path):
    ds = _results(tmp_path / "results", "b", nlsq=_quality(WARN))
    v = verdicts.dataset_verdict(ds, cmc=True, logs=str(tmp_path / "logs"))
    assert (v.overall, v.nlsq, v.cmc) == (verdicts.NO_RESULT, "warning", verdicts.NO_RESULT)
    assert "Bayesian (CMC) steps did not finish" in v.reason
    assert v.where == f"{tmp_path / 'logs' / 'b'}/"
    nothing = verdicts.dataset_verdict(dataset(tmp_path / "results", "c"), cmc=True)
    assert nothing.nlsq == verdicts.NO_RESULT and "NLSQ steps" in nothing.reason


def test_an_interrupted_run_still_says_what_nlsq_found_and_its_remedy(tmp_path):
    """NLSQ finished, the Bayesian steps did not (Snakemake interrupted, a NUTS job failed):
    the line carries the NLSQ verdict's diagnosis and remedy, as the summary step would
    have given them, then where the logs are; one line (issue 21)."""
    from test_diagnosis import STATIONARY_REASONS, nlsq_record

    from homodyne import quality

    nlsq = nlsq_record(values={"D0": 1e5, "alpha": 0.003, "D_offset": -2e4},
                       sigma={"D0": 5e4, "alpha": 0.02, "D_offset": 6e4})
    reasons = [r for r in STATIONARY_REASONS if r["check"] not in ("r_hat", "divergences")]
    nlsq["quality"] = quality.verdict(reasons)
    ds = dataset(tmp_path / "results", "chx")
    write_json(ds.nlsq_json, nlsq)
    v = verdicts.dataset_verdict(ds, cmc=True, logs=str(tmp_path / "logs"))
    assert (v.overall, v.nlsq, v.cmc) == (verdicts.NO_RESULT, "warning", verdicts.NO_RESULT)
    assert v.reason.startswith("[warning] NLSQ: stationary within noise: alpha = 0.003")
    assert "; remedy: analysis: {fixed: [alpha, D_offset], initial: {alpha: 0.0, " in v.reason
    assert v.reason.endswith(f"; the Bayesian (CMC) steps did not finish: see the failed "
                             f"job's log in {tmp_path / 'logs' / 'chx'}/")
    assert "\n" not in v.reason and v.where == f"{tmp_path / 'logs' / 'chx'}/"
    (line,) = verdicts.lines([v])[2:]
    assert line.rstrip().endswith(v.reason)
    ok = _results(tmp_path / "results", "ok", nlsq=_quality())  # no parameters recorded
    assert verdicts.dataset_verdict(ok, cmc=True).reason.startswith("NLSQ: no check fired; ")


def test_a_damaged_summary_is_no_result_not_a_crash_at_the_end_of_the_run(tmp_path):
    ds = _results(tmp_path, "d", nlsq=_quality())
    (tmp_path / "d" / "analysis_summary.json").write_text('{"quality": ')
    assert verdicts.dataset_verdict(ds, cmc=False).overall == verdicts.NO_RESULT


def test_one_line_per_dataset_with_every_column(tmp_path):
    _results(tmp_path, "demo", nlsq=_quality(), cmc=_quality(WARN), summary=_quality(WARN))
    _results(tmp_path, "long_name", nlsq=_quality(), summary=_quality())
    found = verdicts.run_verdicts({"demo": True, "long_name": False}, str(tmp_path))
    text = verdicts.lines(found)
    assert len(text) == 2 + 2 and text[0].startswith("Verdict of each dataset (2;")
    header, demo, other = text[1:]
    assert header.split()[:4] == ["dataset", "verdict", "NLSQ", "Bayesian"]
    assert demo.split()[:4] == ["demo", "warning", "ok", "warning"]
    assert demo.endswith(f"[warning] {WARN['message']}")
    assert str(tmp_path / "demo" / "analysis_summary.json") in demo
    assert other.split()[:4] == ["long_name", "ok", "ok", verdicts.NOT_RUN.split()[0]]
    # aligned columns: the verdict column starts at the same place on every line
    assert len({line.index(word) for line, word in ((header, "verdict"), (demo, "warning"),
                                                     (other, "ok"))}) == 1


@pytest.mark.parametrize(("fail_on", "expected"), [
    ("never", []), ("failed", ["bad", "missing"]), ("warning", ["bad", "missing", "meh"])])
def test_fail_on_chooses_the_verdicts_that_fail_the_run(fail_on, expected):
    rows = [verdicts.DatasetVerdict(n, o, "ok", "ok", "", "") for n, o in
            (("good", "ok"), ("bad", "failed"), ("missing", verdicts.NO_RESULT),
             ("meh", "warning"))]
    assert verdicts.tripped(rows, fail_on) == expected
    with pytest.raises(ValueError, match=r"workflow\.fail_on"):
        verdicts.tripped(rows, "sometimes")


def test_fail_on_is_a_config_key_that_defaults_to_never(tmp_path):
    config = {"datasets": [{"name": "a", "file": "a.h5", "q": 0.005}],
              "analysis": {"dt": 0.1}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert load_config(path).fail_on == "never"
    path.write_text(yaml.safe_dump({**config, "workflow": {"fail_on": "failed"}}))
    assert load_config(path).fail_on == "failed"
    path.write_text(yaml.safe_dump({**config, "workflow": {"fail_on": "always"}}))
    with pytest.raises(ConfigError, match=r"workflow\.fail_on"):
        load_config(path)


def test_the_command_prints_the_lines_of_a_results_folder(tmp_path, capsys):
    _results(tmp_path, "demo", nlsq=_quality(), cmc=_quality(FAIL), summary=_quality(FAIL))
    assert verdicts.main(["--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[:4] == ["demo", "failed", "ok", "failed"]
    assert verdicts.main(["--results", str(tmp_path / "none")]) == 1
