"""`homodyne validate`: config and datasets checked without fitting, every problem at once."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from homodyne.cli import main
from homodyne.cmc import make_shards
from homodyne.config import load_config
from homodyne.data import exclude_frames, load, simulate
from homodyne.migrate import migrate_file
from homodyne.nlsq import fit
from homodyne.problem import AUTO_MAX_POINTS, CHUNK_POINTS, EXPLORE_POINTS
from homodyne.resources import nlsq_peak_bytes
from homodyne.validate import validate

FIXTURE = Path(__file__).parent / "fixtures" / "homodyne2x_laminar_flow.yaml"


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("data") / "s.h5", mode="static",
                    phi=[0.0, 90.0, 180.0], n_frames=41, dt=0.1, q=0.0054, seed=2)


def _peak(strategy, points, free, n_phi, n_frames) -> int:
    """The NLSQ memory estimate with the fit's own chunk and subsample sizes."""
    return nlsq_peak_bytes(strategy, points, free, n_phi, n_frames, chunk_points=CHUNK_POINTS,
                           explore_points=EXPLORE_POINTS)


def _config(path: Path, datasets: list[dict], **sections) -> Path:
    sections.setdefault("analysis", {"mode": "static", "dt": 0.1})
    path.write_text(yaml.safe_dump({"datasets": datasets, **sections}))
    return path


