"""Side by side (issue 20): the battery's datasets fitted by a peer package, classified alike.

    .venv/bin/python -P benchmarks/peers.py --peer /work/peers/venv-homodyne/bin/homodyne \
        --data /work/bench/run2 --workdir /work/peers/homodyne [--only 3 5] [--timeout 900]

``--peer`` is the command line entry point of homodyne 2.x (``homodyne``) or of xpcsjax
(``xpcsjax``), each installed in its own virtual environment outside this repository.  For
every ``case_NNN.h5`` of ``--data`` whose ``case_NNN.truth.json`` exists (smallest first), a
copy with each matrix stored as one triangle (:func:`half_stored`) is written, and the
peer's own template (``config/templates/<package>_<mode>.yaml`` in its site-packages) gets
the file, q, dt, the frames and the gap L of the case; phi filtering and stratification are
switched off and plots not asked for (homodyne 2.23.3 draws its NLSQ figures anyway, inside
the wall time); everything else (initial values, bounds, loss) stays
the template's default.  The peer runs its NLSQ (``--method nlsq``) under ``nice``, one case
at a time, with a time limit.  From homodyne's ``nlsq/parameters.json`` (values,
uncertainties) and ``nlsq/convergence_metrics.json`` (status, ``quality_flag``,
``quality_validation_passed``, ``quality_warnings``), or xpcsjax's ``nlsq_result.json``, each
case is classified by :func:`battery.classify`:

* the peer's verdict is ``ok`` when it exited 0, converged, its ``quality_flag`` (set from
  χ²_red) is ``good`` and its quality validation (homodyne only) did not fail; ``failed``
  when it exited non-zero (xpcsjax: 2 = not converged) or wrote no parameters; ``warning``
  otherwise;
* the templates' ``initial_parameters.values: null`` ("null = mid-bounds") makes the NLSQ of
  both homodyne 2.23.3 and xpcsjax 0.1.8 fail (``TypeError: object of type 'NoneType' has no
  len()``), so the mid-bounds values are written out, as the templates document;
* a parameter with an infinite or NaN uncertainty counts as unidentified (skipped); one with
  none at all (``null``, as xpcsjax 0.1.8 writes when its covariance is a placeholder) gets
  an infinite pull: nothing shows it within 4σ;
* a run past the time limit is recorded as ``timeout``, in none of the three classes.

Results accumulate in ``<workdir>/peer_results.json``; the last line prints the counts.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import battery
import h5py
import numpy as np
import yaml

from homodyne.params import DEFAULT_L


def template(peer: Path, mode: str) -> dict:
    """The peer's template of ``mode`` (xpcsjax names its multi-angle static one
    ``static_anisotropic``)."""
    folder = (peer.parent.parent / "lib" / "python*" / "site-packages" / peer.name / "config"
              / "templates")  # the entry point is named after its package
    for name in (mode, f"{mode}_anisotropic"):
        found = sorted(glob.glob(str(folder / f"*_{name}.yaml")))
        if found:
            return yaml.safe_load(Path(found[0]).read_text())
    raise FileNotFoundError(f"no template for {mode} under {folder}")


def write_config(peer: Path, truth: dict, data: Path, work: Path) -> Path:
    cfg = template(peer, truth["mode"])
    with h5py.File(data) as f:
        n = next(iter(f["xpcs/twotime/correlation_map"].values())).shape[-1]
    an = cfg["analyzer_parameters"]
    an.update(dt=truth["dt"], start_frame=1, end_frame=n)
    an["scattering"]["wavevector_q"] = truth["q"]
    an["geometry"]["stator_rotor_gap"] = DEFAULT_L
    cfg["experimental_data"].update(
        file_path=str(data), data_folder_path=str(data.parent) + "/",
        data_file_name=data.name, cache_file_path=str(work) + "/")
    cfg["phi_filtering"]["enabled"] = False
    if "enabled" in cfg["optimization"].get("stratification", {}):
        cfg["optimization"]["stratification"]["enabled"] = False
    cfg.setdefault("plotting", {})["save_plots"] = False
    init = cfg["initial_parameters"]
    if init.get("values") is None:  # "null = mid-bounds", which the peers' NLSQ cannot read
        bounds = {b["name"]: b for b in cfg["parameter_space"]["bounds"]}
        init["values"] = [(bounds[n]["min"] + bounds[n]["max"]) / 2
                          for n in init["parameter_names"]]
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def read_results(out: Path) -> tuple[dict, dict] | None:
    """Parameters ``{name: {value, uncertainty}}`` and the peer's own quality report: from
    xpcsjax's ``nlsq_result.json`` if present, else homodyne's ``nlsq/*.json`` trio."""
    native = sorted(out.rglob("nlsq_result.json"))
    if native:
        d = json.loads(native[0].read_text())
        m = d["metadata"]
        return d["parameters"], {"status": m.get("convergence_status"),
                                 "quality_flag": m.get("quality_flag"), "passed": None,
                                 "warnings": [], "reduced_chi2": m.get("reduced_chi_squared")}
    params = sorted(out.rglob("parameters.json"))
    if not params:
        return None
    folder = params[0].parent
    conv = json.loads((folder / "convergence_metrics.json").read_text())
    analysis = json.loads((folder / "analysis_results_nlsq.json").read_text())
    return json.loads(params[0].read_text())["parameters"], {
        "status": conv["convergence"]["status"], "quality_flag": conv.get("quality_flag"),
        "passed": conv.get("quality_validation_passed"),
        "warnings": conv.get("quality_warnings", []),
        "reduced_chi2": analysis["fit_quality"]["reduced_chi_squared"]}


def half_stored(data: Path, work: Path) -> Path:
    """A copy of ``data`` with every matrix stored as its upper triangle, as APS-U files
    store them: both peers rebuild ``c2 + c2.T`` (diagonal halved) unconditionally, so the
    full symmetric matrices of our simulator would reach their fit doubled."""
    path = work / f"half_{data.name}"
    if not path.exists():
        shutil.copy(data, path)
        with h5py.File(path, "r+") as f:
            for c2 in f["xpcs/twotime/correlation_map"].values():
                m = c2[()]
                if np.array_equal(m, m.T):
                    c2[...] = np.triu(m)
    return path


def run_case(peer: Path, data: Path, work: Path, timeout: float) -> dict:
    truth = json.loads(data.with_suffix(".truth.json").read_text())
    work.mkdir(parents=True, exist_ok=True)
    data = half_stored(data, work)
    config = write_config(peer, truth, data, work)
    cmd = ["nice", "-n", "10", str(peer), "--config", str(config), "--output-format", "json"]
    cmd += (["--output", str(work / "out"), "--no-plot"] if peer.name == "xpcsjax"
            else ["--method", "nlsq", "--output-dir", str(work / "out")])
    began = time.perf_counter()
    with open(work / "peer.log", "w") as log:
        try:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                cwd=work).returncode
        except subprocess.TimeoutExpired:
            rc = None
    return judge(truth, rc, work, time.perf_counter() - began)


def judge(truth: dict, rc: int | None, work: Path, seconds: float) -> dict:
    """Classify the peer's run in ``work`` (exit status ``rc``, None: timed out)."""
    if rc is None:
        return {"class": "timeout", "verdict": "timeout", "peer": "", "pulls": {},
                "seconds": seconds}
    got = read_results(work / "out")
    if got is None or not set(truth["parameters"]) <= set(got[0]):  # no result
        tail = (work / "peer.log").read_text(errors="replace").strip().splitlines()[-3:]
        return {"class": "flagged", "verdict": "failed", "peer": f"exit {rc}: " + " | ".join(tail),
                "pulls": {}, "seconds": seconds}
    params, peer = got
    truth_p = truth["parameters"]
    values = {k: params[k]["value"] for k in truth_p}
    sigma = {k: params[k]["uncertainty"] for k in truth_p}
    # inf/NaN: the peer calls it unidentified (skipped); None: no uncertainty (pull inf)
    unident = [k for k, s in sigma.items() if s is not None and not math.isfinite(s)]
    ok = (peer["quality_flag"] == "good" and peer["passed"] is not False
          and str(peer["status"]).lower() == "converged")
    quality = {"verdict": "failed" if rc else "ok" if ok else "warning",
               "reasons": [{"check": "unidentified", "parameter": k} for k in unident]}
    out = battery.classify(truth_p, values, {k: math.nan if s is None else s
                                             for k, s in sigma.items()}, quality)
    out.update(peer=f"exit={rc} status={peer['status']} quality_flag={peer['quality_flag']}"
               f" validation_passed={peer['passed']}", warnings=peer["warnings"],
               values=values, sigma=sigma, reduced_chi2=peer["reduced_chi2"],
               rel_err={k: (values[k] - t) / abs(t) for k, t in truth_p.items() if t},
               seconds=seconds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", type=Path, required=True, help="the peer's CLI in its venv")
    ap.add_argument("--data", type=Path, default=Path("/work/bench/run2"))
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--only", type=int, nargs="*", help="run only these case indices")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.workdir / "peer_results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    cases = []
    for truth_file in sorted(args.data.glob("case_*.truth.json")):
        index = int(truth_file.name[5:8])
        if args.only is not None and index not in args.only:
            continue
        t = json.loads(truth_file.read_text())
        cases.append((t["n_frames"] ** 2 * len(t["phi"]), index))
    for _, index in sorted(cases):
        data = args.data / f"case_{index:03d}.h5"
        r = run_case(args.peer, data, args.workdir / f"case_{index:03d}", args.timeout)
        results[str(index)] = r
        store.write_text(json.dumps(results, indent=1, default=float))
        worst = max(r["pulls"].items(), key=lambda kv: abs(kv[1]), default=("-", 0.0))
        print(f"case {index:2d} {r['class']:<17} verdict {r['verdict']:<7} worst pull "
              f"{worst[0]} {worst[1]:+.1f}  {r['seconds']:.0f} s  [{r['peer']}]", flush=True)
    counts = {k: sum(r["class"] == k for r in results.values())
              for k in ("recovered", "flagged", "confidently_wrong", "timeout")}
    print(json.dumps({"cases": len(results), **counts}), flush=True)


if __name__ == "__main__":
    main()
