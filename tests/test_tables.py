"""The report's tables: rendered from the result files, with units, verdicts and provenance."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser

import pytest

from homodyne import layout, tables

SUMMARY = {
    "dataset": "s1", "mode": "laminar_flow", "q": 0.0054,
    "parameters": {
        "D0": {"nlsq_value": 9001.43, "nlsq_uncertainty": 1054.2, "cmc_mean": 9025.3,
               "cmc_sd": 968.4, "cmc_hdi_3": 7255.6, "cmc_hdi_97": 10814.2},
        "D_offset": {"nlsq_value": 609.7, "nlsq_uncertainty": None, "cmc_mean": 579.0,
                     "cmc_sd": 902.0, "cmc_hdi_3": -1053.7, "cmc_hdi_97": 2251.6},
        "contrast_2": {"nlsq_value": 0.2989, "nlsq_uncertainty": 0.0006, "cmc_mean": 0.2990,
                       "cmc_sd": 0.0005, "cmc_hdi_3": 0.2978, "cmc_hdi_97": 0.2999},
    },
    "quality": {"verdict": "warning", "reasons": [
        {"check": "r_hat", "parameter": "D0", "severity": "warning",
         "message": "D0: R-hat = 1.0697 > 1.05 <script>alert(1)</script>"}]},
    "nlsq": {"success": True, "message": "`ftol` termination condition is satisfied.",
             "reduced_chi2": 0.9995, "chi2": 8836.4, "dof": 8841, "iterations": 25,
             "seconds": 22.1, "strategy": "full"},
    "cmc": {"n_shards": 3, "n_shards_used": 2,
            "overall": {"r_hat_max": 1.0697, "ess_bulk_min": 29.5, "ess_tail_min": 14.4,
                        "divergences": 44, "divergence_rate": 0.0733},
            "self_check": {"k_hat": 0.42, "k_hat_limit": 0.7, "message": "consistent"},
            "seconds": 30.0},
    "settings": {"nlsq": {"data": {"file": "raw.h5", "q": 0.0054}, "nlsq": {"loss": "linear"}},
                 "cmc": {"data": {"file": "raw.h5", "q": 0.0054}, "nlsq": {"loss": "linear"},
                         "cmc_nuts": {"chains": 4, "warmup": 150}}},
    "provenance": {"input_file": "/data/raw.h5", "input_sha256": "ab" * 32,
                   "versions": {"homodyne": "0.1.0", "jax": "0.12.0.1"}},
}
DIAGNOSTICS = {
    "parameters": {"D0": {"r_hat": 1.0697, "ess_bulk": 29.5, "ess_tail": 20.0}},
    "shards": [{"index": k, "used": k != 1, "reason": "divergences" if k == 1 else None,
                "n_points": 2950, "r_hat_max": 1.01, "ess_bulk_min": 150.0,
                "ess_tail_min": 120.0, "divergences": 0, "step_size": 0.25, "seconds": 10.0}
               for k in range(3)],
}


class _Cells(HTMLParser):
    """The text of every table cell, row by row, and whether a <script> element occurs."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self.script = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script":
            self.script = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def row(self, first: str) -> list[str]:
        return next(r for r in self.rows if r and r[0].startswith(first))


def test_parameters_carry_units_both_methods_and_sampler_diagnostics():
    cells = _Cells(tables.parameters_page(SUMMARY, DIAGNOSTICS))
    assert cells.rows[0] == ["parameter", "unit", "NLSQ value", "NLSQ 1σ", "CMC mean",
                             "CMC sd", "94 % HDI", "R-hat", "ESS bulk", "ESS tail"]
    assert cells.row("D0") == ["D0 transport prefactor", "Å²/s^(1+alpha)", "9001.43", "1054.2",
                               "9025.3", "968.4", "[7255.6, 10814.2]", "1.0697", "29.5", "20"]
    assert cells.row("D_offset")[1:4] == ["Å²/s", "609.7", tables.NOT_IDENTIFIED]
    assert cells.row("contrast_2")[:2] == ["contrast_2 optical contrast, angle 2",
                                           "dimensionless"]
    assert cells.row("contrast_2")[-3:] == ["—", "—", "—"]  # no diagnostics for it


def test_verdict_and_reasons_are_shown_and_escaped():
    text = tables.diagnostics_page(SUMMARY, DIAGNOSTICS)
    cells = _Cells(text)
    assert 'class="verdict warning"' in text
    assert not cells.script and "&lt;script&gt;" in text
    assert cells.row("warning")[:3] == ["warning", "r_hat", "D0"]
    assert cells.row("shards used")[1] == "2 / 3"
    assert cells.row("consensus self-check: Pareto k̂")[1] == "0.42"
    assert [r[:3] for r in cells.rows if r and r[0] in "012"] == [
        ["0", "yes", "—"], ["1", "no", "divergences"], ["2", "yes", "—"]]


def _diagnosed(*diagnoses) -> dict:
    """SUMMARY with the yolk-like reasons of a degenerate power law: D0 at a bound ("widen
    the bound") and unidentified ("narrow the bounds"), a sampler reason, and the
    ``diagnoses`` (explained labels) over them."""
    summary = copy.deepcopy(SUMMARY)
    reasons = [
        {"check": "at_bound", "parameter": "D0", "severity": "warning",
         "message": "D0 is at its upper bound ...; widen the bound if the physics allows"},
        {"check": "unidentified", "parameter": "D0", "severity": "warning",
         "message": "D0 is hardly determined ...; fix one, or narrow the bounds"},
        {"check": "r_hat", "parameter": "D0", "severity": "failed",
         "message": "D0: R-hat = 2.9 > 1.1; more cmc.warmup and cmc.samples"},
        {"check": "ess", "parameter": None, "severity": "warning",
         "message": "bulk ESS 40 < 100; more cmc.samples"},
    ]
    summary["quality"] = {"verdict": "failed", "reasons": reasons, "diagnosis": [
        {"cause": f"c{k}", "finding": f"finding {k}", "remedy": {}, "remedy_text": "none",
         "explains": list(explains)} for k, explains in enumerate(diagnoses, 1)]}
    return summary


