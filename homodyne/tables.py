"""The tables of one dataset as small HTML pages: parameters, diagnostics, provenance.

The Snakemake report (``make report``) embeds them beside the figures; they open in any
browser too.  They are rendered from the result files (``analysis_summary.json``, and
``mcmc_diagnostics.json`` for the per-parameter R-hat and ESS, read by
:mod:`homodyne.results`), never from the config, so they
show what the results record: the verdict and its reasons (:mod:`homodyne.quality`), values
with units (:mod:`homodyne.params`), the settings each result was computed with, the input
file's sha256 and the versions.  Each page is self-contained (inline style, no script).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from homodyne import params as registry
from homodyne import results
from homodyne.io import write_atomic
from homodyne.layout import DatasetLayout
from homodyne.quality import label, method_label

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold; }
.ok { background: #d4edda; } .warning { background: #fff3cd; } .failed { background: #f8d7da; }
.note { color: #555; }
"""

NOT_IDENTIFIED = "not identified"
"""Shown for a null NLSQ 1σ: the data do not determine the parameter (docs/outputs.md)."""


def _text(value) -> str:
    """A cell: numbers with 6 significant digits, None as a dash, everything escaped."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) or "none"
    return html.escape(str(value))


class Markup:
    """A cell that is already HTML."""

    def __init__(self, html_text: str):
        self.html = html_text


def _table(header: Sequence[str], rows: Sequence[Sequence], numeric=()) -> str:
    """An HTML table; cells are passed through :func:`_text` unless already markup
    (:class:`Markup`); columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            content = cell.html if isinstance(cell, Markup) else _text(cell)
            cls = ' class="num"' if k in numeric else ""
            cells.append(f"<td{cls}>{content}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(body) + "</table>"


def _page(title: str, summary: Mapping, *parts: str) -> str:
    name, mode, q = summary.get("dataset"), summary.get("mode"), summary.get("q")
    head = f"{html.escape(str(name))}: {html.escape(title)}"
    about = ("" if mode is None else  # a page of several datasets has no one mode
             f"<p class=\"note\">mode {_text(mode)}, q = {_text(q)} 1/Å</p>\n")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{head}</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>{head}</h1>\n{about}"
            + "\n".join(parts) + "\n</body></html>\n")


def verdict_html(quality: Mapping | None) -> str:
    """The verdict as a coloured badge, with the number of reasons."""
    quality = quality or {}
    verdict = str(quality.get("verdict", "unknown"))
    n = len(quality.get("reasons", []))
    css = verdict if verdict in ("ok", "warning", "failed") else "warning"
    reasons = "no check fired" if n == 0 else f"{n} reason{'s' * (n != 1)}, see Diagnostics"
    return (f"<p>Quality: <span class=\"verdict {css}\">{html.escape(verdict)}</span> "
            f"<span class=\"note\">({reasons})</span></p>")


def unit_and_meaning(mode: str, name: str) -> tuple[str, str]:
    """Unit and meaning of a parameter of ``mode`` from the registry; per-angle scaling names
    (``contrast_3``) are those of their scaling parameter."""
    known = {p.name: p for p in registry.parameters(mode)}
    scaling = {p.name: p for p in registry.SCALING}
    p = known.get(name) or scaling.get(name) or scaling.get(name.rsplit("_", 1)[0])
    if p is None:
        return "", ""
    meaning = p.meaning
    if p.name != name:
        meaning = f"{meaning.removesuffix(' (per angle)')}, angle {name.rsplit('_', 1)[1]}"
    return ("dimensionless" if p.unit == "-" else p.unit), meaning


def parameters_page(summary: Mapping, diagnostics: Mapping | None = None) -> str:
    """NLSQ value ± 1σ and, with CMC, the posterior mean, sd, 94 % HDI, R-hat and ESS."""
    mode = summary["mode"]
    with_cmc = summary.get("cmc") is not None
    per_param = (diagnostics or {}).get("parameters", {})
    header = ["parameter", "unit", "NLSQ value", "NLSQ 1σ"]
    if with_cmc:
        header += ["CMC mean", "CMC sd", "94 % HDI", "R-hat", "ESS bulk", "ESS tail"]
    rows = []
    for name, entry in summary["parameters"].items():
        unit, meaning = unit_and_meaning(mode, name)
        sigma = entry.get("nlsq_uncertainty")
        label = (f"<code>{html.escape(name)}</code><br>"
                 f"<span class=\"note\">{html.escape(meaning)}</span>")
        row = [Markup(label), unit, entry.get("nlsq_value"),
               NOT_IDENTIFIED if sigma is None else sigma]
        if with_cmc:
            d = per_param.get(name, {})
            hdi = (entry.get("cmc_hdi_3"), entry.get("cmc_hdi_97"))
            row += [entry.get("cmc_mean"), entry.get("cmc_sd"),
                    "—" if None in hdi else f"[{_text(hdi[0])}, {_text(hdi[1])}]",
                    d.get("r_hat"), d.get("ess_bulk"), d.get("ess_tail")]
        rows.append(row)
    numeric = {2, 3, 4, 5, 6, 7, 8, 9}
    note = ("NLSQ 1σ: from the covariance scaled by χ²_red; “not identified”: the data do "
            "not determine the parameter.")
    if with_cmc:
        note += (" CMC: consensus posterior of the used shards; HDI: 94 % highest-density "
                 "interval; R-hat ≤ 1.05 and ESS ≥ 100 are needed for a reliable mean and "
                 "interval.")
    else:
        note += " CMC was not run for this dataset."
    return _page("parameters", summary, verdict_html(summary.get("quality")),
                 _table(header, rows, numeric), f"<p class=\"note\">{html.escape(note)}</p>")


