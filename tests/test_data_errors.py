"""Every failure of ``load`` (docs/data-formats.md): right exception family, a message
naming the file, the dataset or key at fault and what to do."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml

from homodyne.config import parse_config
from homodyne.data import load, read_xpcs
from homodyne.data.writers import write_aps_u, write_legacy
from homodyne.errors import ConfigError, DataFormatError, DataQualityError
from homodyne.steps import filter_step, load_step
from homodyne.validate import validate

F = 12
PHI = [0.0, 45.0, 90.0]


def matrix(value: float = 1.0) -> np.ndarray:
    i = np.arange(F)
    return value + 0.1 * np.exp(-np.abs(i[:, None] - i[None, :]) / 3.0)


@pytest.fixture
def aps_u(tmp_path):
    """A valid APS-U file: rings 0.004 and 0.006, three angles each, all bins processed."""
    path = tmp_path / "aps_u.h5"
    write_aps_u(path, q_values=[0.004, 0.006], phi_values=PHI, bins=np.arange(1, 7),
                matrices=[matrix(b) for b in range(1, 7)])
    return path


@pytest.fixture
def legacy(tmp_path):
    path = tmp_path / "legacy.h5"
    write_legacy(path, q_per_bin=[0.005] * 3, phi_per_bin=PHI, matrices=[matrix()] * 3)
    return path


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(DataFormatError, match="no such file") as err:
        load(path, q=0.005, dt=0.1)
    assert str(path) in str(err.value)


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("not hdf5\n")
    with pytest.raises(DataFormatError, match="not an HDF5 file") as err:
        load(path, q=0.005, dt=0.1)
    assert str(path) in str(err.value) and "APS-U or legacy" in str(err.value)


def test_unknown_layout_lists_groups(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as fh:
        fh["entry/data/frames"] = np.zeros(3)
        fh.create_group("entry/instrument")
    with pytest.raises(DataFormatError, match="unknown HDF5 layout") as err:
        load(path, q=0.005, dt=0.1)
    message = str(err.value)
    for expected in (str(path), "/entry/data", "/entry/instrument", "exchange/C2T_all",
                     "xpcs/twotime/processed_bins", "import-matrix"):
        assert expected in message


def test_partial_layout_names_what_is_missing(aps_u):
    with h5py.File(aps_u, "a") as fh:
        del fh["xpcs/twotime/processed_bins"]
    with pytest.raises(DataFormatError, match="looks like the aps-u layout") as err:
        load(aps_u, q=0.004, dt=0.1)
    assert "xpcs/twotime/processed_bins" in str(err.value) and str(aps_u) in str(err.value)


def test_aps_u_bin_count_differs_from_matrix_count(aps_u):
    with h5py.File(aps_u, "a") as fh:
        del fh["xpcs/twotime/correlation_map/c2_00006"]
    with pytest.raises(DataFormatError, match="lists 6 processed bins") as err:
        load(aps_u, q=0.004, dt=0.1)
    assert "xpcs/twotime/correlation_map holds 5 matrices" in str(err.value)


def test_legacy_bin_count_differs_from_matrix_count(legacy):
    with h5py.File(legacy, "a") as fh:
        fh["exchange/C2T_all/extra"] = matrix()
    with pytest.raises(DataFormatError, match="xpcs/dqlist lists 3 bins") as err:
        load(legacy, q=0.005, dt=0.1)
    assert "exchange/C2T_all holds 4 matrices" in str(err.value)


def test_processed_bin_out_of_range(aps_u):
    with h5py.File(aps_u, "a") as fh:
        fh["xpcs/twotime/processed_bins"][5] = 7
    with pytest.raises(DataFormatError, match=r"not 1-based bin numbers in 1\.\.6"):
        load(aps_u, q=0.004, dt=0.1)


def test_non_square_matrix(aps_u):
    with h5py.File(aps_u, "a") as fh:
        del fh["xpcs/twotime/correlation_map/c2_00002"]
        fh["xpcs/twotime/correlation_map/c2_00002"] = np.ones((F, F - 1))
    with pytest.raises(DataFormatError, match="not a square") as err:
        load(aps_u, q=0.004, dt=0.1)
    assert f"correlation_map/c2_00002 has shape ({F}, {F - 1})" in str(err.value)


def test_mismatched_matrix_shapes(legacy):
    with h5py.File(legacy, "a") as fh:
        del fh["exchange/C2T_all/c2_00003"]
        fh["exchange/C2T_all/c2_00003"] = np.ones((F + 2, F + 2))
    with pytest.raises(DataFormatError, match="matrices of different shapes") as err:
        load(legacy, q=0.005, dt=0.1)
    assert f"C2T_all/c2_00003 ({F + 2}, {F + 2})" in str(err.value)


def test_nonfinite_values_report_bins_and_counts(aps_u):
    with h5py.File(aps_u, "a") as fh:
        fh["xpcs/twotime/correlation_map/c2_00005"][2, 3] = np.nan
        fh["xpcs/twotime/correlation_map/c2_00005"][3, 2] = np.inf
        fh["xpcs/twotime/correlation_map/c2_00001"][0, 0] = np.nan  # other ring: ignored
    with pytest.raises(DataQualityError, match="2 non-finite") as err:
        load(aps_u, q=0.006, dt=0.1)
    message = str(err.value)
    assert "bin 5 (phi 45): 2" in message and "bin 4" not in message
    assert "mask_nonfinite: true on the dataset" in message and str(aps_u) in message


def test_mask_nonfinite_fails_when_too_few_frames_remain(aps_u):
    with h5py.File(aps_u, "a") as fh:
        data = fh["xpcs/twotime/correlation_map/c2_00004"]
        for k in (3, 7):
            data[k, :] = np.nan
            data[:, k] = np.nan
    with pytest.raises(DataQualityError, match="only 4 consecutive finite frames"):
        load(aps_u, q=0.006, dt=0.1, mask_nonfinite=True)


def test_q_farther_than_tolerance(aps_u):
    with pytest.raises(DataQualityError, match="within 10%") as err:
        load(aps_u, q=0.0075, dt=0.1)
    message = str(err.value)
    # the fix names the config key (q_tolerance is an argument of load(), not a config key)
    assert "available q: 0.004, 0.006" in message and "datasets[].q" in message
    assert "q_tolerance" not in message
    assert load(aps_u, q=0.0075, dt=0.1, q_tolerance=0.3).q == 0.006


@pytest.mark.parametrize("frames", [(0, 10), (3, F + 1), (5, 8), (10, 4)])
def test_frame_window_outside_data(aps_u, frames):
    with pytest.raises(DataQualityError, match=rf"frames 1\.\.{F}") as err:
        load(aps_u, q=0.004, dt=0.1, frames=frames)
    assert str(frames) in str(err.value) and "at least 5 frames" in str(err.value)


@pytest.mark.parametrize("frames", [(1,), (1.5, 9), "all"])
def test_malformed_frames(aps_u, frames):
    with pytest.raises(ConfigError, match="frames must be"):
        load(aps_u, q=0.004, dt=0.1, frames=frames)


def test_no_angle_left(aps_u):
    with pytest.raises(DataQualityError, match="no angle") as err:
        load(aps_u, q=0.004, dt=0.1, phi_ranges=[[100, 170]])
    assert "angles present: 0, 45, 90" in str(err.value)


def test_malformed_phi_ranges(aps_u):
    with pytest.raises(ConfigError, match="phi_ranges"):
        load(aps_u, q=0.004, dt=0.1, phi_ranges=[[0, 10, 20]])


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), "fast"])
def test_dt_must_be_positive(aps_u, dt):
    with pytest.raises(ConfigError, match="dt must be"):
        load(aps_u, q=0.004, dt=dt)


def test_q_and_tolerance_must_be_valid(aps_u):
    with pytest.raises(ConfigError, match="q must be"):
        load(aps_u, q=-0.004, dt=0.1)
    with pytest.raises(ConfigError, match="q_tolerance"):
        load(aps_u, q=0.004, dt=0.1, q_tolerance=-1)


@pytest.mark.parametrize("masked", [True, False])
def test_mask_nonfinite_in_the_config_reaches_the_run_and_validate(tmp_path, masked):
    """The fix the non-finite message names works from a config: with ``mask_nonfinite:
    true`` the load and filter steps keep the longest finite run and validate accepts the
    dataset; without it both refuse, naming the key."""
    matrices = [matrix(b) for b in range(1, 4)]
    matrices[1][3, 9] = matrices[1][9, 3] = np.nan  # frames 4 and 10 of the 45° angle
    path = write_aps_u(tmp_path / "nan.h5", q_values=[0.006], phi_values=PHI,
                       bins=np.arange(1, 4), matrices=matrices)
    entry = {"name": "d", "file": str(path), "q": 0.006}
    if masked:
        entry["mask_nonfinite"] = True
    raw = {"datasets": [entry], "analysis": {"mode": "static", "dt": 0.1}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    ds = parse_config(raw).dataset("d")
    loaded = load_step(ds, tmp_path / "loaded.h5")
    report = validate(tmp_path / "c.yaml")
    if masked:
        data = read_xpcs(filter_step(ds, loaded, tmp_path / "filtered.h5"))
        assert data.provenance.frames == (1, 9) and data.n_frames == 8  # t = 0 dropped
        assert np.isfinite(data.c2).all() and data.n_phi == 3
        assert report.ok, report.problems
    else:
        with pytest.raises(DataQualityError, match="mask_nonfinite: true on the dataset"):
            filter_step(ds, loaded, tmp_path / "filtered.h5")
        assert any("mask_nonfinite" in p for p in report.problems), report.problems


def test_validate_says_what_mask_nonfinite_left_not_to_set_it_again(tmp_path):
    """A dataset with ``mask_nonfinite: true`` whose finite run is too short: validate gives
    the loader's own refusal (too few finite frames left), as the load step does, not the
    advice to set the key it already sets (validate once loaded the data a second time
    without the key to word the problem)."""
    matrices = [matrix(b) for b in range(1, 4)]
    k = np.arange(F - 1)
    matrices[1][k, k + 1] = matrices[1][k + 1, k] = np.nan  # no two neighbours finite at 45°
    path = write_aps_u(tmp_path / "nan.h5", q_values=[0.006], phi_values=PHI,
                       bins=np.arange(1, 4), matrices=matrices)
    raw = {"datasets": [{"name": "d", "file": str(path), "q": 0.006, "mask_nonfinite": True}],
           "analysis": {"mode": "static", "dt": 0.1}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(DataQualityError, match="consecutive finite frames remain") as refused:
        load_step(parse_config(raw).dataset("d"), tmp_path / "loaded.h5")
    assert validate(tmp_path / "c.yaml").problems == (f"datasets[0] (d): {refused.value}",)


def test_the_load_step_runs_the_data_checks_of_validate(tmp_path, caplog):
    """What Snakemake's start no longer does, each load job does: data no fit can use (a
    matrix stored as c2 - 1) stop the dataset with the check's reason; candidate bad frames
    are logged with the frames_exclude line to add."""
    import logging

    from homodyne.data import simulate

    stored = [matrix(1.0) - 1.0 for _ in PHI]  # c2 - 1: levels off at 0
    bad = write_aps_u(tmp_path / "minus_one.h5", q_values=[0.006], phi_values=PHI,
                      bins=np.arange(1, 4), matrices=stored)
    raw = {"datasets": [{"name": "d", "file": str(bad), "q": 0.006}],
           "analysis": {"mode": "static", "dt": 0.1}}
    with pytest.raises(DataQualityError, match=r"^d: .*levels off at .*add-baseline"):
        load_step(parse_config(raw).dataset("d"), tmp_path / "loaded.h5")
    assert not (tmp_path / "loaded.h5").exists()

    glitch = simulate(tmp_path / "g.h5", mode="static", params={"D0": 2e4, "alpha": -0.3},
                      phi=[0.0, 45.0], n_frames=60, dt=0.1, q=0.006, noise=0.01, seed=1)
    with h5py.File(glitch, "r+") as fh:  # file frames 31-33 (1-based) lose their correlation
        for m in fh["xpcs/twotime/correlation_map"].values():
            values = m[()]
            values[30:33, :] = values[:, 30:33] = 1.0
            m[...] = values
    raw["datasets"] = [{"name": "g", "file": str(glitch), "q": 0.006}]
    with caplog.at_level(logging.WARNING, logger="homodyne.steps"):
        load_step(parse_config(raw).dataset("g"), tmp_path / "g_loaded.h5")
    assert "frames_exclude: [[31, 33]]" in caplog.text
