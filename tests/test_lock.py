"""One writer per output folder: a second ``homodyne run`` on a held folder refuses, naming
the holder; a lock left by a killed run is taken over."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homodyne import lock
from homodyne.data import simulate
from homodyne.errors import LockError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HOLD = ("import sys, time\nfrom homodyne.lock import output_lock\n"
        "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)\n")


def _config(tmp_path: Path) -> Path:
    data = simulate(tmp_path / "s.h5", mode="static", params={"D0": 1e4}, phi=[0.0],
                    n_frames=31, dt=0.1, q=0.0054, noise=0.01, seed=1)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"datasets": [{"name": "d", "file": str(data), "q": 0.0054}],
                                    "analysis": {"mode": "static", "dt": 0.1}}))
    return path


def _run(config: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "homodyne.cli", "run", str(config),
                           "--output", str(out)], env=ENV, capture_output=True, text=True,
                          timeout=300)


def _holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], env=ENV,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_refuses_then_takes_over_after_the_holder_is_killed(tmp_path):
    config, out = _config(tmp_path), tmp_path / "results"
    holder = _holder(out)
    try:
        refused = _run(config, out)
        assert refused.returncode == 2
        err = refused.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert f"pid {holder.pid} on host {socket.gethostname()}, started 20" in err
        assert str(out) in err and "another homodyne run" in err
        assert not (out / "d" / "nlsq").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert json.loads((out / lock.LOCK_NAME).read_text())["pid"] == holder.pid  # left behind
    done = _run(config, out)
    assert done.returncode == 0, done.stderr
    assert "taking over the lock left by pid" in done.stdout
    assert (out / "d" / "nlsq" / "nlsq_results.json").is_file()
    assert not (out / lock.LOCK_NAME).exists()


def test_lock_is_released_after_a_failed_run(tmp_path):
    with pytest.raises(RuntimeError), lock.output_lock(tmp_path):
        raise RuntimeError("step failed")
    assert not (tmp_path / lock.LOCK_NAME).exists()
    with lock.output_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


def _no_flock(monkeypatch):
    def flock(fd, op):
        raise OSError(errno.ENOSYS, "flock not supported")
    monkeypatch.setattr(lock.fcntl, "flock", flock)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_without_flock_a_dead_pid_on_this_host_is_taken_over(tmp_path, monkeypatch):
    _no_flock(monkeypatch)
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps(
        {"pid": _dead_pid(), "host": socket.gethostname(), "started": "x"}))
    with lock.output_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("host_is_ours", [True, False])
def test_without_flock_a_live_or_foreign_holder_is_respected(tmp_path, monkeypatch, host_is_ours):
    _no_flock(monkeypatch)
    holder = {"pid": os.getppid() if host_is_ours else _dead_pid(),
              "host": socket.gethostname() if host_is_ours else "node-elsewhere",
              "started": "2026-01-01T00:00:00+00:00", "command": "homodyne run c.yaml"}
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps(holder))
    with pytest.raises(LockError) as err:
        lock.acquire(tmp_path)
    assert f"pid {holder['pid']} on host {holder['host']}" in str(err.value)
    assert f"delete {tmp_path / lock.LOCK_NAME}" in str(err.value)
