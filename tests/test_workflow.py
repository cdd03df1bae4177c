"""The Snakemake workflow: end to end, failed-shard rerun, interruption, Slurm and PBS.

Every run uses the workflow's test config ``.test/config/config.yaml`` (the built-in demo,
simulated by the simulate_demo rule, with a short NUTS on three shards), in its own folder
(``--directory``), through the same profiles a user runs.  Job counts are read from
Snakemake's own "Job stats" table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from capabilities import browser_path
from conftest import ROOT
from scheduler import Slurm

from homodyne import layout
from homodyne.config import CMCConfig, load_config
from homodyne.settings import step_settings

DEMO = ROOT / "config" / "config.yaml"
TEST_CONFIG = ROOT / ".test" / "config" / "config.yaml"
SMALL_CMC = yaml.safe_load(TEST_CONFIG.read_text())["cmc"]
N_SHARDS = SMALL_CMC["shards"]
#: Start-up lines that read as errors (issue #15): JAX's backend probe, ArviZ's banner.
QUIET = ("Unable to initialize backend", "exposing its functions")
#: Each workflow test runs Snakemake up to three times (600 s limit each) after the module's
#: demo run: above the suite's default limit of 900 s per test.
pytestmark = pytest.mark.timeout(1800)


def _workdir(tmp_path: Path, name: str, **cmc) -> Path:
    work = tmp_path / name
    work.mkdir()
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["cmc"].update(cmc)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work


def test_test_config_is_the_demo_with_a_short_nuts():
    """``.test/config/config.yaml`` differs from the demo config in its cmc section only."""
    demo, small = yaml.safe_load(DEMO.read_text()), yaml.safe_load(TEST_CONFIG.read_text())
    assert {k: v for k, v in small.items() if k != "cmc"} == {
        k: v for k, v in demo.items() if k != "cmc"}
    assert SMALL_CMC["enable"] and N_SHARDS > 1 and SMALL_CMC["shards_per_job"] == 1


def snakemake_command(work: Path, profile: str | None = "local") -> list[str]:
    """Snakemake on the demo config of ``work``, through ``profile`` (2 cores locally)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
           str(work), "--configfile", str(work / "config.yaml")]
    if profile:
        cmd += ["--profile", str(ROOT / "profiles" / profile)]
    if profile in (None, "local"):
        cmd += ["--cores", "2"]
    return cmd


def snakemake(work: Path, *args: str, profile: str | None = "local", env=None,
              timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([*snakemake_command(work, profile), *args], capture_output=True,
                            text=True, timeout=timeout, env=env, cwd=work)
    (work / f"snakemake_{len(list(work.glob('snakemake_*.txt')))}.txt").write_text(
        result.stdout + result.stderr)
    return result


def job_counts(output: str) -> dict[str, int]:
    """The first "Job stats" table Snakemake printed: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
            if m.group(1) != "total"}


def assert_complete(work: Path, n_shards: int = N_SHARDS) -> None:
    """Every declared output exists, parses, and no temporary file is left behind."""
    res = work / "results" / "demo"
    nlsq = json.loads((res / "nlsq/nlsq_results.json").read_text())
    assert nlsq["success"] is True
    npz = np.load(res / "nlsq/nlsq_results.npz")
    assert npz["c2_fit"].shape == npz["c2_exp"].shape
    shards = sorted((res / "cmc/shards").glob("shard_*.h5"))
    posteriors = sorted((res / "cmc/posteriors").glob("posterior_*.nc"))
    assert len(shards) == len(posteriors) == n_shards
    for path in posteriors:
        with h5py.File(path) as fh:  # NetCDF4 is HDF5 underneath
            assert "posterior" in fh
    params = json.loads((res / "cmc/mcmc_parameters.json").read_text())
    assert params["n_shards"] == n_shards and "D0" in params["parameters"]
    diagnostics = json.loads((res / "cmc/mcmc_diagnostics.json").read_text())
    assert len(diagnostics["shards"]) == n_shards
    draws = np.load(res / "cmc/mcmc_results.npz")
    assert draws["draws"].shape[:2] == (SMALL_CMC["chains"], SMALL_CMC["samples"])
    assert (res / "cmc/mcmc_inference_data.nc").stat().st_size > 0
    for view in ("one_time", "ageing"):
        with np.load(res / f"twotime/{view}.npz") as z:
            assert z["g2"].shape[0] == len(z["phi"]) and np.isfinite(z["g2"][..., 0]).all()
        assert (res / f"twotime/{view}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pngs = sorted((res / "plots").glob("*.png"))
    assert {"c2_overview.png", "cmc_trace.png", "cmc_shards.png"} <= {p.name for p in pngs}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    summary = json.loads((res / "analysis_summary.json").read_text())
    assert summary["cmc"]["n_shards"] == n_shards
    assert len(summary["provenance"]["input_sha256"]) == 64
    for page in ("parameters", "diagnostics", "provenance"):
        assert "<table>" in (res / "tables" / f"{page}.html").read_text(encoding="utf-8"), page
    leftovers = [p for p in work.rglob("*.tmp") if ".snakemake" not in p.parts]
    assert not leftovers, leftovers


def test_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s",
                             str(ROOT / "Snakefile"), "--directory", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stderr


def test_snakefiles_are_snakefmt_formatted():
    """``make lint`` checks the Snakefile and rules with snakefmt (settings in pyproject)."""
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile",
                             "workflow/rules"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr + "\nrun `make fmt`"


def test_dry_run_of_three_datasets_lists_the_jobs(tmp_path):
    from homodyne.data import simulate

    work = _workdir(tmp_path, "three")
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["datasets"] = []
    for k, q in enumerate((0.004, 0.005, 0.006)):
        simulate(work / f"d{k}.h5", mode="laminar_flow", phi=[0.0, 45.0], n_frames=20, dt=0.1,
                 q=q, seed=k)
        config["datasets"].append({"name": f"d{k}", "file": f"d{k}.h5", "q": q})
    config["datasets"][2]["cmc"] = {"enable": False}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "-n", profile=None)
    assert result.returncode == 0, result.stderr
    # The nuts jobs are added once the shard checkpoint has run and K is known.
    assert job_counts(result.stdout) == {
        "all": 1, "load": 3, "filter": 3, "nlsq": 3, "twotime": 3, "shard": 2, "combine": 2,
        "plot": 3, "summary": 3, "tables": 3, "plot_datasets": 1, "verdicts": 1,
    }


def test_the_start_reads_no_data(tmp_path):
    """Snakemake's start reads the config and the file names only: a dry run plans every job
    of a dataset whose file is not even HDF5 (its load job, not the start, will say so)."""
    work = _workdir(tmp_path, "nodata")
    (work / "garbage.h5").write_text("not an HDF5 file")
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["datasets"] = [{"name": "g", "file": "garbage.h5", "q": 0.005}]
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, "-n", profile=None)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert job_counts(result.stdout)["load"] == 1


def test_bad_config_fails_before_any_job(tmp_path):
    work = _workdir(tmp_path, "bad")
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["analysis"]["initial"] = {"D0": 1.0}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(work, profile=None)
    assert result.returncode != 0
    assert "analysis.initial.D0" in result.stdout + result.stderr
    assert not (work / "results").exists() and not (work / "resources").exists()


def _start(work: Path, *args: str) -> dict:
    """The config and each dataset's NLSQ settings as Snakemake's start holds them (what its
    jobs get), printed by a Snakefile that includes the workflow's, in a dry run."""
    snakefile = work / "Snakefile.start"
    snakefile.write_text(
        "import json\nfrom homodyne.settings import step_settings\n\n"
        f"include: {str(ROOT / 'Snakefile')!r}\n\n"
        "print('START', json.dumps({'config': config, 'nlsq': {name: step_settings(ds, 'nlsq')"
        " for name, ds in DATASETS.items()}}))\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(snakefile),
                             "--directory", str(work), "--cores", "1", *args],
                            capture_output=True, text=True, cwd=work, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("START "))
    return json.loads(line.removeprefix("START "))


