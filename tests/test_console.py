"""What a user reads: no start-up noise from JAX or ArviZ, NUTS progress lines, the
version, config typos answered with the closest key."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from conftest import ROOT

from homodyne.cmc.progress import Progress, report_every
from homodyne.errors import ConfigError

#: Lines that read as errors to a newcomer (issue #15); none may reach a log or the console.
NOISE = ("Unable to initialize backend", "exposing its functions")


def test_start_up_prints_no_backend_probe_or_banner_but_real_warnings():
    """A fresh process set up as every job is (runtime.configure, then INFO logging), whose
    JAX backend starts and which imports ArviZ, logs none of the noise lines; a warning of
    the same loggers still shows."""
    script = (
        "import logging, sys\n"
        "from homodyne import runtime\n"
        "runtime.configure(1)\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout,\n"
        "                    format='%(name)s %(message)s')\n"
        "import jax, arviz\n"
        "print(jax.devices())\n"
        "logging.getLogger('jax._src.xla_bridge').warning('a real warning')\n"
        "logging.getLogger('arviz').warning('another real warning')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if any(n in line for n in NOISE)], output
    assert "CpuDevice" in output
    assert "a real warning" in output and "another real warning" in output


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_logs_each_tenth_with_rate_and_eta(caplog):
    """Two chains of 100 warmup + 100 sampling iterations reporting every 20: one line per
    10 % of all iterations, none at 100 % (the shard's summary line follows), with the
    warmup and sampling fractions, draws per second and the time left."""
    clock = FakeClock()
    progress = Progress("shard 7", 2, 100, 100, clock=clock)
    assert report_every(200) == 20
    with caplog.at_level(logging.INFO, logger="homodyne.cmc.progress"):
        for done in range(20, 201, 20):
            for chain in (0, 1):
                clock.now += 1.0
                progress.update(chain, done)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 9, lines
    assert lines[0] == ("shard 7: NUTS 10% (warmup 20%, sampling 0%), 2 chain(s), "
                        "20 draws/s, ETA 18 s")
    assert lines[4] == ("shard 7: NUTS 50% (warmup 100%, sampling 0%), 2 chain(s), "
                        "20 draws/s, ETA 10 s")
    assert lines[-1].startswith("shard 7: NUTS 90% (warmup 100%, sampling 80%)")


def test_progress_without_callbacks_for_a_long_time_still_reports(caplog):
    """A slow run whose chains report in small steps logs at least every 30 s."""
    clock = FakeClock()
    progress = Progress("shard 0", 1, 1000, 1000, clock=clock)
    with caplog.at_level(logging.INFO, logger="homodyne.cmc.progress"):
        clock.now = 10.0
        progress.update(0, 10)  # 0.5 %: nothing yet
        clock.now = 45.0
        progress.update(0, 30)  # 1.5 %, but 45 s since the start
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["shard 0: NUTS 2% (warmup 3%, sampling 0%), 1 chain(s), 0.67 draws/s, "
                     "ETA 49 min 15 s"]


def test_version(capsys):
    from homodyne import __version__
    from homodyne.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"homodyne {__version__}"


def _typo_config(tmp_path):
    text = (ROOT / "config/config.yaml").read_text()
    assert "\n  warmup:" in text and "\nanalysis:" in text
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("\n  warmup:", "\n  warmpu:").replace(
        "\nanalysis:", "\nanalysis:\n  dt_s: 0.1"))
    return path


def test_unknown_keys_get_the_closest_valid_key(tmp_path):
    """`homodyne validate` names the file and each unknown key with the closest valid key, or
    the valid keys when none is close; no schema text."""
    from homodyne.config import load_config

    path = _typo_config(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "cmc.warmpu: unknown key; did you mean 'warmup'?" in message
    assert "analysis.dt_s: unknown key; did you mean 'dt'?" in message
    assert len(message.splitlines()) == 3, message


def test_workflow_answers_a_typo_in_one_line_per_key(tmp_path):
    """Snakemake stops on the same lines, before its own schema validation prints the
    schema."""
    path = _typo_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s",
                             str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                             "--configfile", str(path), "--cores", "1"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cmc.warmpu: unknown key; did you mean 'warmup'?" in output
    assert "additionalProperties" not in output and "'description'" not in output, output