def test_reasons_a_diagnosis_explains_are_named_not_repeated_with_their_hints():
    """As on the console (quality.summary_lines): the reasons a diagnosis explains are
    listed by check and parameter, without the hints that contradict each other under one
    remedy; the others in full (issue 21)."""
    one = _Cells(tables.diagnostics_page(_diagnosed(
        ["at_bound D0", "unidentified D0", "r_hat D0"])))
    rows = [r for r in one.rows if len(r) == 4 and r[0] in ("warning", "failed")]
    assert rows == [
        ["warning", "ess", "—", "bulk ESS 40 < 100; more cmc.samples"],
        ["warning", "at_bound", "D0", "explained by the diagnosis above"],
        ["warning", "unidentified", "D0", "explained by the diagnosis above"],
        ["failed", "r_hat", "D0", "explained by the diagnosis above"]]
    text = tables.diagnostics_page(_diagnosed(["at_bound D0", "unidentified D0", "r_hat D0"]))
    assert "widen the bound" not in text and "narrow the bounds" not in text
    assert one.row("1")[:2] == ["1", "finding 1"]
    two = _Cells(tables.diagnostics_page(_diagnosed(["at_bound D0"], ["ess"])))
    assert [r[1:] for r in two.rows if len(r) == 4 and r[0] in ("warning", "failed")] == [
        ["unidentified", "D0", "D0 is hardly determined ...; fix one, or narrow the bounds"],
        ["r_hat", "D0", "D0: R-hat = 2.9 > 1.1; more cmc.warmup and cmc.samples"],
        ["at_bound", "D0", "explained by diagnosis 1 above"],
        ["ess", "—", "explained by diagnosis 2 above"]]


def test_without_cmc_the_pages_say_so():
    summary = copy.deepcopy(SUMMARY)
    summary["cmc"] = None
    summary["settings"]["cmc"] = None
    for entry in summary["parameters"].values():
        for key in [k for k in entry if k.startswith("cmc_")]:
            del entry[key]
    params = tables.parameters_page(summary)
    assert "CMC mean" not in params and "CMC was not run" in params
    assert "CMC was not run" in tables.diagnostics_page(summary)
    assert "cmc_nuts" not in tables.provenance_page(summary)


def test_provenance_lists_input_versions_and_every_recorded_setting():
    cells = _Cells(tables.provenance_page(SUMMARY))
    assert cells.row("sha256")[1] == "ab" * 32
    assert cells.row("file")[1] == "/data/raw.h5"
    assert cells.row("jax")[1] == "0.12.0.1"
    settings = [r for r in cells.rows if len(r) == 3 and r[0] != "section"]
    assert settings == [["data", "file", "raw.h5"], ["data", "q", "0.0054"],
                        ["nlsq", "loss", "linear"], ["cmc_nuts", "chains", "4"],
                        ["cmc_nuts", "warmup", "150"]]


@pytest.mark.parametrize("with_cmc", [True, False])
def test_write_tables_reads_the_result_files(tmp_path, with_cmc):
    out = layout.dataset(tmp_path, "s1")
    summary = copy.deepcopy(SUMMARY)
    if with_cmc:
        (tmp_path / "s1/cmc").mkdir(parents=True)
        (tmp_path / "s1/cmc/mcmc_diagnostics.json").write_text(json.dumps(DIAGNOSTICS))
    else:
        summary["cmc"] = None
        (tmp_path / "s1").mkdir()
    (tmp_path / "s1/analysis_summary.json").write_text(json.dumps(summary))
    paths = tables.write_tables(out)
    assert [str(p) for p in paths] == [out.parameters_table, out.diagnostics_table,
                                       out.provenance_table]
    assert ("R-hat" in paths[0].read_text(encoding="utf-8")) is with_cmc
    assert all(p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for p in paths)
    assert not list(tmp_path.rglob("*.tmp"))


def test_the_verdict_table_of_every_dataset_escapes_and_embeds(tmp_path):
    """The report's first table: one row per dataset with the verdict, the step verdicts and
    the first reason; one line between the marks the front page cuts it out at."""
    from homodyne.verdicts import DatasetVerdict

    rows = [DatasetVerdict("chx", "failed", "ok", "failed", "[failed] R-hat <1.12>", "x"),
            DatasetVerdict("demo", "ok", "ok", "not run", "no check fired", "y")]
    page = tables.verdicts_page(rows)
    assert "<h1>All datasets: verdict of each dataset</h1>" in page and "mode —" not in page
    fragment = page.split(tables.VERDICTS_MARK)[1]
    assert "\n" not in fragment and fragment.count("<tr>") == 3
    assert "R-hat &lt;1.12&gt;" in fragment and "<1.12>" not in fragment
    assert fragment.index("chx") < fragment.index("demo")
    assert "#f8d7da" in fragment.split("chx")[1].split("</tr>")[0]  # failed in red
    out = tables.write_verdicts(rows, layout.verdicts_table(tmp_path / "results",
                                                            ["demo", "chx"]))
    assert out.read_text(encoding="utf-8") == page
    assert out == tmp_path / "results" / "verdicts_chx+demo.html"