def test_the_start_reads_yaml_exponents_as_numbers_as_homodyne_run_does(tmp_path):
    """``L: 2.0e6`` and ``ftol: 1e-9`` are strings to Snakemake's YAML 1.1 reader; the
    workflow's config and settings have them as the numbers ``homodyne run`` reads."""
    work = tmp_path / "exponents"
    work.mkdir()
    text = TEST_CONFIG.read_text()
    assert "  L: 2.0e6" in text
    (work / "config.yaml").write_text(text.replace("nlsq:\n", "nlsq:\n  ftol: 1e-9\n", 1))
    start = _start(work, "--configfile", str(work / "config.yaml"))
    (ds,) = load_config(work / "config.yaml").datasets
    assert start["nlsq"] == {"demo": json.loads(json.dumps(step_settings(ds, "nlsq")))}
    assert start["nlsq"]["demo"]["analysis"]["L"] == 2.0e6 and ds.nlsq.ftol == 1e-9
    analysis, nlsq = start["config"]["analysis"], start["config"]["nlsq"]
    assert isinstance(analysis["L"], float) and isinstance(nlsq["ftol"], float)


def test_a_config_file_on_the_command_line_is_not_merged_into_the_demos(tmp_path):
    """Snakemake reads the demo's config (the Snakefile's configfile) only when the command
    line names no datasets: ``--configfile my.yaml`` is my.yaml alone, as for ``homodyne
    run``, and ``--config key=value`` overrides either."""
    work = tmp_path / "merge"
    (work / layout.DEMO_CONFIG).parent.mkdir(parents=True)  # the Snakefile's configfile
    shutil.copy(DEMO, work / layout.DEMO_CONFIG)
    mine = yaml.safe_load(DEMO.read_text())
    del mine["cmc"]
    mine["datasets"][0]["name"] = "mine"
    (work / "my.yaml").write_text(yaml.safe_dump(mine))
    demo_chains = yaml.safe_load(DEMO.read_text())["cmc"]["chains"]
    assert demo_chains != CMCConfig().chains
    alone = _start(work, "--configfile", "my.yaml")
    assert list(alone["nlsq"]) == ["mine"]
    assert alone["config"]["cmc"]["chains"] == CMCConfig().chains  # the schema's default
    demo = _start(work, "--config", "nlsq={seed: 7}")
    assert list(demo["nlsq"]) == ["demo"] and demo["config"]["cmc"]["chains"] == demo_chains
    assert demo["config"]["nlsq"]["seed"] == 7 == demo["nlsq"]["demo"]["nlsq"]["seed"]


def test_a_wrong_key_in_a_config_file_is_one_error_naming_the_file_and_the_key(tmp_path):
    work = _workdir(tmp_path, "typo")
    (work / "config.yaml").write_text(
        (work / "config.yaml").read_text().replace("  warmup:", "  warmpu:"))
    result = snakemake(work, "-n", profile=None)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{work / 'config.yaml'}: invalid configuration" in out
    assert out.count("warmpu") == 1 and "cmc.warmpu: unknown key; did you mean 'warmup'?" in out


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = _workdir(tmp_path_factory.mktemp("workflow"), "demo")
    result = snakemake(work)
    return work, result