def _reason_rows(quality: Mapping) -> list[list]:
    """A row per reason, as the console lists them (:func:`homodyne.quality.summary_lines`):
    in full those no diagnosis explains, first; then those a diagnosis explains by check and
    parameter, their message replaced by the diagnosis's number, since their own hints
    contradict each other ("widen the bound" beside "narrow the bounds") where one remedy
    stands above them."""
    diagnoses = quality.get("diagnosis", [])
    by = {name: k for k, d in enumerate(diagnoses, 1) for name in d["explains"]}
    reasons = quality.get("reasons", [])

    def row(r: Mapping, what: str) -> list:
        return [r.get("severity"), r.get("check"), r.get("parameter"), what]

    def explained(k: int) -> str:
        return ("explained by the diagnosis above" if len(diagnoses) == 1
                else f"explained by diagnosis {k} above")

    return ([row(r, r.get("message")) for r in reasons if label(r) not in by]
            + [row(r, explained(by[label(r)])) for r in reasons if label(r) in by])


def diagnostics_page(summary: Mapping, diagnostics: Mapping | None = None) -> str:
    """The verdict with its diagnoses (cause, remedy) and its reasons (in full those no
    diagnosis explains, :func:`_reason_rows`), the NLSQ fit statistics, the CMC sampler
    diagnostics and one row per shard."""
    quality = summary.get("quality") or {}
    parts = [verdict_html(quality)]
    if quality.get("diagnosis"):
        parts.append(_table(["diagnosis", "cause",
                             "remedy (paste under the dataset's entry in the config)",
                             "explains"],
                            [[k, d["finding"], d["remedy_text"], ", ".join(d["explains"])]
                             for k, d in enumerate(quality["diagnosis"], 1)], numeric={0}))
    if quality.get("reasons"):
        parts.append(_table(["severity", "check", "parameter", "what it means and what to do"],
                            _reason_rows(quality)))
    nlsq = summary.get("nlsq") or {}
    parts += ["<h2>NLSQ fit</h2>", _table(["quantity", "value"], [
        ["converged", nlsq.get("success")], ["solver message", nlsq.get("message")],
        ["χ²_red (≈ 1 for a good fit with the estimated noise)", nlsq.get("reduced_chi2")],
        ["χ²", nlsq.get("chi2")], ["degrees of freedom", nlsq.get("dof")],
        ["iterations", nlsq.get("iterations")], ["strategy", nlsq.get("strategy")],
        ["wall time (s)", nlsq.get("seconds")]], numeric=())]
    cmc = summary.get("cmc")
    if cmc is None:
        parts.append("<h2>Bayesian (CMC)</h2><p>CMC was not run for this dataset.</p>")
        return _page("diagnostics", summary, *parts)
    overall = cmc.get("overall") or {}
    check = cmc.get("self_check") or {}
    sampled = cmc.get("importance") or {}
    importance_rows = [
        ["importance sampling: Pareto k̂ of the weights", sampled.get("k_hat")],
        ["importance sampling: k̂ limit for this many draws", sampled.get("k_hat_limit")],
        ["importance sampling: weights' ESS", sampled.get("ess")],
        ["importance sampling: proposal draws", sampled.get("n_draws")],
        ["importance sampling", sampled.get("fallback") or sampled.get("message")],
    ] if sampled else []
    parts += ["<h2>Bayesian (CMC)</h2>", _table(["quantity", "value"], [
        ["posterior method", method_label(cmc)],
        *importance_rows,
        ["shards used / run", f"{_text(cmc.get('n_shards_used'))} / {_text(cmc.get('n_shards'))}"],
        ["largest R-hat (≤ 1.05)", overall.get("r_hat_max")],
        ["smallest bulk ESS (≥ 100)", overall.get("ess_bulk_min")],
        ["smallest tail ESS (≥ 100)", overall.get("ess_tail_min")],
        ["divergent transitions", overall.get("divergences")],
        ["divergence rate (≤ 1 %)", overall.get("divergence_rate")],
        ["consensus self-check: Pareto k̂", check.get("k_hat")],
        ["self-check limit", check.get("k_hat_limit")],
        ["self-check", check.get("message")],
        ["sampling time summed over shards (s)", cmc.get("seconds")]])]
    shards = (diagnostics or {}).get("shards", [])
    if shards:
        parts += ["<h2>Shards</h2>", _table(
            ["shard", "used", "why dropped", "points", "max R-hat", "min bulk ESS",
             "min tail ESS", "divergences", "step size", "seconds", "continuations"],
            [[s.get("index"), s.get("used"), s.get("reason"), s.get("n_points"),
              s.get("r_hat_max"), s.get("ess_bulk_min"), s.get("ess_tail_min"),
              s.get("divergences"), s.get("step_size"), s.get("seconds"),
              s.get("continuations")] for s in shards],
            numeric={0, 3, 4, 5, 6, 7, 8, 9, 10})]
    return _page("diagnostics", summary, *parts)


