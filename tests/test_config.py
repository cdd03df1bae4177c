"""Analysis config: schema, defaults, per-dataset overrides, errors naming their key."""

from __future__ import annotations

import pytest
import yaml

from homodyne.config import load_config, parse_config, read_numbers, read_yaml
from homodyne.errors import ConfigError

MINIMAL = {"datasets": [{"name": "d1", "file": "x.h5", "q": 0.0054}], "analysis": {"dt": 0.1}}


def _with(**sections):
    data = {"datasets": [dict(MINIMAL["datasets"][0])], "analysis": {"dt": 0.1}}
    for key, value in sections.items():
        data[key] = value
    return data


def test_defaults_are_filled():
    config = parse_config(MINIMAL)
    ds = config.datasets[0]
    assert ds.analysis.mode == "laminar_flow"
    assert ds.analysis.L == 2.0e6 and ds.analysis.per_angle_mode == "auto"
    assert ds.nlsq.loss == "linear" and ds.nlsq.max_iterations == 200 and ds.nlsq.seed == 42
    assert config.raw["nlsq"]["strategy"] == "auto"
    assert ds.phi_ranges is None and ds.frames is None


def test_yaml_file_with_exponent_floats(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "datasets:\n  - {name: a, file: a.h5, q: 5.4e-3, frames: [1, 50],"
        " phi_ranges: [[-10, 10], [170, -170]]}\n"
        "analysis:\n  mode: static_isotropic\n  dt: 1e-3\n  L: 2.0e6\n"
        "  initial: {D0: 1.0e4}\n  bounds: {D0: [1e2, 1e5], contrast: [0.1, 0.5]}\n"
    )
    ds = load_config(path).datasets[0]
    assert ds.q == 0.0054 and ds.analysis.dt == 1e-3 and ds.analysis.L == 2e6
    assert ds.analysis.mode == "static"  # alias resolved
    assert ds.analysis.initial["D0"] == 1e4
    assert ds.analysis.scaling_bounds("contrast") == (0.1, 0.5)
    assert ds.frames == (1, 50) and ds.phi_ranges == ((-10.0, 10.0), (170.0, -170.0))


def test_numbers_snakemake_reads_as_strings_become_what_homodyne_reads(tmp_path):
    """The same file read by a YAML 1.1 reader (Snakemake's: 5.4e-3, 1e-3, 2.0e6 and
    1e2 stay strings) and then read_numbers, and read by homodyne's reader, is one config:
    every number where the schema expects one (q, dt, L, initial, bounds, sigma), and
    nothing else."""
    text = ("datasets:\n  - {name: a, file: a.h5, q: 5.4e-3, cmc: {shards: 3}}\n"
            "analysis:\n  mode: static\n  dt: 1e-3\n  L: 2.0e6\n  sigma: [1e-3, 2e-3]\n"
            "  initial: {D0: 1.0e4}\n  bounds: {D0: [1e2, 1e5]}\nnlsq: {ftol: 1e-9}\n")
    (tmp_path / "c.yaml").write_text(text)
    snakemakes = yaml.safe_load(text)
    assert snakemakes["analysis"]["L"] == "2.0e6" and snakemakes["nlsq"]["ftol"] == "1e-9"
    assert read_numbers(snakemakes) == read_yaml(tmp_path / "c.yaml")
    assert snakemakes["analysis"]["L"] == "2.0e6"  # the argument is left as it was


def test_strings_that_are_no_numbers_stay_for_the_schema_to_name():
    """``--config`` gives every value inside a mapping as a string: numbers become numbers
    (an integer where one of a oneOf's choices is an integer), the rest stays."""
    data = _with(nlsq={"ftol": "tiny", "seed": "2.5", "loss": "1e3"},
                 cmc={"shards": "3", "shards_per_job": "auto"})
    assert read_numbers(data)["nlsq"] == {"ftol": "tiny", "seed": 2.5, "loss": "1e3"}
    assert read_numbers(data)["cmc"] == {"shards": 3, "shards_per_job": "auto"}
    with pytest.raises(ConfigError) as caught:
        parse_config(read_numbers(data), source="my.yaml")
    message = str(caught.value)
    assert message.startswith("my.yaml: invalid configuration")
    assert "nlsq.ftol: 'tiny' is not of type 'number'" in message
    assert "nlsq.seed: 2.5 is not of type 'integer'" in message
    assert "nlsq.loss: '1e3' is not one of" in message


