"""JAX is configured by one explicit call per job or command, never by importing homodyne."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT

from homodyne.cmc import NLSQEstimate, make_shards
from homodyne.config import AnalysisConfig, CMCConfig
from homodyne.data import load, simulate
from homodyne.physics import compute_c2
from homodyne.problem import build_problem
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


def test_the_public_api_refuses_float32_until_configure_is_called(tmp_path):
    """A script that skips the set-up: every public computing function stops with one error
    naming homodyne.runtime.configure(); after that call the same function computes in
    float64 and matches the reference value to 1e-14."""
    data = simulate(tmp_path / "d.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
                    phi=[0.0, 90.0], n_frames=20, dt=0.1, q=0.008, seed=1)
    loaded = load(data, q=0.008, dt=0.1)
    analysis = AnalysisConfig(mode="static", dt=0.1)
    problem = build_problem(loaded, analysis)
    sd = np.where(problem.free, 0.01 * np.abs(problem.start), 0.0)
    estimate = NLSQEstimate(names=problem.names, values=problem.start, uncertainties=sd,
                            free=problem.free, covariance=np.diag(sd**2),
                            per_angle_effective=problem.scaling.effective)
    shard = make_shards(loaded, estimate, CMCConfig(shards=1), tmp_path / "shards",
                        analysis=analysis)[0]
    out = _python(f"""
        import json
        import numpy as np
        from homodyne import physics, runtime
        from homodyne.cmc import combine, sample_shard
        from homodyne.config import AnalysisConfig, CMCConfig
        from homodyne.data import load
        from homodyne.errors import SetupError
        from homodyne.nlsq import fit

        t, ia, ja = np.arange(5) * 0.1, np.array([[0, 1]]), np.array([[2, 3]])
        args = ("static", [1e4, -0.5, 0.0], t, [0.0])
        calls = {{
            "compute_c2": lambda: physics.compute_c2(*args, q=0.008, dt=0.1),
            "compute_c2_points": lambda: physics.compute_c2_points(*args, [0], [1], [0],
                                                                   q=0.008, dt=0.1),
            "compute_c2_block": lambda: physics.compute_c2_block(*args, ia, ja, q=0.008,
                                                                 dt=0.1),
            "AngleScaling.expand": lambda: physics.angle_scaling(
                "individual", [0.0], np.ones((1, 5, 5)), t).expand([0.3, 1.0]),
            "fit": lambda: fit(load({str(data)!r}, q=0.008, dt=0.1),
                               AnalysisConfig(mode="static", dt=0.1)),
            "sample_shard": lambda: sample_shard({str(shard)!r}, CMCConfig(),
                                                 {str(tmp_path / "post.nc")!r}),
            "combine": lambda: combine([{str(tmp_path / "post.nc")!r}], CMCConfig(),
                                       shard_files=[{str(shard)!r}]),
        }}
        refused = {{}}
        for name, call in calls.items():
            try:
                call()
                refused[name] = "computed"
            except SetupError as exc:
                refused[name] = str(exc)
        runtime.configure(1)
        c2 = physics.compute_c2(*args, q=0.008, dt=0.1)
        print(json.dumps({{"refused": refused, "dtype": str(c2.dtype),
                          "c2": float(c2[0, 1, 3])}}))
    """)
    result = json.loads(out)
    for name, message in result["refused"].items():
        assert "homodyne.runtime.configure()" in message, (name, message)
        assert "float32" in message and name in message
    assert result["dtype"] == "float64"
    configured = compute_c2("static", [1e4, -0.5, 0.0], np.arange(5) * 0.1, [0.0], q=0.008,
                            dt=0.1)
    assert result["c2"] == pytest.approx(float(configured[0, 1, 3]), rel=1e-14)
    assert not (tmp_path / "post.nc").exists()
