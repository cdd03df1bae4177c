"""JAX is configured by one explicit call per job or command, never by importing homodyne."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

from homodyne.runtime import xla_flags


def _python(code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, env={**os.environ, **env}, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_importing_homodyne_changes_no_environment_variable_and_no_jax_setting():
    out = _python("""
        import json, os
        before = dict(os.environ)
        import homodyne, homodyne.cli, homodyne.steps, homodyne.runner, homodyne.validate
        import homodyne.cmc, homodyne.plots, homodyne.nlsq
        import jax
        changed = sorted(k for k in set(before) | set(os.environ)
                         if before.get(k) != os.environ.get(k))
        print(json.dumps({"changed": changed, "x64": jax.config.jax_enable_x64}))
    """, XLA_FLAGS="")
    assert json.loads(out) == {"changed": [], "x64": False}


@pytest.mark.parametrize("threads", [1, 4])
def test_a_job_sees_its_threads_as_devices_whatever_its_parent_set(threads):
    """The parent (Snakemake) leaves XLA_FLAGS with 2 devices behind; a job's configure()
    replaces the inherited count with its own threads."""
    out = _python(f"""
        from homodyne import runtime
        runtime.configure({threads})
        import jax
        print(jax.local_device_count(), jax.numpy.ones(1).dtype)
    """, XLA_FLAGS="--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=2")
    assert out == f"{threads} float64"


def test_xla_flags_replaces_only_the_device_count():
    flags = "--a=1 --xla_force_host_platform_device_count=8 --b"
    assert xla_flags(flags, 3) == "--a=1 --b --xla_force_host_platform_device_count=3"
    assert xla_flags("", 1) == "--xla_force_host_platform_device_count=1"


def test_workflow_jobs_get_their_rule_threads_as_devices(tmp_path):
    """A Snakefile that imports homodyne (as the workflow's common.smk does) runs jobs with
    threads 1 and 4; each job configures JAX from its own threads."""
    script = tmp_path / "devices.py"
    script.write_text(textwrap.dedent("""
        from homodyne import runtime
        runtime.configure(snakemake.threads)
        import jax
        open(snakemake.output[0], "w").write(str(jax.local_device_count()))
    """))
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""
        import homodyne.steps, homodyne.validate
        from homodyne import runtime
        runtime.configure(2)  # what a parent process may have done before starting jobs

        rule all:
            input: "one.txt", "four.txt"

        rule one:
            output: "one.txt"
            threads: 1
            script: "{script}"

        rule four:
            output: "four.txt"
            threads: 4
            script: "{script}"
    """))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "4", "-s",
                             str(tmp_path / "Snakefile"), "--directory", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "one.txt").read_text() == "1"
    assert (tmp_path / "four.txt").read_text() == "4"
