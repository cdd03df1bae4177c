"""The one reader and writer of each result file (homodyne.results, issue 23): jobs that do
not draw never import matplotlib, writers write what the step hands them, readers name the
file and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from homodyne import layout, quality, results, steps
from homodyne.config import parse_config
from homodyne.data import read_xpcs, simulate
from homodyne.errors import DataFormatError
from homodyne.problem import build_problem

# The jobs after NLSQ, in the workflow's order, each as its rule's script calls it, in one
# fresh process; after each, whether matplotlib has been imported so far.
JOBS = """
import json, sys
from homodyne import runtime
runtime.configure(1)
from homodyne import layout, steps
config, root = json.loads(sys.argv[1]), sys.argv[2]
ds = steps.dataset_from(config, "d")
out = layout.dataset(root, "d")
shards = layout.shard_files(out.shards)
jobs = {
    "nuts": lambda: [steps.nuts_step(ds, s, out.posterior(k))
                     for k, s in zip(layout.shard_indices(shards), shards)],
    "combine": lambda: steps.combine_step(ds, [out.posterior(0)], shards, out),
    "twotime": lambda: steps.twotime_step(ds, out.filtered, out.nlsq_npz, out),
    "summary": lambda: steps.summary_step(ds, out, out.summary),
    "tables": lambda: steps.tables_step(out),
    "verdicts": lambda: steps.verdicts_step([out], {"d": True}, layout.verdicts_table(root, ["d"])),
    "plot": lambda: steps.plot_step(ds, out, out.plots, config["plots"]),
}
seen = {}
for name, job in jobs.items():
    job()
    seen[name] = "matplotlib" in sys.modules
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A dataset through load, filter, NLSQ and shard, as the workflow leaves it before its
    NUTS jobs: ``(config, results root)``; one shard, short chains."""
    root = tmp_path_factory.mktemp("run")
    data = simulate(root / "s.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
                    phi=[0.0, 90.0], n_frames=21, dt=0.1, q=0.0054, noise=0.01, seed=4)
    config = {"datasets": [{"name": "d", "file": str(data), "q": 0.0054}],
              "analysis": {"mode": "static", "dt": 0.1},
              "cmc": {"shards": 1, "chains": 1, "warmup": 30, "samples": 30}}
    parsed = parse_config(config)
    ds, out = parsed.dataset("d"), layout.dataset(root / "results", "d")
    steps.load_step(ds, out.loaded)
    steps.filter_step(ds, out.loaded, out.filtered)
    steps.nlsq_step(ds, out.filtered, out)
    steps.shard_step(ds, out.filtered, out.nlsq_json, out.shards)
    return {**config, "plots": parsed.plots}, root / "results"


def test_jobs_that_do_not_draw_never_import_matplotlib(fitted):
    """NUTS, combine, twotime, summary, tables and verdicts jobs read and write their files
    without matplotlib (a job's start-up pays for every import; the verdicts also run in
    Snakemake's own process); the plot job, run last, does import it, so the check sees an
    import when there is one."""
    config, root = fitted
    done = subprocess.run([sys.executable, "-c", JOBS, json.dumps(config), str(root)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"nuts": False, "combine": False, "twotime": False, "summary": False,
                    "tables": False, "verdicts": False, "plot": True}
    out = layout.dataset(root, "d")
    summary = results.read_summary(out.summary)
    assert list(summary) == ["dataset", "mode", "q", "parameters", "quality", "nlsq", "cmc",
                             "settings", "provenance"]  # docs/outputs.md
    assert summary["cmc"]["n_shards"] == 1
    assert Path(out.parameters_table).is_file()
    assert Path(layout.verdicts_table(root, ["d"])).is_file()


@pytest.fixture(scope="module")
def auto_fit(tmp_path_factory):
    """Three angles of different contrast with ``per_angle_mode: auto``: the fit starts from
    the shared form and settles on one contrast and offset per angle."""
    root = tmp_path_factory.mktemp("auto")
    data = simulate(root / "s.h5", mode="static", params={"D0": 1e4, "alpha": -0.3},
                    phi=[0.0, 60.0, 120.0], n_frames=30, dt=0.1, q=0.0054,
                    contrast=[0.2, 0.3, 0.4], offset=[1.0, 1.02, 0.98], seed=1)
    raw = {"datasets": [{"name": "a", "file": str(data), "q": 0.0054}],
           "analysis": {"mode": "static", "dt": 0.1, "per_angle_mode": "auto"}}
    ds, out = parse_config(raw).dataset("a"), layout.dataset(root, "a")
    steps.load_step(ds, out.loaded)
    steps.filter_step(ds, out.loaded, out.filtered)
    return ds, out, steps.nlsq_step(ds, out.filtered, out)


def test_the_nlsq_step_writes_the_model_of_the_problem_it_solved(auto_fit):
    """The model on the grid is evaluated in the per-angle form the fit settled on (the
    writer once rebuilt the problem in the form auto starts from, and the NLSQ step failed
    on this dataset), and the verdict written is the fit's."""
    ds, out, result = auto_fit
    assert result.per_angle_effective == "individual"
    assert build_problem(read_xpcs(out.filtered), ds.analysis).scaling.effective == "shared"
    data = read_xpcs(out.filtered)
    expected = build_problem(data, ds.analysis, "individual").model_matrix(result.values)
    written = np.load(out.nlsq_npz)
    np.testing.assert_array_equal(written["c2_fit"], expected)
    assert np.abs(written["c2_fit"] - data.c2).mean() < 0.02  # 0.01 noise: the model fits
    assert results.read_quality(out.nlsq_json) == json.loads(
        json.dumps(quality.nlsq_verdict(result)))


def test_writers_write_what_they_are_handed(auto_fit, tmp_path):
    """The writer evaluates no model and judges nothing: the model and verdict it is given
    are what the files hold."""
    _, out, result = auto_fit
    data = read_xpcs(out.filtered)
    model = np.full_like(data.c2, 1.25)
    verdict = {"verdict": "warning", "reasons": [quality.reason("x", "handed in")]}
    mine = layout.dataset(tmp_path, "a")
    results.write_nlsq(mine, result, data, c2_fit=model, verdict=verdict, settings={"k": 1})
    written = np.load(mine.nlsq_npz)
    np.testing.assert_array_equal(written["c2_fit"], model)
    np.testing.assert_array_equal(written["residuals"], data.c2 - model)
    summary = results.read_nlsq_summary(mine.nlsq_json)
    assert summary["quality"] == verdict and summary["settings"] == {"k": 1}


READERS = {
    "nlsq summary": (lambda ds: results.read_nlsq_summary(ds.nlsq_json), "nlsq_json"),
    "nlsq record": (results.read_nlsq, "nlsq_json"),
    "twotime": (results.read_twotime, "one_time"),
    "cmc record": (results.read_cmc, "cmc_npz"),
    "cmc parameters": (lambda ds: results.read_cmc_parameters(ds.cmc_parameters),
                       "cmc_parameters"),
    "cmc diagnostics": (lambda ds: results.read_cmc_diagnostics(ds.cmc_diagnostics),
                        "cmc_diagnostics"),
    "summary": (lambda ds: results.read_summary(ds.summary), "summary"),
    "quality": (lambda ds: results.read_quality(ds.summary), "summary"),
}


@pytest.mark.parametrize("name", READERS)
def test_a_missing_result_file_is_named_with_the_step_to_run(tmp_path, name):
    read, attribute = READERS[name]
    ds = layout.dataset(tmp_path, "gone")
    with pytest.raises(DataFormatError) as refused:
        read(ds)
    assert str(refused.value) == f"{getattr(ds, attribute)}: result file not found; " \
                                 f"{results.WRITE_IT}"


def test_a_damaged_result_file_is_named_with_the_fix(tmp_path):
    ds = layout.dataset(tmp_path, "d")
    Path(ds.summary).parent.mkdir(parents=True)
    Path(ds.summary).write_text('{"quality": ')
    with pytest.raises(DataFormatError, match="not a readable JSON result file") as refused:
        results.read_summary(ds.summary)
    assert str(refused.value).startswith(ds.summary)
    assert str(refused.value).endswith(results.REWRITE)
    Path(ds.one_time).parent.mkdir(parents=True)
    np.savez(ds.one_time, phi=np.zeros(1))
    with pytest.raises(DataFormatError, match=r"one_time\.npz: missing array\(s\) tau, g2, "
                                              r"g2_err, g2_model, q; the file holds phi; "):
        results.read_twotime(ds)


def test_a_fit_of_other_frames_is_refused_by_the_views(auto_fit, tmp_path):
    _, out, _ = auto_fit
    data = read_xpcs(out.filtered)
    other = tmp_path / "nlsq_results.npz"
    with np.load(out.nlsq_npz) as z:
        np.savez(other, **{k: z[k] for k in z.files if k != "t"}, t=z["t"] + 0.1)
    with pytest.raises(DataFormatError, match=r"other angles or frames.*rerun the NLSQ step"):
        results.read_c2_fit(other, data)
    np.testing.assert_array_equal(results.read_c2_fit(out.nlsq_npz, data),
                                  np.load(out.nlsq_npz)["c2_fit"])


def test_the_readers_module_imports_no_plotting_and_no_jax():
    """What the verdict lines need in Snakemake's process at the end of a run."""
    code = textwrap.dedent("""
        import sys
        import homodyne.results, homodyne.verdicts, homodyne.tables
        print(sorted(m for m in ("matplotlib", "jax", "arviz") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=True)
    assert done.stdout.strip() == "[]"
