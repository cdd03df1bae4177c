"""What the marked tests need from the machine, and one rule for when it is missing.

A few tests need more than Python: root (to mount a file system, to run Slurm's daemons
with their configuration in /etc/slurm), a scheduler (a real single-node Slurm,
tests/scheduler.py) or a browser (Chromium, tests/browser.py).  They carry the pytest marker
of each need (``root``, ``scheduler``, ``browser``; registered in pyproject.toml), and
conftest.py checks the marks before each test:

* on a developer's machine a missing need skips the test and says what is missing and how to
  provide it, so ``make test`` runs as a normal user;
* in CI (environment ``CI=true``) a missing need fails the test: CI must prove every claim,
  and ``.ci/run`` installs what these tests need first (``python3 tests/capabilities.py
  install``).

The tests never install anything themselves.  Standard library only, so ``.ci/run`` can call
it with the system Python before the virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Debian packages of a single-node Slurm (with its authentication daemon) and the browser.
SLURM_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BROWSER_PACKAGES = ("chromium",)
#: The commands tests/scheduler.py runs; all of them present means Slurm is installed.
SLURM_COMMANDS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel",
                  "munged")
#: Executable names of Chromium (Debian, Ubuntu, Google's build).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "as root, `python3 tests/capabilities.py install` (what .ci/run does)"


def in_ci(environ=os.environ) -> bool:
    """True when the tests run in CI (``CI=true``, as CI services set it): nothing may skip."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _command(name: str) -> str | None:
    """``name`` on the PATH or in /usr/sbin (daemons live there and root's PATH may lack it)."""
    found = shutil.which(name)
    if found:
        return found
    sbin = Path("/usr/sbin", name)
    return str(sbin) if sbin.exists() else None


def browser_path() -> str | None:
    """The first Chromium executable found, or None."""
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def missing_root(euid: int | None = None) -> str | None:
    """Why a test that needs root cannot run, or None when this process is root."""
    euid = os.geteuid() if euid is None else euid
    return None if euid == 0 else f"needs root (mount, Slurm's daemons); running as uid {euid}"


def missing_scheduler() -> str | None:
    """Why the Slurm tests cannot run (commands missing), or None."""
    absent = [c for c in SLURM_COMMANDS if _command(c) is None]
    if not absent:
        return None
    return f"Slurm is not installed (no {', '.join(absent)}); install it {INSTALL}"


def missing_browser() -> str | None:
    """Why the browser test cannot run (no Chromium), or None."""
    if browser_path():
        return None
    return f"Chromium is not installed (none of {', '.join(BROWSER_NAMES)}); install it {INSTALL}"


#: marker name -> the check that says why its tests cannot run here (None: they can).
CHECKS = {"root": missing_root, "scheduler": missing_scheduler, "browser": missing_browser}


def unavailable(reason: str, ci: bool | None = None):
    """Skip the running test for ``reason``, or fail it in CI, where nothing may be skipped."""
    import pytest

    if in_ci() if ci is None else ci:
        pytest.fail(f"CI=true, so this test may not be skipped: {reason}", pytrace=False)
    pytest.skip(reason)


def check_marks(marks) -> None:
    """Apply :func:`unavailable` to the first need among ``marks`` (marker names) not met."""
    for name in marks:
        check = CHECKS.get(name)
        reason = check() if check else None
        if reason:
            unavailable(reason)


def install() -> None:
    """Install Slurm and Chromium from Debian's packages (root, apt-get), where missing."""
    wanted = [*(SLURM_PACKAGES if missing_scheduler() else ()),
              *(BROWSER_PACKAGES if missing_browser() else ())]
    if not wanted:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *wanted], env=env,
                   check=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python3 tests/capabilities.py install")
    install()