def test_good_config_prints_points_memory_and_shards(tmp_path, data_file, capsys):
    cfg = _config(tmp_path / "c.yaml", [
        {"name": "two", "file": str(data_file), "q": 0.0055, "frames": [1, 31],
         "phi_ranges": [[-10, 100]]},
        {"name": "all", "file": str(data_file), "q": 0.0054},
    ], cmc={"shards": 2})
    report = validate(cfg)
    assert report.ok, report.problems
    two, every = report.datasets
    assert two.q_used == pytest.approx(0.0054) and two.phi == (0.0, 90.0)
    assert two.frames == (1, 31)
    assert two.n_points == 2 * 30 * 29 // 2  # first frame dropped, off-diagonal pairs
    assert two.n_free == 3 + 2 * 2  # static + contrast/offset per angle (auto, < 3 angles)
    assert two.strategy == "full"
    assert two.nlsq_bytes == _peak("full", 870, 7, 2, 30)  # the row's own numbers
    assert two.n_shards == 2
    # auto with 3 angles: at most a contrast and offset per angle (the data may settle on one)
    assert every.n_points == 3 * 40 * 39 // 2 and every.n_free == 3 + 2 * 3
    assert every.n_shards == 2

    assert main(["validate", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "870" in out and "2,340" in out and "full" in out and "valid, 2 dataset(s)" in out


def test_auto_shards_is_one_shard_below_the_limit(tmp_path, data_file):
    cfg = _config(tmp_path / "c.yaml", [{"name": "a", "file": str(data_file), "q": 0.0054}])
    row = validate(cfg).datasets[0]
    assert row.n_points < AUTO_MAX_POINTS["static"] and row.n_shards == 1


def test_too_many_shards_is_a_problem_naming_the_key(tmp_path, data_file):
    cfg = _config(tmp_path / "c.yaml", [{"name": "a", "file": str(data_file), "q": 0.0054}],
                  cmc={"shards": 21})  # 40 frames: 20 block rows
    (problem,) = validate(cfg).problems
    assert problem.startswith("datasets[0].cmc.shards:") and "at most 20" in problem


def test_predictions_equal_what_a_run_does(tmp_path, data_file):
    """Points, free parameters, strategy and shard count as validate predicts them from the
    bin tables are what NLSQ and sharding then do on the same config and the loaded data
    (bad frames left out as the load step does)."""
    cfg = _config(tmp_path / "c.yaml", [
        {"name": "a", "file": str(data_file), "q": 0.0054, "frames": [1, 31],
         "frames_exclude": [[10, 11]]}],
        analysis={"mode": "static", "dt": 0.1, "fixed": ["D_offset"]},
        nlsq={"strategy": "auto"}, cmc={"shards": 3})
    (row,) = validate(cfg).datasets
    (ds,) = load_config(cfg).datasets
    data = exclude_frames(load(ds.file, q=ds.q, dt=ds.analysis.dt, frames=(1, 31)),
                          ds.frames_exclude)
    result = fit(data, ds.analysis, ds.nlsq)
    shards = make_shards(data, result, ds.cmc, tmp_path / "shards", analysis=ds.analysis)
    # per_angle_mode auto with 3 angles: validate predicts the most the search can settle on
    # (a contrast and offset per angle); these data have one contrast, so the fit shares it
    assert row.n_free == 2 + 2 * 3 and int(result.free.sum()) == 2 + 2
    assert (row.n_points, row.strategy, row.n_shards) == (
        result.n_points, result.strategy, len(shards))
    assert row.n_points < 3 * 30 * 29 // 2  # the pairs of frames 10 and 11 are no points
    individual = _config(tmp_path / "i.yaml", [
        {"name": "a", "file": str(data_file), "q": 0.0054, "frames": [1, 31],
         "frames_exclude": [[10, 11]]}],
        analysis={"mode": "static", "dt": 0.1, "fixed": ["D_offset"],
                  "per_angle_mode": "individual"}, cmc={"shards": 3})
    (row,) = validate(individual).datasets
    (ds,) = load_config(individual).datasets
    result = fit(data, ds.analysis, ds.nlsq)
    assert (row.n_points, row.n_free, row.strategy) == (
        result.n_points, int(result.free.sum()), result.strategy)


def test_every_problem_is_listed_at_once(tmp_path, data_file, capsys):
    cfg = _config(tmp_path / "c.yaml", [
        {"name": "gone", "file": str(tmp_path / "missing.h5"), "q": 0.0054},
        {"name": "far", "file": str(data_file), "q": 0.02},
        {"name": "late", "file": str(data_file), "q": 0.0054, "frames": [10, 400]},
        {"name": "narrow", "file": str(data_file), "q": 0.0054, "phi_ranges": [[30, 60]]},
        {"name": "fine", "file": str(data_file), "q": 0.0054},
    ], analysis={"mode": "static", "dt": 0.1, "bogus": 1})
    report = validate(cfg)
    keys = [p.split(":")[0] for p in report.problems]
    assert keys == ["analysis.bogus", "datasets[0].file", "datasets[1].q", "datasets[2].frames",
                    "datasets[3].phi_ranges"]
    assert "bogus" in report.problems[0] and "missing.h5" in report.problems[1]
    assert "nearest 0.0054" in report.problems[2]
    assert report.datasets[4].q_used == pytest.approx(0.0054)
    assert report.datasets[4].n_points is None  # no estimates from an invalid config

    assert main(["validate", str(cfg)]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("homodyne: error:") and "5 problem(s)" in printed.err
    assert all(key in printed.err for key in keys) and "Traceback" not in printed.err
    assert "fine" in printed.out  # the table still shows what could be checked


def test_fixed_names_that_the_angles_do_not_have(tmp_path, data_file):
    cfg = _config(tmp_path / "c.yaml", [{"name": "a", "file": str(data_file), "q": 0.0054}],
                  analysis={"mode": "static", "dt": 0.1, "per_angle_mode": "individual",
                            "fixed": ["contrast"]})
    (problem,) = validate(cfg).problems
    assert problem.startswith("datasets[0].analysis.fixed:") and "'contrast'" in problem


@pytest.mark.parametrize(("text", "message"), [
    (None, "cannot read"), ("a: [", "not valid YAML"), ("- 1\n", "expected a mapping")])
def test_unreadable_configs(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text)
    report = validate(path)
    assert not report.ok and message in report.problems[0] and not report.datasets


#: Measured peak RSS of NLSQ fits (benchmarks/README.md, "NLSQ": the whole process; the
#: dense fits from its table and the paragraph below it, the chunked ones from the global
#: search's measurements there): strategy, points, free parameters, angles, frames, bytes.
MEASURED_NLSQ = {
    "static 3x200 full": ("full", 59_103, 5, 3, 199, 0.41e9),
    "laminar 8x200 full": ("full", 157_608, 9, 8, 199, 0.63e9),
    "laminar 23x1000 full": ("full", 11_488_500, 9, 23, 1000, 10.9e9),
    "laminar 23x1000 chunked": ("chunked", 11_465_523, 17, 23, 999, 1_286_256 * 1024),
    "laminar 23x500 chunked": ("chunked", 2_857_773, 17, 23, 499, 776_992 * 1024),
}


def _library_bytes() -> float:
    """Peak RSS of the NLSQ job on the demo (5 × 60): the libraries, next to no data."""
    with open(Path(__file__).resolve().parents[1] / "benchmarks/memory_peaks.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if (r["case"], r["step"]) == ("demo", "nlsq"))
    return float(row["max_rss_mb"]) * 1e6


@pytest.mark.parametrize("case", MEASURED_NLSQ)
def test_nlsq_memory_estimate_matches_the_measured_peaks(case):
    """What validate prints as NLSQ memory, plus the libraries' own memory, lies within
    -30 %/+25 % of every measured peak, from 60 k points to the dense 11.5 M-point fit
    (10.9 GB) that made large problems chunked."""
    strategy, points, free, n_phi, n_frames, peak = MEASURED_NLSQ[case]
    predicted = _peak(strategy, points, free, n_phi, n_frames) + _library_bytes()
    assert 0.7 <= predicted / peak <= 1.25, f"{case}: {predicted / 1e9:.2f} GB predicted"


def test_imported_2x_config_validates_against_its_data(tmp_path):
    old = yaml.safe_load(FIXTURE.read_text())
    old["analyzer_parameters"].update(start_frame=1, end_frame=30)
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    simulate(tmp_path / "data/C020/C020_shear_0p1.hdf", mode="laminar_flow",
             phi=[0.0, 45.0, 90.0, 180.0], n_frames=30, dt=0.1, q=0.0054, seed=3)
    new = tmp_path / "new.yaml"
    new.write_text(migrate_file(tmp_path / "old.yaml").text)
    report = validate(new)
    assert report.ok, report.problems
    (row,) = report.datasets
    assert row.phi == (0.0, 90.0, 180.0) and row.frames == (1, 30)
    assert row.n_free == 7 - 1 + 2 * 3  # gamma_dot_t_offset fixed; individual scaling
    assert row.n_shards == 1  # 3 * 29 * 28 / 2 points: one shard


@pytest.mark.parametrize("alpha, diagnosed", [(0.0, True), (0.5, False)])
def test_a_stationary_matrix_gets_the_diagnosis_before_any_fit(tmp_path, alpha, diagnosed):
    """A sample whose decay does not change with age (alpha = 0) is diagnosed by validate
    with the remedy a fit's diagnosis gives (fix alpha and D_offset); an ageing one is not.
    D0 = 1e4 decays within the frames (1/e of c2 - 1 at 3.4 s of 12 s), so the ``frames``
    check does not hide the decay times from the diagnosis."""
    path = simulate(tmp_path / "s.h5", mode="static", phi=[0.0], n_frames=120, dt=0.1,
                    q=0.0054, params={"D0": 1.0e4, "alpha": alpha, "D_offset": 0.0},
                    contrast=0.3, noise=0.002, seed=4)
    report = validate(_config(tmp_path / "c.yaml", [{"name": "s", "file": str(path),
                                                     "q": 0.0054}]))
    assert report.ok, report.problems
    found = [w for w in report.warnings if "stationary within noise" in w]
    assert bool(found) is diagnosed, report.warnings
    if diagnosed:
        assert "analysis: {fixed: [alpha, D_offset], initial: {alpha: 0.0, D_offset: 0.0}}" \
            in found[0]