def _settings_rows(settings: Mapping) -> list[list]:
    """``{section: {key: value}}`` -> rows ``[section, key, value]``."""
    return [[section, key, value] for section, values in settings.items()
            for key, value in (values or {}).items()]


def provenance_page(summary: Mapping) -> str:
    """The input file and its sha256, the versions, and the settings the results record:
    the NLSQ record for data, analysis and nlsq, the CMC record for its own steps."""
    prov = summary.get("provenance") or {}
    recorded = summary.get("settings") or {}
    settings = dict(recorded.get("nlsq") or {})
    settings.update({k: v for k, v in (recorded.get("cmc") or {}).items() if k not in settings})
    versions = prov.get("versions") or {}
    parts = [
        "<h2>Input</h2>",
        _table(["", ""], [["file", prov.get("input_file")],
                          ["sha256", Markup(f"<code>{_text(prov.get('input_sha256'))}</code>")]]),
        "<h2>Versions</h2>",
        _table(["package", "version"], list(versions.items())),
        "<h2>Settings used</h2>",
        "<p class=\"note\">As recorded by the result files (config/README.md explains each "
        "key)" + ("; cmc_shard, cmc_nuts and cmc_combine are the cmc keys each CMC step "
                  "reads" if recorded.get("cmc") else "") + ".</p>",
        _table(["section", "key", "value"], _settings_rows(settings)),
    ]
    return _page("settings and provenance", summary, *parts)


_BADGE = {"ok": "#d4edda", "warning": "#fff3cd", "failed": "#f8d7da"}

VERDICTS_MARK = "<!-- verdicts -->"
"""Brackets the verdict table in ``verdicts.html``: the report's front page
(workflow/report/workflow.rst) shows the same table, cut out at these marks."""


def _badge(verdict: str) -> str:
    """A verdict in its colour; inline style, so the table keeps it on the front page."""
    colour = _BADGE.get(verdict, "#e2e3e5")
    return (f'<span style="background:{colour};padding:1px 8px;border-radius:4px;'
            f'font-weight:bold">{html.escape(verdict)}</span>')


def verdicts_table(verdicts: Sequence) -> str:
    """One row per dataset (:class:`homodyne.verdicts.DatasetVerdict`): the verdict, the
    NLSQ and Bayesian verdicts it comes from and the first reason of its severity; on one
    line between :data:`VERDICTS_MARK` marks, so the front page's template can embed it."""
    cell = 'style="border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top"'
    head = "".join(f"<th {cell}>{h}</th>" for h in
                   ("dataset", "verdict", "NLSQ", "Bayesian (CMC)", "first reason"))
    rows = "".join(
        f"<tr><td {cell}><b>{html.escape(v.name)}</b></td><td {cell}>{_badge(v.overall)}</td>"
        f"<td {cell}>{_badge(v.nlsq)}</td><td {cell}>{_badge(v.cmc)}"
        f"{' ' + html.escape(v.method) if v.method else ''}</td>"
        f"<td {cell}>{html.escape(v.reason)}</td></tr>" for v in verdicts)
    return (f'{VERDICTS_MARK}<table style="border-collapse:collapse;margin:0.5em 0">'
            f"<tr>{head}</tr>{rows}</table>{VERDICTS_MARK}")


def verdicts_page(verdicts: Sequence) -> str:
    """The report's first table: the verdict of every dataset of the run."""
    note = ("Every reason, with what to do, is in each dataset's Diagnostics table; the "
            "README section “Can I trust this fit?” explains each check.")
    return _page("verdict of each dataset", {"dataset": "All datasets"},
                 verdicts_table(verdicts), f"<p class=\"note\">{html.escape(note)}</p>")


def write_verdicts(verdicts: Sequence, out: str | Path) -> Path:
    """Write :func:`verdicts_page` of ``verdicts`` to ``out`` atomically."""
    text = verdicts_page(verdicts)
    return write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_tables(files: DatasetLayout, out: DatasetLayout | None = None) -> list[Path]:
    """Render the three pages of ``files``'s dataset to ``out`` (default: ``files``).

    Reads ``analysis_summary.json`` and, when the summary has CMC results,
    ``mcmc_diagnostics.json``.
    """
    out = out or files
    summary = results.read_summary(files.summary)
    diagnostics = (results.read_cmc_diagnostics(files.cmc_diagnostics) if summary.get("cmc")
                   else None)
    pages = {out.parameters_table: parameters_page(summary, diagnostics),
             out.diagnostics_table: diagnostics_page(summary, diagnostics),
             out.provenance_table: provenance_page(summary)}
    return [write_atomic(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
            for path, text in pages.items()]
