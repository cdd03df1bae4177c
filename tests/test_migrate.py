"""`homodyne config import`: homodyne 2.x configs converted, with what was left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homodyne.cli import main
from homodyne.config import parse_config
from homodyne.errors import ConfigError
from homodyne.migrate import migrate, migrate_file

FIXTURE = Path(__file__).parent / "fixtures" / "homodyne2x_laminar_flow.yaml"


@pytest.fixture(scope="module")
def converted():
    migration = migrate_file(FIXTURE)
    return migration, parse_config(yaml.safe_load(migration.text)).datasets[0]


def test_values_are_carried_over(converted):
    _, ds = converted
    a = ds.analysis
    assert ds.name == "C020_shear_0p1"
    assert ds.file == (FIXTURE.parent / "data/C020/C020_shear_0p1.hdf").resolve()
    assert ds.q == 0.0054 and ds.frames == (101, 1100)  # 1-based inclusive in both
    assert ds.phi_ranges == ((-10.0, 10.0), (85.0, 95.0), (170.0, -170.0))
    assert a.mode == "laminar_flow" and a.dt == 0.1 and a.L == 2.0e6
    assert dict(a.initial) == {"D0": 16000.0, "alpha": -1.5, "D_offset": 45.0,
                               "gamma_dot_t0": 0.002, "beta": -0.3, "gamma_dot_t_offset": 0.0,
                               "phi0": 2.5}
    assert a.fixed == ("gamma_dot_t_offset",)
    assert a.bounds["D0"] == (1000.0, 1e5) and a.bounds["phi0"] == (-30.0, 30.0)
    assert a.bounds["contrast"] == (0.0, 1.0) and a.bounds["offset"] == (0.5, 1.5)
    assert a.per_angle_mode == "individual"  # 2.x fits contrast and offset per angle
    n = ds.nlsq
    assert (n.loss, n.max_iterations, n.ftol, n.xtol, n.gtol) == ("soft_l1", 300, 1e-7, 1e-7,
                                                                  1e-7)
    assert (n.multistart, n.seed) == (7, 7)  # 8 starts = the configured one + 7
    c = ds.cmc
    # per_shard_mcmc wins over mcmc, as it did for shards in 2.x
    assert (c.chains, c.warmup, c.samples, c.target_accept) == (2, 500, 1500, 0.85)
    assert (c.max_tree_depth, c.dense_mass, c.shards, c.seed) == (12, True, "auto", 3)


def test_what_is_left_behind_is_listed_at_the_top(converted):
    migration, _ = converted
    dropped = {d.split(":")[0] for d in migration.dropped}
    assert {"performance", "logging", "plotting", "output", "validation",
            "experimental_data.phi_angles_path", "experimental_data.cache_file_path",
            "phi_filtering.tolerance", "optimization.nlsq.x_scale_map",
            "initial_parameters.per_angle_scaling", "optimization.cmc.combination",
            "optimization.mcmc.backend"} <= dropped
    carried = ("analyzer_parameters", "parameter_space.bounds", "experimental_data.data_f",
               "phi_filtering.target_ranges", "optimization.nlsq.loss", "metadata")
    assert not [d for d in dropped if d.startswith(carried)]
    header = migration.text.split("\n\n")[0]
    assert all(f"#   - {d}" in header for d in migration.dropped)
    assert all(f"#   - {n}" in header for n in migration.notes)
    assert any("prior_mu" in n for n in migration.notes)


def test_early_names_null_values_active_parameters_and_file_path():
    old = {
        "analysis_mode": "static_isotropic",
        "analyzer_parameters": {"dt": 0.001, "scattering": {"wavevector_q": 0.01}},
        "experimental_data": {"file_path": "/data/a b.hdf", "data_folder_path": "/data/",
                              "data_file_name": "a b.hdf"},
        "phi_filtering": {"enabled": False, "target_ranges": [{"min_angle": 0, "max_angle": 5}]},
        "initial_parameters": {"parameter_names": ["D0", "alpha", "D_offset"], "values": None,
                               "active_parameters": ["D0", "alpha"]},
        "parameter_space": {"bounds": [{"name": "D0", "min": 100.0, "max": 300.0},
                                       {"name": "gamma_dot_0", "min": 0.0, "max": 1.0}]},
    }
    migration = migrate(old)
    ds = parse_config(yaml.safe_load(migration.text)).datasets[0]
    assert ds.name == "a_b" and str(ds.file) == "/data/a b.hdf"
    assert ds.analysis.mode == "static" and ds.phi_ranges is None and ds.frames is None
    assert ds.analysis.initial["D0"] == 200.0  # 2.x started at mid-bounds
    assert ds.analysis.fixed == ("D_offset",)
    assert not migration.dropped
    assert any("gamma_dot_0" in n and "static" in n for n in migration.notes)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["analyzer_parameters"].pop("dt"), "analyzer_parameters"),
    (lambda d: d.pop("analysis_mode"), "analysis_mode"),
    (lambda d: d["analyzer_parameters"].update(dt=-1.0), "analysis.dt"),
])
def test_unusable_configs_name_the_key(change, message):
    old = yaml.safe_load(FIXTURE.read_text())
    old.pop("analysis_settings")
    change(old)
    with pytest.raises(ConfigError, match=message):
        migrate(old, source="old.yaml")


def test_cli_prints_or_writes_with_warnings(tmp_path, capsys):
    assert main(["config", "import", str(FIXTURE)]) == 0
    printed = capsys.readouterr()
    assert printed.out == migrate_file(FIXTURE).text and not printed.err
    out = tmp_path / "new.yaml"
    assert main(["config", "import", str(FIXTURE), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "homodyne: warning: not carried over: performance" in err
    assert out.read_text(encoding="utf-8") == printed.out


def test_cli_error_exit(tmp_path, capsys):
    bad = tmp_path / "old.yaml"
    bad.write_text("analysis_mode: laminar_flow\n")
    assert main(["config", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homodyne: error:") and "old.yaml" in err and "Traceback" not in err