def test_demo_end_to_end(demo_run):
    work, result = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = job_counts(result.stderr + result.stdout)
    # The first table is printed before the shard checkpoint ran: no nuts jobs yet.
    assert counts == {"all": 1, "simulate_demo": 1, "load": 1, "filter": 1, "nlsq": 1,
                      "twotime": 1, "shard": 1, "combine": 1, "plot": 1, "summary": 1,
                      "tables": 1, "verdicts": 1}
    nuts_logs = sorted(p.name for p in (work / "logs/demo/nuts").glob("*.log"))
    assert nuts_logs == [f"shard_{k:03d}.log" for k in range(N_SHARDS)]
    assert_complete(work)
    console = result.stdout + result.stderr
    assert "Shell command: None" not in console
    logs = {p: p.read_text() for p in (work / "logs/demo").rglob("*.log")}
    for text in [console, *logs.values()]:  # no JAX backend probe or ArviZ banner (#15)
        assert not any(noise in text for noise in QUIET), text[-2000:]
    for k in range(N_SHARDS):  # NUTS progress at each 10 %
        text = logs[work / f"logs/demo/nuts/shard_{k:03d}.log"]
        assert re.search(rf"shard {k}: NUTS 50% \(warmup \d+%, sampling \d+%\), "
                         rf"{SMALL_CMC['chains']} chain\(s\), [\d.]+ draws/s, ETA ", text), text
    for step in ("load", "filter", "nlsq", "twotime", "shard", "combine", "plot", "summary",
                 "tables"):
        assert (work / "logs/demo" / f"{step}.log").exists(), step
        assert (work / "benchmarks/demo" / f"{step}.tsv").exists(), step
    assert not (work / "results/demo/data/loaded.h5").exists()  # temp() intermediate
    again = snakemake(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    summary = json.loads((work / "results/demo/analysis_summary.json").read_text())
    verdict = summary["quality"]["verdict"]
    assert verdict_lines(result.stderr) == {"demo": [verdict, *step_verdicts(work)]}
    assert verdict_lines(result.stderr, method=True)["demo"][2].endswith("(NUTS)")
    # every figure of the dataset says the same verdict, whichever step drew it
    from PIL import Image

    for png in [*(work / "results/demo/plots").glob("*.png"),
                *(work / "results/demo/twotime").glob("*.png")]:
        with Image.open(png) as im:
            said = re.search(r"quality: (\w+)", im.text.get("Title", ""))
        assert said and said.group(1) == verdict.upper(), (png.name, im.text)


def verdict_lines(console: str, method: bool = False) -> dict[str, list[str]]:
    """The verdict lines a run printed last (before Snakemake's own closing lines):
    dataset -> [verdict, NLSQ verdict, Bayesian verdict], cut at the header's columns; the
    Bayesian cell without the method it names in brackets, unless ``method``."""
    header, *tail = console.rsplit("Verdict of each dataset", 1)[1].splitlines()[1:]
    starts = [header.index(word) for word in ("verdict", "NLSQ", "Bayesian", "every reason")]
    rows = {}
    for line in tail:
        if not line.startswith("  "):  # "Complete log(s): ...", "Elapsed time: ..."
            break
        cells = [line[a:b].strip() for a, b in pairwise(starts)]
        rows[line.split()[0]] = cells if method else [*cells[:2], cells[2].split(" (")[0]]
    return rows


def step_verdicts(work: Path) -> list[str]:
    """The demo's NLSQ and CMC verdicts as their result files record them."""
    res = work / "results/demo"
    return [json.loads((res / f).read_text())["quality"]["verdict"]
            for f in ("nlsq/nlsq_results.json", "cmc/mcmc_diagnostics.json")]


def test_the_run_ends_with_each_verdict_and_fails_only_when_asked(tmp_path, demo_run):
    """A dataset whose verdict is failed: the last lines of the run say so, with the reason
    and the page listing every reason; the run exits 0 unless ``workflow.fail_on`` asks."""
    work = _finished_copy(demo_run, tmp_path, "failed_verdict")
    path = work / "results/demo/analysis_summary.json"
    summary = json.loads(path.read_text())
    reason = {"check": "r_hat", "parameter": "D0", "severity": "failed",
              "message": "D0: R-hat = 1.12 > 1.1: the chains sample different distributions"}
    summary["quality"] = {"verdict": "failed", "reasons": [reason]}
    path.write_text(json.dumps(summary))
    tables = work / "results/demo/tables/parameters.html"  # a target of the run
    tables.unlink()  # work to do: a run ends through its handlers, "Nothing to be done" not
    first = snakemake(work)
    assert first.returncode == 0, first.stderr[-3000:]
    assert verdict_lines(first.stderr)["demo"][0] == "failed"
    line = next(x for x in first.stderr.splitlines() if x.startswith("  demo "))
    assert line.endswith(f"[failed] {reason['message']}")
    assert "results/demo/tables/diagnostics.html" in line
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["workflow"] = {"fail_on": "failed"}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    tables.unlink()
    second = snakemake(work)
    assert second.returncode == 1
    assert verdict_lines(second.stderr)["demo"][0] == "failed"
    assert "workflow.fail_on is 'failed' and the verdict of demo is failed" in second.stderr
    assert "Traceback" not in second.stderr


AFTER_SHARD = ("cmc/posteriors", "cmc/mcmc_parameters.json", "cmc/mcmc_diagnostics.json",
               "cmc/mcmc_results.npz", "cmc/mcmc_inference_data.nc", "plots",
               "analysis_summary.json")


def _sharded_copy(demo_run, tmp_path: Path, name: str) -> Path:
    """A copy of the finished demo run without what follows the shard checkpoint.

    The NUTS, combine, plot and summary stages are what the next run must do; the copy keeps
    the run's compilation cache, as a rerun on the same results folder would.
    """
    source, result = demo_run
    assert result.returncode == 0, "the demo run failed; see test_demo_end_to_end"
    work = tmp_path / name
    shutil.copytree(source, work, symlinks=True)
    for part in AFTER_SHARD:
        path = work / "results/demo" / part
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return work


def _corrupt(path: Path) -> bytes:
    original = path.read_bytes()
    path.write_bytes(b"not an HDF5 shard" * 64)
    return original


@pytest.mark.faults  # a row of README 'Reliability': make test-faults
def test_rerun_only_the_failed_shard(tmp_path, demo_run):
    work = _sharded_copy(demo_run, tmp_path, "failed")
    shard = work / "results/demo/cmc/shards/shard_001.h5"
    original = _corrupt(shard)
    first = snakemake(work)
    assert first.returncode != 0
    posteriors = work / "results/demo/cmc/posteriors"
    assert sorted(p.name for p in posteriors.glob("*.nc")) == ["posterior_000.nc",
                                                                "posterior_002.nc"]
    res = work / "results/demo"
    assert not (res / "cmc/mcmc_parameters.json").exists()
    assert not (res / "analysis_summary.json").exists() and not (res / "plots").exists()
    # the failed run ends with the dataset's line: no result, the logs to read
    nlsq = json.loads((work / "results/demo/nlsq/nlsq_results.json").read_text())
    assert verdict_lines(first.stderr)["demo"] == ["no result", nlsq["quality"]["verdict"],
                                                   "no result"]
    assert "logs/demo/" in first.stderr.rsplit("Verdict of each dataset", 1)[1]
    shard.write_bytes(original)
    second = snakemake(work)
    assert second.returncode == 0, second.stderr[-3000:]
    assert job_counts(second.stdout + second.stderr) == {"all": 1, "nuts": 1, "combine": 1,
                                                         "plot": 1, "summary": 1, "tables": 1,
                                                         "verdicts": 1}
    assert_complete(work)


@pytest.mark.faults  # a row of README 'Reliability': make test-faults
def test_interrupted_run_completes_on_rerun(tmp_path, demo_run):
    """Ctrl-C during the NUTS jobs: the terminal sends SIGINT to Snakemake and its jobs (one
    process group).  Everything stops promptly without a crash dump, no posterior looks
    finished unless it is, and the same command completes the run."""
    work = _sharded_copy(demo_run, tmp_path, "interrupted")
    shutil.rmtree(work / "logs/demo/nuts")
    with open(work / "interrupted.txt", "w") as out:
        head = subprocess.Popen(snakemake_command(work), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 300
        while not list((work / "logs/demo/nuts").glob("*.log")):
            assert head.poll() is None, "the run ended before any NUTS job started"
            assert time.monotonic() < deadline, "no NUTS job started in time"
            time.sleep(0.5)
        time.sleep(2)
        start = time.monotonic()
        os.killpg(head.pid, signal.SIGINT)
        head.wait(timeout=120)
        seconds = time.monotonic() - start
    printed = (work / "interrupted.txt").read_text()
    # generous: the full suite on 2 shared cores measured 32 s once (quiet: a few seconds)
    assert seconds < 60, f"Snakemake took {seconds:.0f} s to stop"
    for crash in ("Fatal Python error", "Segmentation fault", "SIGSEGV", "core dumped"):
        assert crash not in printed, printed[-3000:]
    nuts_logs = "".join(p.read_text() for p in (work / "logs/demo/nuts").glob("*.log"))
    assert "interrupted by SIGINT; stopped." in nuts_logs
    for path in (work / "results/demo/cmc/posteriors").glob("*"):
        with h5py.File(path) as fh:  # only finished posteriors under their final name
            assert "posterior" in fh
    assert not [p for p in work.rglob("*.tmp") if ".snakemake" not in p.parts]
    assert not (work / "results/demo/analysis_summary.json").exists()
    rerun = snakemake(work)
    if "LockException" in rerun.stderr:  # a head killed hard leaves its lock behind
        snakemake(work, "--unlock")
        rerun = snakemake(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_complete(work)


def _one_done_one_sampling(work: Path) -> bool:
    """A posterior is written and the NUTS of a shard without one is under way."""
    res, logs = work / "results/demo/cmc/posteriors", work / "logs/demo/nuts"
    done = {p.stem.removeprefix("posterior_") for p in res.glob("*.nc")}
    sampling = {p.stem.removeprefix("shard_") for p in logs.glob("*.log")
                if "NUTS 10%" in p.read_text()}
    return bool(done) and bool(sampling - done)


@pytest.mark.faults  # a row of README 'Reliability': make test-faults
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_head_alone_stops_its_jobs_and_keeps_what_finished(tmp_path, demo_run,
                                                                            signum):
    """``kill -INT <snakemake pid>`` (a batch script, a scheduler): only the head gets the
    signal.  Its running NUTS jobs stop within 10 s with Ctrl-C's clean-up, a posterior that
    was finished keeps its file and is not redone, and the same command completes the run."""
    import psutil

    work = _sharded_copy(demo_run, tmp_path, "head")
    shutil.rmtree(work / "logs/demo/nuts")
    posteriors = work / "results/demo/cmc/posteriors"
    with open(work / "head.txt", "w") as out:
        head = subprocess.Popen(snakemake_command(work), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 600
        while not _one_done_one_sampling(work):
            assert head.poll() is None, "the run ended before a shard was done and one sampling"
            assert time.monotonic() < deadline, "no shard done and one sampling in time"
            time.sleep(0.1)
        jobs = psutil.Process(head.pid).children(recursive=True)
        assert jobs, "no job running"
        finished = {p.name: p.stat().st_mtime_ns for p in posteriors.glob("*.nc")}
        start = time.monotonic()
        os.kill(head.pid, signum)  # the head alone, not its process group
        _, alive = psutil.wait_procs(jobs, timeout=30)
        stopped = time.monotonic() - start
        head.wait(timeout=120)
    printed = (work / "head.txt").read_text()
    assert not alive and stopped < 10, f"jobs {alive} still running after {stopped:.1f} s"
    nuts_logs = "".join(p.read_text() for p in (work / "logs/demo/nuts").glob("*.log"))
    assert f"interrupted by {signal.Signals(signum).name}; stopped." in nuts_logs
    for crash in ("Fatal Python error", "Segmentation fault", "core dumped"):
        assert crash not in printed, printed[-3000:]
    kept = {p.name: p.stat().st_mtime_ns for p in posteriors.glob("*.nc")}
    assert finished.items() <= kept.items(), (finished, kept)
    assert len(kept) < N_SHARDS, "every shard finished before the signal: nothing stopped"
    assert not [p for p in work.rglob("*.tmp") if ".snakemake" not in p.parts]
    rerun = snakemake(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert job_counts(rerun.stdout + rerun.stderr)["nuts"] == N_SHARDS - len(kept)
    assert kept.items() <= {p.name: p.stat().st_mtime_ns
                            for p in posteriors.glob("*.nc")}.items()  # not redone
    assert_complete(work)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = Slurm(tmp_path_factory.mktemp("slurm")).start()
    yield cluster
    cluster.stop()


@pytest.mark.faults  # a whole run through a scheduler: slow, in the catalogue's run
@pytest.mark.root
@pytest.mark.scheduler
def test_slurm_profile_runs_the_demo(tmp_path, slurm):
    work = _workdir(tmp_path, "slurm")
    result = snakemake(work, profile="slurm", env=slurm.env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_complete(work)
    ran = slurm_jobs(slurm.env, work)
    assert {"simulate_demo", "load", "filter", "nlsq", "twotime", "shard", "combine", "plot",
            "summary", "tables"} <= {job for job, state in ran if state == "COMPLETED"}, ran
    assert any(job.startswith("nuts") and state == "COMPLETED" for job, state in ran), ran


def slurm_jobs(env: dict, workdir: Path) -> list[tuple[str, str]]:
    """``(rule, state)`` of every Slurm job started from ``workdir``, finished ones included
    (they stay listed for the test cluster's MinJobAge of an hour).  The Slurm executor
    writes ``rule_<rule>[_wildcards_<values>]`` into each job's comment (a bundle of NUTS
    jobs: ``rule_<group>``, ``nuts_<dataset>_<k>``)."""
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner"], env=env, check=True,
                           capture_output=True, text=True).stdout
    jobs = []
    for line in shown.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("WorkDir") == os.path.realpath(workdir):
            rule = re.sub(r"_wildcards_.*$", "", fields.get("Comment", "").removeprefix("rule_"))
            jobs.append((rule, fields.get("JobState", "")))
    return jobs


@pytest.mark.faults
@pytest.mark.root
@pytest.mark.scheduler
def test_pbs_profile_with_a_failing_job_and_its_rerun(tmp_path, slurm, demo_run):
    env = {**slurm.env, "PATH": f"{ROOT / 'tests/pbs'}{os.pathsep}{slurm.env['PATH']}"}
    assert shutil.which("qsub", path=env["PATH"]) == str(ROOT / "tests/pbs/qsub")
    work = _sharded_copy(demo_run, tmp_path, "pbs")
    shard = work / "results/demo/cmc/shards/shard_002.h5"
    original = _corrupt(shard)
    first = snakemake(work, profile="pbs", env=env)
    assert first.returncode != 0
    assert not (work / "results/demo/cmc/posteriors/posterior_002.nc").exists()
    assert (work / "results/demo/cmc/posteriors/posterior_000.nc").exists()
    # qsub -o put every job's output under logs/pbs; grouped NUTS jobs are named GROUP.*
    logs = [p.read_text() for p in (work / "logs/pbs").glob("*.log")]
    assert sum("rule nuts" in text for text in logs) >= N_SHARDS
    shard.write_bytes(original)
    second = snakemake(work, profile="pbs", env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert job_counts(second.stdout + second.stderr) == {"all": 1, "nuts": 1, "combine": 1,
                                                         "plot": 1, "summary": 1, "tables": 1,
                                                         "verdicts": 1}
    assert_complete(work)


def _finished_copy(demo_run, tmp_path: Path, name: str, **edits) -> Path:
    """A copy of the finished demo run whose config.yaml has ``edits`` applied
    (``section={key: value}``, or ``dataset={key: value}`` for the demo dataset's entry)."""
    source, result = demo_run
    assert result.returncode == 0, "the demo run failed; see test_demo_end_to_end"
    work = tmp_path / name
    shutil.copytree(source, work, symlinks=True)
    config = yaml.safe_load((work / "config.yaml").read_text())
    for section, values in edits.items():
        target = config["datasets"][0] if section == "dataset" else config.setdefault(section, {})
        target.update(values)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work


@pytest.mark.parametrize(("edits", "expected"), [
    ({"dataset": {"frames": [1, 50]}},
     {"load": 1, "filter": 1, "nlsq": 1, "twotime": 1, "shard": 1, "combine": 1, "plot": 1,
      "summary": 1, "tables": 1, "verdicts": 1}),
    # load reruns only because its output is temporary and filter needs it again
    ({"dataset": {"frames_exclude": [[20, 22]]}},
     {"load": 1, "filter": 1, "nlsq": 1, "twotime": 1, "shard": 1, "combine": 1, "plot": 1,
      "summary": 1, "tables": 1, "verdicts": 1}),
    ({"nlsq": {"max_iterations": 150}},
     {"nlsq": 1, "twotime": 1, "shard": 1, "combine": 1, "plot": 1, "summary": 1,
      "tables": 1, "verdicts": 1}),
    ({"cmc": {"samples": 30}},
     {"nuts": N_SHARDS, "combine": 1, "plot": 1, "summary": 1, "tables": 1,
      "verdicts": 1}),
    # the plot step draws the views' figures, after CMC, with the dataset's verdict
    ({"twotime": {"age_windows": 3}}, {"twotime": 1, "plot": 1}),
    ({"plots": {"svg": True}}, {"plot": 1}),
    ({"cmc": {"shards_per_job": 2}}, {}),
])
def test_a_changed_setting_reruns_exactly_the_affected_steps(tmp_path, demo_run, edits,
                                                              expected):
    """A data, NLSQ, NUTS and plot setting; a job-bundling setting reruns nothing.  (Jobs
    below a rerun shard checkpoint are listed once it has run.)"""
    work = _finished_copy(demo_run, tmp_path, "edited", **edits)
    result = snakemake(work, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    if not expected:
        assert "Nothing to be done" in result.stdout + result.stderr
    else:
        assert job_counts(result.stdout + result.stderr) == {"all": 1, **expected}
        # the reason lines show a short hash per section, never the settings (README)
        reasons = [line for line in (result.stdout + result.stderr).splitlines()
                   if "Params have changed" in line]
        assert reasons and all("{" not in line and len(line) < 600 for line in reasons), (
            reasons)


def test_importance_sampling_of_shards_through_the_workflow(tmp_path, demo_run):
    """``cmc.method: importance`` on the demo's three shards: the shard step writes the
    proposal into every shard, each shard job evaluates its likelihood there, combine adds
    them; the results and the verdict lines name the method."""
    work = _finished_copy(demo_run, tmp_path, "importance",
                          cmc={"method": "importance", "importance_draws": 400})
    result = snakemake(work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    res = work / "results/demo"
    for path in sorted((res / "cmc/posteriors").glob("posterior_*.nc")):
        with h5py.File(path) as fh:
            assert "importance" in fh and "posterior" not in fh  # one shard's likelihood
    diagnostics = json.loads((res / "cmc/mcmc_diagnostics.json").read_text())
    assert diagnostics["method"] == "importance"
    assert diagnostics["importance"]["n_draws"] == 400
    with np.load(res / "cmc/mcmc_results.npz") as z:
        assert z["draws"].shape[:2] == (1, 400)
    summary = json.loads((res / "analysis_summary.json").read_text())
    assert summary["cmc"]["method"] == "importance"
    assert verdict_lines(result.stderr, method=True)["demo"][2].endswith(
        "(importance sampling)")
    assert "cmc_shards.png" not in {p.name for p in (res / "plots").glob("*.png")}


def test_summary_reports_the_settings_its_results_record(demo_run):
    work, _ = demo_run
    res = work / "results/demo"
    summary = json.loads((res / "analysis_summary.json").read_text())
    nlsq = json.loads((res / "nlsq/nlsq_results.json").read_text())
    cmc = json.loads((res / "cmc/mcmc_parameters.json").read_text())
    assert summary["settings"] == {"nlsq": nlsq["settings"], "cmc": cmc["settings"]}
    assert cmc["settings"]["cmc_nuts"]["samples"] == SMALL_CMC["samples"]
    assert nlsq["settings"]["data"]["frames"] is None and "cmc_nuts" not in nlsq["settings"]


def test_cmc_switched_off_leaves_no_cmc_figure_or_summary(tmp_path, demo_run):
    work = _finished_copy(demo_run, tmp_path, "no_cmc", cmc={"enable": False})
    result = snakemake(work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr) == {"all": 1, "plot": 1, "summary": 1,
                                                         "tables": 1, "verdicts": 1}
    res = work / "results/demo"
    assert not list((res / "plots").glob("cmc_*"))
    assert {"c2_overview.png", "residual_histogram.png"} <= {p.name for p in
                                                            (res / "plots").iterdir()}
    summary = json.loads((res / "analysis_summary.json").read_text())
    assert summary["cmc"] is None and summary["settings"]["cmc"] is None


@pytest.mark.parametrize("deleted", [True, pytest.param(False, marks=pytest.mark.faults)],
                         ids=["deleted", "dropped"])
def test_rerun_chosen_shards_with_forcerun(tmp_path, demo_run, deleted):
    """The README's way to redo a shard: ``-R`` (--forcerun) its posterior file, whether it was
    deleted or is still there (a shard the consensus dropped). Deleted is also what an
    interrupted ``-R`` run leaves (Snakemake removes a job's outputs when it starts it): a
    plain rerun then does nothing, as the README says, and the same ``-R`` redoes it."""
    work = _finished_copy(demo_run, tmp_path, "forced")
    posterior = work / "results/demo/cmc/posteriors/posterior_001.nc"
    before = posterior.stat().st_mtime_ns
    if deleted:
        posterior.unlink()
        plain = snakemake(work, "-n")
        assert "Nothing to be done" in plain.stdout + plain.stderr
    result = snakemake(work, "-R", "results/demo/cmc/posteriors/posterior_001.nc")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr) == {"all": 1, "nuts": 1, "combine": 1,
                                                         "plot": 1, "summary": 1, "tables": 1,
                                                         "verdicts": 1}
    assert posterior.stat().st_mtime_ns > before
    assert_complete(work)
    assert "Nothing to be done" in snakemake(work, "-n").stdout


def test_cross_dataset_figure_reads_only_the_configured_datasets(tmp_path, demo_run):
    """Other dataset folders under results/ (an earlier config's, a broken one) are never
    read: the step is given its datasets."""
    from dataclasses import replace

    from homodyne import layout, steps
    from homodyne.config import load_config

    work, _ = demo_run
    ds = load_config(work / "config.yaml").datasets[0]
    for name in ("a", "b"):
        shutil.copytree(work / "results/demo/nlsq", tmp_path / name / "nlsq")
    (tmp_path / "a/cmc").mkdir()
    shutil.copy(work / "results/demo/cmc/mcmc_parameters.json", tmp_path / "a/cmc")
    (tmp_path / "stale/nlsq").mkdir(parents=True)
    (tmp_path / "stale/nlsq/nlsq_results.json").write_text("{ not json")
    chosen = [replace(ds, name="a"), replace(ds, name="b", cmc=replace(ds.cmc, enable=False))]
    out = layout.datasets_figure(tmp_path)
    made = steps.plot_datasets_step(chosen, [layout.dataset(tmp_path, d.name) for d in chosen],
                                    out, {})
    assert made == Path(out) and made.read_bytes()[:4] == b"\x89PNG"


# Every figure and table of a dataset, the way the report shows them.
ROW_SHOWN = '[...document.querySelectorAll("#app tr")].some(tr => tr.textContent.includes({}))'
REPORT_PARTS = {"NLSQ", "Bayesian (CMC)", "Tables", "Model-free views"}
DECODE_RESULTS = """(async () => {
  const out = {};
  for (const [path, r] of Object.entries(results)) {
    const entry = {name: r.name, mime: r.mime_type, caption: r.caption, labels: r.labels};
    if (r.mime_type.startsWith("image/")) {
      const img = new Image();
      img.src = r.data_uri;
      try { await img.decode(); entry.width = img.naturalWidth; entry.height = img.naturalHeight; }
      catch (err) { entry.error = String(err); }
    } else {
      entry.text = atob(r.data_uri.split(",").pop());
    }
    out[path] = entry;
  }
  const cats = {};
  for (const [c, subs] of Object.entries(categories)) { cats[c] = Object.keys(subs); }
  return {results: out, categories: cats};
})()"""
CLICK = """(text => {
  const hits = [...document.querySelectorAll("#app *")].filter(
    el => el.children.length === 0 && el.textContent.trim() === text);
  if (hits.length === 0) { return false; }
  hits[0].click();
  return true;
})"""
VIEW = """(label => {
  const row = [...document.querySelectorAll("#app tr")].find(tr => tr.textContent.includes(label));
  if (!row) { return false; }
  row.querySelector("a").click();
  return true;
})"""
RECT = """(sel => { const r = document.querySelector(sel).getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom]; })"""


def _not_blank(png: Path, box) -> tuple[float, int]:
    """The share of pixels unlike the most common colour, and the number of colours, in
    ``box`` (left, top, right, bottom) of a screenshot."""
    from PIL import Image

    with Image.open(png) as im:
        region = np.asarray(im.convert("RGB").crop(tuple(round(v) for v in box)))
    flat = region.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    return 1 - counts.max() / len(flat), len(colours)


@pytest.fixture(scope="module")
def chromium_path():
    path = browser_path()
    assert path, "the browser mark lets this test run only where Chromium is installed"
    return path


@pytest.mark.browser
def test_report_opens_in_a_browser_with_every_figure_and_table(tmp_path, demo_run,
                                                                chromium_path):
    """``make report`` on the finished demo: one self-contained HTML file; Chromium opens it,
    every figure decodes, every result has a caption, and a figure and a table picked through
    the report's menu are drawn (their screenshots are not blank)."""
    from browser import Browser

    work = _finished_copy(demo_run, tmp_path, "report")
    result = snakemake(work, "--report", "results/report.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = work / "results/report.html"
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=[\"']?(https?:|//)", text)
    # the front page opens with the verdict table the run printed last
    front = json.loads(text.split("var workflow_desc = ", 1)[1].split(";\n", 1)[0])
    summary = json.loads((work / "results/demo/analysis_summary.json").read_text())
    table = front.split("<table", 1)[1].split("</table>", 1)[0]
    assert front.index("<table") < front.index("Each dataset below")
    assert "demo" in table and f">{summary['quality']['verdict']}</span>" in table
    figures = sorted([p.name for p in (work / "results/demo/plots").glob("*.png")]
                     + [p.name for p in (work / "results/demo/twotime").glob("*.png")])
    with Browser(chromium_path) as browser:
        browser.open(report.as_uri())
        browser.wait_for("typeof app !== 'undefined' && typeof results !== 'undefined' && "
                         "document.querySelector('#app').children.length > 0")
        shown = browser.evaluate(DECODE_RESULTS, timeout=60)
        assert set(shown["categories"]) == {"demo", "All datasets"}
        assert set(shown["categories"]["demo"]) == REPORT_PARTS
        assert set(shown["categories"]["All datasets"]) == {"Verdicts"}
        entries = list(shown["results"].values())
        images = [e for e in entries if e["mime"] == "image/png"]
        assert sorted(e["name"] for e in images) == figures
        for e in images:
            assert "error" not in e and e["width"] > 100 and e["height"] > 100, e
        pages = {e["name"]: e for e in entries if e["mime"] == "text/html"}
        assert set(pages) == {"parameters.html", "diagnostics.html", "provenance.html",
                              Path(layout.verdicts_table("results", ["demo"])).name}
        assert all(re.search("<table[ >]", e["text"]) for e in pages.values())
        for e in entries:  # a caption that says what the result shows, and a label
            assert len(re.sub("<[^>]+>", "", e["caption"])) > 200, e["name"]
            assert e["labels"], e["name"]
        assert "D0" in pages["parameters.html"]["text"]
        # Through the menu, as a reader would: the dataset, its NLSQ part, one figure.
        for step in ("demo", "NLSQ"):  # each click re-renders the menu: wait for the next
            browser.wait_for(f"{CLICK}({json.dumps(step)})")
            time.sleep(0.5)
        browser.wait_for(ROW_SHOWN.format(json.dumps("every angle")))  # the menu re-renders
        assert browser.evaluate(f"{VIEW}('every angle')")
        img = "#app img[src^='data:image/png']"
        browser.wait_for(f"document.querySelector(\"{img}\")?.complete && "
                         f"document.querySelector(\"{img}\").naturalWidth > 0")
        shot = browser.screenshot(tmp_path / "figure.png")
        share, colours = _not_blank(shot, browser.evaluate(f"{RECT}(\"{img}\")"))
        assert share > 0.05 and colours > 50, (share, colours)
        # The parameter table of the dataset, drawn in its frame.
        for step in ("demo", "Tables"):
            browser.wait_for(f"{CLICK}({json.dumps(step)})")
            time.sleep(0.5)
        browser.wait_for(ROW_SHOWN.format(json.dumps("parameters")))
        assert browser.evaluate(f"{VIEW}('parameters')")
        browser.wait_for("document.querySelector('#app iframe') !== null")
        time.sleep(1.0)  # the frame's own load, which the page cannot observe (data: URI)
        shot = browser.screenshot(tmp_path / "table.png")
        share, colours = _not_blank(shot, browser.evaluate(f"{RECT}('#app iframe')"))
        assert share > 0.005 and colours > 5, (share, colours)


def test_a_report_shows_the_verdicts_of_its_own_datasets_only(tmp_path, demo_run):
    """Issue 21: `make report --configfile chx.yaml` showed the yolk verdict on its front
    page, because every config wrote the one results/verdicts.html and yolk's run came
    last.  Here a config of another dataset writes its verdict table into the same results/
    (where its dry run says the verdicts rule writes it) after the demo's run; the demo's
    report still opens with the demo's verdict and shows nothing of the other run."""
    from homodyne import steps

    work = _finished_copy(demo_run, tmp_path, "own_verdicts")
    other = yaml.safe_load((work / "config.yaml").read_text())
    other["datasets"][0]["name"] = "yolk"
    (work / "yolk.yaml").write_text(yaml.safe_dump(other))
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
                          "--directory", str(work), "--configfile", str(work / "yolk.yaml"),
                          "-n", "--cores", "1"], capture_output=True, text=True, cwd=work,
                         timeout=600)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    table = re.search(r"^rule verdicts:\n(?:    .*\n)*?    output: (\S+)$", dry.stdout, re.M)
    assert table, dry.stdout[-3000:]
    yolk = layout.dataset(work / "results", "yolk")  # its steps have not run: "no result"
    steps.verdicts_step([yolk], {"yolk": True}, work / table.group(1))
    assert "yolk" in (work / table.group(1)).read_text(encoding="utf-8")
    result = snakemake(work, "--report", "results/report.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = (work / "results/report.html").read_text(encoding="utf-8")
    front = json.loads(text.split("var workflow_desc = ", 1)[1].split(";\n", 1)[0])
    summary = json.loads((work / "results/demo/analysis_summary.json").read_text())
    shown = front.split("<table", 1)[1].split("</table>", 1)[0]
    assert "demo" in shown and f">{summary['quality']['verdict']}</span>" in shown
    assert "yolk" not in front


def _numbers(value):
    """A result mapping without timings, timestamps and the input's absolute path (the
    workflow ran in the folder this test's copy was made from), for comparing two runs."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()
                if k not in ("seconds", "timestamp", "compile_seconds", "input_file", "source")}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def test_homodyne_run_writes_the_workflow_files(tmp_path, demo_run):
    """One pipeline, two drivers: ``homodyne run --method both --plots`` on the demo config
    gives the workflow's result files (numbers equal to rounding)."""
    work = _finished_copy(demo_run, tmp_path, "driver")
    result = subprocess.run([sys.executable, "-m", "homodyne.cli", "run", "config.yaml",
                             "--method", "both", "--plots", "--output", "run"],
                            capture_output=True, text=True, cwd=work, timeout=900)
    # The test's short NUTS (SMALL_CMC) may earn a `failed` verdict (exit 1, said on
    # stderr); the workflow wrote the same verdict.  Any other failure is an error.
    assert result.returncode == 0 or (result.returncode == 1 and "quality failed" in
                                      result.stderr), result.stdout[-3000:] + result.stderr[-3000:]
    assert not any(noise in result.stdout + result.stderr for noise in QUIET)
    assert "shard 0: NUTS 50% (warmup" in result.stdout  # progress on the console
    assert "demo: verdict " in result.stdout  # the summary step's line
    flow, run = work / "results/demo", work / "run/demo"
    def files(root):  # without the time stamps Snakemake keeps in directory() outputs
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and not p.name.startswith(".snakemake"))

    names = files(flow)
    assert names == files(run)
    for name in names:
        a, b = flow / name, run / name
        if a.suffix == ".json":
            x, y = _numbers(json.loads(a.read_text())), _numbers(json.loads(b.read_text()))
            assert _differences(x, y) == [], name
        elif a.suffix == ".npz":
            with np.load(a) as za, np.load(b) as zb:
                assert sorted(za.files) == sorted(zb.files), name
                for key in za.files:
                    if za[key].dtype.kind in "fc":
                        np.testing.assert_allclose(za[key], zb[key], rtol=1e-9, atol=1e-12,
                                                   err_msg=f"{name}:{key}")
                    else:
                        np.testing.assert_array_equal(za[key], zb[key], err_msg=name)


def _differences(x, y, path: str = "") -> list[str]:
    """Where two parsed JSON values differ beyond rounding (rtol 1e-9)."""
    if isinstance(x, dict) and isinstance(y, dict):
        if x.keys() != y.keys():
            return [f"{path}: keys {sorted(x.keys() ^ y.keys())}"]
        return [d for k in x for d in _differences(x[k], y[k], f"{path}/{k}")]
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return [f"{path}: lengths {len(x)} != {len(y)}"]
        return [d for i, (a, b) in enumerate(zip(x, y, strict=True))
                for d in _differences(a, b, f"{path}[{i}]")]
    if isinstance(x, float) and isinstance(y, float):
        same = np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)
        return [] if same else [f"{path}: {x!r} != {y!r}"]
    return [] if x == y else [f"{path}: {x!r} != {y!r}"]
