"""`make test` as a normal user: tests that need root, Slurm or Chromium skip with their
reason, except in CI (CI=true), where they fail instead; every test has a time limit."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap

import pytest
from capabilities import check_marks, in_ci, missing_root, unavailable
from conftest import ROOT

#: One test per need: mount (root), Slurm (root + scheduler), Chromium (browser).
MARKED = [
    "tests/test_faults.py::test_really_full_disk_leaves_no_file",
    "tests/test_workflow.py::test_slurm_profile_runs_the_demo",
    "tests/test_workflow.py::test_report_opens_in_a_browser_with_every_figure_and_table",
]

#: pytest in a process that believes it runs as uid 1000 and finds no Chromium on its PATH.
AS_NORMAL_USER = textwrap.dedent("""
    import os, sys
    os.geteuid = lambda: 1000
    import pytest
    sys.exit(pytest.main(sys.argv[1:]))
""")


def _pytest_as_normal_user(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "PATH": os.path.dirname(sys.executable),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", AS_NORMAL_USER, "-q", "-rsf",
                           "-p", "no:cacheprovider", *MARKED],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_marked_tests_skip_with_their_reason_for_a_normal_user():
    done = _pytest_as_normal_user(ci="")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 skipped" in done.stdout, done.stdout[-3000:]
    assert "needs root" in done.stdout and "running as uid 1000" in done.stdout
    assert "Chromium is not installed" in done.stdout
    assert "tests/capabilities.py install" in done.stdout  # how to provide it


def test_marked_tests_fail_in_ci_when_they_cannot_run():
    done = _pytest_as_normal_user(ci="true")
    assert done.returncode == 1, done.stdout[-3000:]
    # errors at set-up: the test never starts
    last = done.stdout.strip().splitlines()[-1]
    assert "3 errors" in last and "skipped" not in last, done.stdout[-3000:]
    assert "CI=true, so this test may not be skipped: needs root" in done.stdout


def test_ci_is_recognised_as_ci_services_set_it():
    assert in_ci({"CI": "true"}) and in_ci({"CI": "True"}) and in_ci({"CI": "1"})
    assert not in_ci({}) and not in_ci({"CI": ""}) and not in_ci({"CI": "false"})


def test_root_is_the_effective_user_id():
    assert missing_root(0) is None
    assert "running as uid 1000" in missing_root(1000)


def test_unavailable_skips_outside_ci_and_fails_inside():
    with pytest.raises(pytest.skip.Exception, match="no tool"):
        unavailable("needs no tool", ci=False)
    with pytest.raises(pytest.fail.Exception,
                       match="CI=true, so this test may not be skipped: needs no tool"):
        unavailable("needs no tool", ci=True)


def test_met_needs_and_unknown_marks_let_the_test_run(monkeypatch):
    monkeypatch.setattr("capabilities.CHECKS", {"root": lambda: None})
    check_marks(["root", "parametrize", "timeout"])  # nothing raised


def test_every_test_has_a_time_limit(tmp_path, pytestconfig):
    """pytest-timeout is installed and on: a test over its limit fails with 'Timeout'; the
    suite's default limit is read from pyproject.toml."""
    test = tmp_path / "test_slow.py"
    test.write_text("import time, pytest\n\n@pytest.mark.timeout(1)\n"
                    "def test_slow():\n    time.sleep(30)\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
                           str(test)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Timeout" in done.stdout, done.stdout[-2000:]
    assert float(pytestconfig.getini("timeout")) == 900


def test_ci_installs_the_tools_then_lints_then_tests_with_nothing_skipped():
    steps = [line.split("#")[0].strip() for line in (ROOT / ".ci/run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert steps.index("export CI=true") < steps.index("make test")
    assert (steps.index("python3 tests/capabilities.py install") < steps.index("make lint")
            < steps.index("make test") < steps.index("make test-faults"))


def test_make_test_leaves_out_the_fault_catalogue_and_test_faults_runs_only_it():
    """The default run stays short (the faults take ~10 minutes) and CI runs both, so every
    test runs in CI: the two selections split the suite without overlap or gap."""
    def selected(target):
        out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True,
                             text=True, timeout=60).stdout
        words = shlex.split(next(x for x in out.splitlines() if "-m pytest" in x))
        args = words[words.index("pytest") + 1:]
        return args[args.index("-m") + 1]

    assert selected("test") == "not faults" and selected("test-faults") == "faults"