def test_dataset_overrides_analysis_and_nlsq():
    data = _with(nlsq={"max_iterations": 50})
    data["datasets"].append({"name": "d2", "file": "y.h5", "q": 0.01,
                             "analysis": {"mode": "static", "initial": {"D0": 500.0}},
                             "nlsq": {"loss": "huber"}})
    config = parse_config(data)
    d1, d2 = config.datasets
    assert d1.analysis.mode == "laminar_flow" and d1.nlsq.loss == "linear"
    assert d2.analysis.mode == "static" and d2.analysis.initial == {"D0": 500.0}
    assert d2.nlsq.loss == "huber" and d2.nlsq.max_iterations == 50
    assert config.dataset("d2") is d2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(analysis={"dt": 0.1, "modee": "static"}),
         r"analysis\.modee: unknown key; did you mean 'mode'\?"),
        (_with(analysis={"dt": "fast"}), r"analysis\.dt: 'fast' is not of type 'number'"),
        (_with(analysis={"dt": 0}), r"analysis\.dt: 0 is less than or equal to the minimum"),
        (_with(analysis={"dt": 0.1, "mode": "laminar"}), r"analysis\.mode: 'laminar' is not one"),
        (_with(nlsq={"loss": "l2"}), r"nlsq\.loss: 'l2' is not one of"),
        (_with(nlsq={"max_iterations": 2.5}), r"nlsq\.max_iterations: 2\.5 is not of type"),
        ({"analysis": {"dt": 0.1}}, r"'datasets' is a required property"),
        (_with(analysis={"dt": 0.1, "initial": {"D0": 1e6}}),
         r"analysis\.initial\.D0: initial 1000000\.0 is outside its bounds \[100\.0, 100000\.0\]"),
        (_with(analysis={"dt": 0.1, "bounds": {"alpha": [0.6, 1.0]}}),
         r"analysis\.initial\.alpha: default initial value 0\.5 is outside its bounds"),
        (_with(analysis={"dt": 0.1, "bounds": {"alpha": [1.0, -1.0]}}),
         r"analysis\.bounds\.alpha: lower 1\.0 must be below upper -1\.0"),
        (_with(analysis={"dt": 0.1, "initial": {"gamma": 1.0}}),
         r"analysis\.initial\.gamma: not a parameter of mode 'laminar_flow'"),
        (_with(analysis={"dt": 0.1, "fixed": ["nope"]}), r"analysis\.fixed: 'nope' is not"),
    ],
)
def test_bad_config_names_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data, source="cfg.yaml")


def test_dataset_problems_are_named_and_listed_together():
    data = _with()
    data["datasets"] = [
        {"name": "a", "file": "a.h5", "q": 0.005, "frames": [50, 10]},
        {"name": "a", "file": "b.h5", "q": 0.005,
         "analysis": {"mode": "static", "initial": {"D0": 1.0}}},
        {"name": "bad name", "file": "c.h5", "q": -1},
    ]
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="cfg.yaml")
    text = str(err.value)
    assert text.startswith("cfg.yaml: invalid configuration")
    assert "datasets[2].name" in text and "datasets[2].q" in text
    data["datasets"][2] = {"name": "c", "file": "c.h5", "q": 0.005}
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="cfg.yaml")
    text = str(err.value)
    assert "datasets[0].frames: start 50 is after end 10" in text
    assert "datasets[1].name: 'a' is used more than once" in text
    assert "datasets[1].analysis.initial.D0: initial 1.0 is outside its bounds" in text


def test_unknown_dataset_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="no dataset named 'zz'"):
        parse_config(MINIMAL).dataset("zz")
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)
