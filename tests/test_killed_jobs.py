"""The fault catalogue, per workflow rule: a job killed hard (SIGKILL: out of memory, node
failure, ``scancel --signal=KILL``) leaves no output that looks finished, and the next run
completes.

One walk through the demo workflow, rule by rule in pipeline order: a Snakemake run asked
for rule R's output, whose R job's script process is killed with SIGKILL once the job is
working (its log file is open; the long steps are into their computation).  No handler
runs on SIGKILL, so what is checked is what the files and Snakemake guarantee: no declared
output of the killed job exists (atomic writes: a result appears only by a rename;
Snakemake deletes the outputs of a failed job), no temporary file is left under a name that
could be taken for a result, and the next run, which starts where the killed one stopped,
ends with every result complete and valid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_workflow import N_SHARDS, _workdir, assert_complete, snakemake, snakemake_command

from homodyne import layout

# every rule killed in turn and rerun: one Snakemake run per rule, far above 900 s when loaded
pytestmark = [pytest.mark.faults, pytest.mark.timeout(3600)]
RULES = ("load", "filter", "nlsq", "shard", "nuts", "combine", "plot", "summary")
DEMO = layout.dataset("results", "demo")
# What each run is asked for: the output of the rule (of combine for nuts, whose jobs exist
# only once the shard checkpoint has run), so that it stops after that rule.
TARGET = {"load": DEMO.loaded, "filter": DEMO.filtered, "nlsq": DEMO.nlsq_json,
          "shard": DEMO.shards, "nuts": DEMO.cmc_parameters, "combine": DEMO.cmc_parameters,
          "plot": DEMO.plots, "summary": DEMO.summary}
# When a job is working: its log file is open (its step function runs; the short steps take
# 0.2-8 s after the 1.5 s of imports), and for the two long steps, the computation is under
# way: the NLSQ fit has iterated, NUTS has compiled or sampled for 3 s (a demo shard took
# 33 s, and NLSQ 11 s, on 2 shared cores at load 4, 2026-11-25).
WORKING = {"nlsq": lambda text, seconds: "iteration" in text,
           "nuts": lambda text, seconds: seconds > 3.0}


def _declared(work: Path, rule: str, k: str) -> list[Path]:
    """The declared outputs of the demo's ``rule`` job (shard ``k`` for nuts)."""
    files = {"load": [DEMO.loaded], "filter": [DEMO.filtered],
             "nlsq": [DEMO.nlsq_json, DEMO.nlsq_npz], "shard": [DEMO.shards],
             "nuts": [DEMO.posterior(k)],
             "combine": [DEMO.cmc_parameters, DEMO.cmc_diagnostics, DEMO.cmc_npz,
                         DEMO.cmc_netcdf],
             "plot": [DEMO.plots], "summary": [DEMO.summary]}
    return [work / f for f in files[rule]]


def _log(work: Path, rule: str) -> Path | None:
    """The log file of the running ``rule`` job, once the job has opened it."""
    if rule == "nuts":  # one NUTS job at a time (2 threads on 2 cores): the first log
        return next(iter((work / "logs/demo/nuts").glob("shard_*.log")), None)
    path = work / "logs/demo" / f"{rule}.log"
    return path if path.exists() else None


def _script_process(work: Path, rule: str) -> int | None:
    """The pid of the Python process running ``rule``'s script in ``work``, if one runs.

    Snakemake runs a script job as ``python .snakemake/scripts/tmpXXXX.<script>.py`` (in a
    shell); the Python process is the one to kill, not the shell around it.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:  # ended meanwhile, or not ours
            continue
        if (Path(argv[0].decode()).name.startswith("python") and cwd == os.path.realpath(work)
                and any(b".snakemake/scripts/" in a and a.endswith(f".{rule}.py".encode())
                        for a in argv[1:])):
            return int(entry.name)
    return None


def _kill_job(work: Path, rule: str) -> tuple[str, subprocess.CompletedProcess]:
    """Run the workflow up to ``rule`` and SIGKILL its job once it is working; the killed
    job's log file name and Snakemake's output."""
    cmd = [*snakemake_command(work), TARGET[rule], "--retries", "0"]
    printed = work / f"killed_{rule}.txt"
    with open(printed, "w") as out:
        head = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=work,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            working = WORKING.get(rule, lambda text, seconds: True)
            opened = None
            while True:
                assert head.poll() is None, (
                    f"the run ended before a {rule} job could be caught working:\n"
                    + printed.read_text()[-3000:])
                assert time.monotonic() < deadline, f"no {rule} job started in time"
                if (log := _log(work, rule)) and (pid := _script_process(work, rule)):
                    opened = opened or time.monotonic()
                    if working(log.read_text(), time.monotonic() - opened):
                        break
                time.sleep(0.02)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pytest.fail(f"the {rule} job ended before it could be killed")
            head.wait(timeout=600)
        finally:
            if head.poll() is None:
                os.killpg(head.pid, signal.SIGKILL)
                head.wait()
    return log.name, subprocess.CompletedProcess(cmd, head.returncode, printed.read_text())


def test_sigkill_of_each_rule_leaves_nothing_finished_and_the_rerun_completes(tmp_path):
    work = _workdir(tmp_path, "killed")
    for rule in RULES:
        log, result = _kill_job(work, rule)
        said = result.stdout
        assert result.returncode != 0, f"{rule}: the run succeeded:\n{said[-3000:]}"
        assert f"Error in rule {rule}:" in said, said[-3000:]
        assert "died with <Signals.SIGKILL: 9>" in said, said[-3000:]
        k = log.removeprefix("shard_").removesuffix(".log")
        for path in _declared(work, rule, k):
            assert not path.exists(), f"{rule}: {path} exists after its job was killed"
        # A result appears only by a rename; a temporary name of a killed write is hidden
        # (.name.XXXX.tmp, removed by the next write of that file), never a result's name.
        for tmp in (p for p in work.rglob("*.tmp") if ".snakemake" not in p.parts):
            assert tmp.name.startswith("."), f"{rule}: {tmp} looks like a result"
    final = snakemake(work)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert_complete(work, N_SHARDS)
