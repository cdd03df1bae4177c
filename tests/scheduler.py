"""A real single-node Slurm on loopback for the workflow tests (facts: docs/schedulers.md).

Installed beforehand (tests/capabilities.py: the tests that use it are marked ``root`` and
``scheduler`` and skip, or fail in CI, where it is missing), started afresh for each test
session with its own state and logs under a temporary folder, and stopped by PID.  Nothing
is assumed about daemons left by other runs.  The configuration goes to the default
/etc/slurm/slurm.conf: inside a job, snakemake-executor-plugin-slurm-jobstep drops every
``SLURM_*`` variable (``SLURM_CONF`` too) before its ``srun``, so no other location reaches
the job steps.  A slurm.conf this module did not write is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by homodyne's tests/scheduler.py"


def _conf(root: Path, host: str, cpus: int, memory_mb: int) -> str:
    return "\n".join([
        MARKER,
        "ClusterName=homodyne-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "MinJobAge=3600",
        "SchedulerParameters=sched_interval=2,bf_interval=2",
        "ReturnToService=2",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


class Slurm:
    """munged + slurmctld + slurmd with their own configuration under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = SYSTEM_CONF
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.pids: dict[str, int] = {}

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True)

    def start(self) -> Slurm:
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        cpus = os.cpu_count() or 1
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 2000
        if self.conf.exists() and MARKER not in self.conf.read_text():
            raise RuntimeError(f"{self.conf} exists and was not written by these tests; "
                               "refusing to replace a real Slurm configuration")
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_conf(self.root, host, cpus, memory_mb))
        self._start_munge()
        for daemon, args in (("slurmctld", ["-i"]), ("slurmd", [])):
            result = self._run(f"/usr/sbin/{daemon}", *args)
            if result.returncode != 0:
                raise RuntimeError(f"{daemon} failed to start: {result.stderr}")
            pid_file = self.root / f"{daemon}.pid"
            self._wait(pid_file.exists, f"{daemon} pid file")
            self.pids[daemon] = int(pid_file.read_text())
        self._wait(self._node_idle, "the Slurm node to become idle", timeout=60)
        return self

    def _start_munge(self) -> None:
        run_dir = Path("/run/munge")
        pid_file = run_dir / "munged.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            return  # munged is stateless; one already running (ours or the system's) serves
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"],
                       check=True, capture_output=True)
        self._wait(pid_file.exists, "munged")
        self.pids["munged"] = int(pid_file.read_text())

    def _node_idle(self) -> bool:
        out = self._run("sinfo", "-h", "-o", "%t").stdout.split()
        return bool(out) and all(state.startswith("idle") for state in out)

    @staticmethod
    def _wait(check, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def stop(self) -> None:
        subprocess.run(["scancel", "--user=root"], env=self.env, capture_output=True)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 15
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
        if self.conf.exists() and MARKER in self.conf.read_text():
            self.conf.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(
        f"/proc/{pid}/status").read_text().lower()
