"""The problem definition has one home, and the plan of a run is what the run then does."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from homodyne import layout, problem, steps
from homodyne.cmc import make_shards, read_nlsq_estimate, read_shard
from homodyne.config import parse_config
from homodyne.data import exclude_frames, load, simulate, write_xpcs
from homodyne.nlsq import fit
from homodyne.physics import folded_triangle
from homodyne.problem import build_problem, exploration_form, plan, point_mask

PACKAGE = Path(__file__).resolve().parents[1] / "homodyne"
#: What homodyne.problem owns: the problem, the point mask and every decision of the plan.
OWNED = {"Problem", "build_problem", "point_mask", "check_fixed", "exploration_form",
         "choose_strategy", "resolve_shards", "plan", "Plan", "FULL_STRATEGY_MAX_ELEMENTS",
         "EXPLORE_POINTS", "CHUNK_POINTS", "AUTO_MAX_POINTS"}


def _modules():
    """``(path, syntax tree)`` of every module of the package but homodyne/problem.py."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != PACKAGE / "problem.py":
            yield path, ast.parse(path.read_text(), str(path))


def test_the_problem_and_its_decisions_are_defined_in_homodyne_problem_only():
    for path, tree in _modules():
        defined = {n.name for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Name)}
        assert not defined & OWNED, f"{path}: a copy of {sorted(defined & OWNED)}"


def test_every_module_takes_the_problem_from_homodyne_problem():
    """nlsq, the CMC modules, validate and the output writers import the problem and its
    decisions from homodyne.problem (never re-exported by the fitter), the CMC modules
    import nothing of homodyne.nlsq, and only homodyne.problem lays out the point mask."""
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                taken = {a.name for a in node.names} & OWNED
                assert not taken or node.module == "homodyne.problem", (
                    f"{path}: {sorted(taken)} from {node.module}")
                if path.parent.name == "cmc":
                    assert node.module != "homodyne.nlsq", f"{path} imports homodyne.nlsq"
            called = (node.func.id if isinstance(node, ast.Call)
                      and isinstance(node.func, ast.Name) else None)
            assert called != "folded_triangle" or path.parent.name == "physics", (
                f"{path}: its own point layout; use homodyne.problem.point_mask")


def test_the_point_mask_leaves_out_the_pairs_of_excluded_frames():
    ok = np.ones(9, dtype=bool)
    ok[[2, 6]] = False
    ia, ja, mask = point_mask(ok)
    full = folded_triangle(9)[2]
    pairs = {(int(i), int(j)) for i, j in zip(ia[mask], ja[mask], strict=True)}
    assert pairs == {(i, j) for i in range(9) for j in range(i + 1, 9)
                     if i not in (2, 6) and j not in (2, 6)}
    assert int(full.sum()) == 9 * 8 // 2 and not (mask & ~full).any()


@pytest.fixture(scope="module")
def excluded(tmp_path_factory):
    """A dataset of three angles with two bad frames left out, as the load step marks them,
    and its resolved config (``auto`` scaling, three shards)."""
    path = simulate(tmp_path_factory.mktemp("data") / "s.h5", mode="static",
                    phi=[0.0, 60.0, 120.0], n_frames=41, dt=0.1, q=0.0054, seed=5)
    (ds,) = parse_config({
        "datasets": [{"name": "s", "file": str(path), "q": 0.0054,
                      "frames_exclude": [[10, 11]]}],
        "analysis": {"mode": "static", "dt": 0.1, "fixed": ["D_offset"]},
        "cmc": {"shards": 3}}).datasets
    data = exclude_frames(load(ds.file, q=ds.q, dt=ds.analysis.dt), ds.frames_exclude)
    return ds, data


def test_the_plan_has_the_points_and_free_parameters_of_the_problem_the_run_builds(excluded):
    ds, data = excluded
    planned = plan(ds, data.n_phi, data.frame_ok)
    explored = build_problem(data, ds.analysis, exploration_form(ds.analysis, data.n_phi))
    assert planned.n_points == explored.n_points == build_problem(data, ds.analysis).n_points
    assert planned.n_points < data.n_points  # the pairs of frames 10 and 11 are no points
    assert planned.free_names == explored.free_names
    assert planned.n_free == 2 + 2 * 3 and not planned.errors


def test_the_planned_strategy_and_shards_are_what_the_fit_and_the_shard_step_do(
        excluded, tmp_path, monkeypatch):
    """With a strategy threshold this dataset exceeds, the plan and the fit both go chunked:
    they take the decision from the same function and the same constant."""
    ds, data = excluded
    monkeypatch.setattr(problem, "FULL_STRATEGY_MAX_ELEMENTS",
                        plan(ds, data.n_phi, data.frame_ok).n_points)
    planned = plan(ds, data.n_phi, data.frame_ok)
    result = fit(data, ds.analysis, ds.nlsq)
    shards = make_shards(data, result, ds.cmc, tmp_path, analysis=ds.analysis)
    assert planned.strategy == result.strategy == "chunked"
    assert planned.n_shards == len(shards) == 3
    assert planned.n_points == result.n_points


def test_the_plan_names_the_keys_a_run_would_stop_on(excluded):
    ds, data = excluded
    (bad,) = parse_config({
        "datasets": [{"name": "s", "file": str(ds.file), "q": ds.q}],
        "analysis": {"mode": "static", "dt": 0.1, "per_angle_mode": "individual",
                     "fixed": ["contrast"]},
        "cmc": {"shards": 21}}).datasets  # 40 fitted frames: 20 block rows
    planned = plan(bad, data.n_phi, np.ones(data.n_frames, dtype=bool))
    assert set(planned.errors) == {"analysis.fixed", "cmc.shards"}
    assert "'contrast'" in planned.errors["analysis.fixed"]
    assert "at most 20" in planned.errors["cmc.shards"]
    assert (planned.free_names, planned.strategy, planned.nlsq_bytes, planned.n_shards) == (
        None, None, None, None)
    assert planned.n_points == data.n_points


def test_what_follows_the_fit_builds_the_problem_in_the_form_the_fit_settled_on(tmp_path):
    """``auto`` scaling on four angles of different contrast settles on a contrast and
    offset per angle, not the shared pair ``auto`` resolves to without data: the written
    model and the shards (from the fit, and from its result file as the workflow's shard
    step reads it) are built in the fit's form."""
    path = simulate(tmp_path / "s.h5", mode="static", phi=[0.0, 60.0, 120.0, 170.0],
                    n_frames=40, dt=0.1, q=0.0054, contrast=[0.1, 0.3, 0.5, 0.2],
                    offset=[1.0, 1.05, 0.95, 1.1], noise=0.002, seed=1)
    (ds,) = parse_config({"datasets": [{"name": "s", "file": str(path), "q": 0.0054}],
                          "analysis": {"mode": "static", "dt": 0.1},
                          "cmc": {"shards": 2}}).datasets
    data = load(ds.file, q=ds.q, dt=ds.analysis.dt)
    out = layout.dataset(tmp_path / "results", "s")
    filtered = write_xpcs(tmp_path / "filtered.h5", data)
    result = steps.nlsq_step(ds, filtered, out)
    assert result.per_angle_effective == "individual"
    with np.load(out.nlsq_npz) as npz:
        np.testing.assert_allclose(npz["c2_fit"], build_problem(
            data, ds.analysis, "individual").model_matrix(result.values))
    for estimate in (result, read_nlsq_estimate(out.nlsq_json)):
        (first, _) = make_shards(data, estimate, ds.cmc, tmp_path / "shards",
                                 analysis=ds.analysis)
        assert read_shard(first).problem.names == result.names
