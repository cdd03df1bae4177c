"""The ``homodyne`` command: run analyses in-process, simulate data, import matrices.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments.  Errors of the
package's own families (:mod:`homodyne.errors`) are printed as one line, without a
traceback, and give exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from homodyne import params as registry
from homodyne import runtime
from homodyne.errors import HomodyneError


def _parse_params(items: list[str]) -> dict[str, float]:
    """``["D0=1e4", "alpha=0.5"]`` -> ``{"D0": 1e4, "alpha": 0.5}``; ConfigError if malformed."""
    from homodyne.errors import ConfigError

    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name.strip() or number is None:
            raise ConfigError(f"--param expects NAME=VALUE with a number, got {item!r}")
        values[name.strip()] = number
    return values


def _one_or_many(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


def _cmd_simulate(args: argparse.Namespace) -> int:
    """Write a synthetic APS file and its ``<stem>.truth.json``."""
    from homodyne.data import simulate
    from homodyne.data.simulate import truth_path

    out = simulate(
        args.out, mode=args.mode, params=_parse_params(args.param), phi=args.phi,
        n_frames=args.frames, dt=args.dt, q=args.q, L=args.L,
        contrast=_one_or_many(args.contrast), offset=_one_or_many(args.offset),
        noise=args.noise, seed=args.seed, layout=args.layout, half=args.half,
    )
    print(f"{args.mode}: {len(args.phi)} angles x {args.frames} frames -> {out} "
          f"(truth: {truth_path(out)})")
    return 0


def _cmd_import_matrix(args: argparse.Namespace) -> int:
    """Turn bare ``.npy`` matrices (one per angle) into an APS-U file."""
    from homodyne.data import import_matrices

    out = import_matrices(args.matrices, q=args.q, dt=args.dt, phi=args.phi, out=args.out,
                          triangle=args.triangle, add_baseline=args.add_baseline)
    print(f"{len(args.matrices)} matrices at q = {args.q:g} 1/Å -> {out}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """Analyse every configured dataset (or one) in this process, through the workflow's
    steps and files (:mod:`homodyne.runner`).

    ``--method nlsq`` runs the NLSQ steps only; ``both`` adds the CMC steps for datasets with
    ``cmc.enable``.  ``cmc`` is another name for ``both``: the shards take their priors from
    the NLSQ result files, so CMC always runs NLSQ first.  The output folder is locked for the run
    (:mod:`homodyne.lock`): a second run on it refuses instead of overwriting.
    """
    from homodyne.config import load_config
    from homodyne.lock import output_lock

    config = load_config(args.config)
    with output_lock(args.output):  # one writer per output folder
        return _run(args, config)


def _run(args: argparse.Namespace, config) -> int:
    from homodyne import layout, quality, results
    from homodyne.runner import run, without_cmc

    datasets = [config.dataset(args.dataset)] if args.dataset else list(config.datasets)
    log = logging.getLogger(__name__)
    if args.method == "nlsq":
        datasets = [without_cmc(ds) for ds in datasets]
    for ds in datasets:
        if args.method != "nlsq" and not ds.cmc.enable:
            log.warning("%s: cmc.enable is false; CMC skipped", ds.name)
    failed = run(datasets, args.output, plots=config.plots if args.plots else None)
    for ds in datasets:  # the verdict of each dataset, as its analysis_summary.json records it
        summary = results.read_summary(layout.dataset(args.output, ds.name).summary)
        print("\n".join(quality.summary_lines(summary["quality"], ds.name,
                                               quality.method_label(summary.get("cmc")))))
        if summary["quality"]["verdict"] == quality.FAILED and ds.name not in failed:
            failed.append(ds.name)
    if failed:
        print(f"homodyne: results that must not be used (quality failed) for: "
              f"{', '.join(failed)} (results were written; the reasons are printed above and "
              "stored under 'quality' in nlsq_results.json and mcmc_diagnostics.json)",
              file=sys.stderr)
        return 1
    return 0


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="analyse the datasets of a config in this process",
                       description="Fit every dataset of CONFIG (or --dataset NAME) and write "
                       "DIR/<dataset>/nlsq/nlsq_results.{json,npz}, and with --method both "
                       "also DIR/<dataset>/cmc/mcmc_*, through the same steps and files as "
                       "the workflow; the shards are sampled one after another.")
    p.add_argument("config", help="analysis config (YAML)")
    p.add_argument("--method", choices=["nlsq", "both", "cmc"], default="nlsq",
                   help="nlsq: NLSQ only (default); both: NLSQ, then CMC for datasets with "
                   "cmc.enable; cmc: the same run as both (CMC takes its priors from NLSQ)")
    p.add_argument("--jax-cache", metavar="DIR", default=None,
                   help="JAX compilation cache of the CMC shards (default: DIR/.jax_cache)")
    p.add_argument("--dataset", help="only this dataset")
    p.add_argument("--output", default="results", help="output folder (default: results)")
    p.add_argument("--plots", action="store_true",
                   help="draw the figures of the results afterwards (as `homodyne plot`)")
    p.set_defaults(func=_cmd_run)


def _add_simulate(sub) -> None:
    p = sub.add_parser(
        "simulate", help="write a synthetic APS HDF5 file with a known truth",
        description="Evaluate the model on t = dt*(0..frames-1), add Gaussian noise of sd "
        "--noise on the upper triangle (mirrored), write it in an APS layout and the truth "
        "beside it as <stem>.truth.json. The same seed gives the same bytes.")
    p.add_argument("--mode", required=True, help="static, laminar_flow or heterodyne")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set one model parameter (repeat); others take registry defaults")
    p.add_argument("--phi", type=float, nargs="+", required=True, help="angles in degrees")
    p.add_argument("--frames", type=int, required=True, help="frames per matrix")
    p.add_argument("--dt", type=float, required=True, help="frame time (s)")
    p.add_argument("--q", type=float, required=True, help="wavevector (1/Å)")
    p.add_argument("--L", type=float, default=registry.DEFAULT_L, help="stator-rotor gap (Å)")
    p.add_argument("--contrast", type=float, nargs="+", default=[0.3],
                   help="one value or one per angle")
    p.add_argument("--offset", type=float, nargs="+", default=[1.0],
                   help="one value or one per angle")
    p.add_argument("--noise", type=float, default=0.01, help="noise sd per element")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--layout", choices=["aps-u", "legacy"], default="aps-u")
    p.add_argument("--half", choices=["upper", "lower"], default=None,
                   help="store only this triangle (zeros elsewhere), as some exports do")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.set_defaults(func=_cmd_simulate)


def _add_import_matrix(sub) -> None:
    p = sub.add_parser(
        "import-matrix", help="turn bare .npy two-time matrices into an APS-U file",
        description="Write measured c2 matrices (one .npy per angle, all (F, F)) as an APS-U "
        "HDF5 file that `load` reads. A matrix whose two triangles disagree is refused unless "
        "--triangle picks one to mirror; matrices stored as c2 - 1 need --add-baseline 1.0.")
    p.add_argument("matrices", nargs="+", metavar="MATRIX.npy", help="one matrix per angle")
    p.add_argument("--q", type=float, required=True, help="wavevector of the matrices (1/Å)")
    p.add_argument("--dt", type=float, required=True,
                   help="frame time (s); stored for information, `load` takes dt from config")
    p.add_argument("--phi", type=float, nargs="+", default=None,
                   help="angle of each matrix in degrees (default 0 for a single matrix)")
    p.add_argument("--triangle", choices=["upper", "lower"], default=None,
                   help="keep only this triangle (with the diagonal) and mirror it; needed "
                   "when the triangles disagree")
    p.add_argument("--add-baseline", type=float, default=0.0, metavar="VALUE",
                   help="add VALUE to every element, e.g. 1.0 for matrices stored as c2 - 1")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.set_defaults(func=_cmd_import_matrix)


def _cmd_plot(args: argparse.Namespace) -> int:
    """Write every figure that applies to a results folder (see :mod:`homodyne.plots`)."""
    from homodyne.plots import plot_results

    for path in plot_results(args.results, dataset=args.dataset, svg=args.svg):
        print(path)
    return 0


def _add_plot(sub) -> None:
    p = sub.add_parser(
        "plot", help="draw the figures of a results folder",
        description="Write PNG figures (150 dpi) of the NLSQ and, where present, CMC results "
        "of every dataset in RESULTS_DIR to RESULTS_DIR/<dataset>/plots/, and the parameters "
        "across datasets to RESULTS_DIR/plots/datasets_parameters.png. Prints each file.")
    p.add_argument("results", metavar="RESULTS_DIR", help="the --output folder of `run`")
    p.add_argument("--dataset", metavar="NAME", help="only this dataset (no cross-dataset plot)")
    p.add_argument("--svg", action="store_true", help="also write SVG beside each PNG")
    p.set_defaults(func=_cmd_plot)


def _emit(text: str, out: str | None) -> None:
    """Print ``text``, or write it atomically to ``out`` (no half-written config on failure)."""
    if out is None:
        sys.stdout.write(text)
        return
    from homodyne.io import write_atomic

    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {out}")


def _cmd_config(args: argparse.Namespace) -> int:
    """Print or write a commented starting config (see :mod:`homodyne.templates`)."""
    from homodyne.errors import ConfigError
    from homodyne.templates import generate

    if args.mode is None:
        raise ConfigError("`homodyne config` needs --mode (static, laminar_flow or heterodyne), "
                          "or `homodyne config import OLD.yaml` to convert a 2.x config")
    _emit(generate(args.mode, args.datasets), args.out)
    return 0


def _cmd_config_import(args: argparse.Namespace) -> int:
    """Convert a homodyne 2.x config (see :mod:`homodyne.migrate`)."""
    from homodyne.migrate import migrate_file

    migration = migrate_file(args.old)
    _emit(migration.text, args.out)
    if args.out:  # on stdout they head the printed config already
        for note in migration.notes:
            print(f"homodyne: warning: changed: {note}", file=sys.stderr)
        for key in migration.dropped:
            print(f"homodyne: warning: not carried over: {key}", file=sys.stderr)
    return 0


def _add_config(sub) -> None:
    from homodyne.params import MODES

    p = sub.add_parser(
        "config", help="write a commented starting config, or import a 2.x config",
        description="Print (or write with --out) a config for --mode with every key, its "
        "default and its meaning, all parameters of the mode with units, and one dataset entry "
        "per --datasets file (q from the file's first q ring). `homodyne config import OLD.yaml`"
        " converts a homodyne 2.x config instead.")
    p.add_argument("--mode", choices=list(MODES), help="physical model")
    p.add_argument("--datasets", nargs="+", default=[], metavar="FILE.h5",
                   help="HDF5 files, one dataset entry each (name from the file stem)")
    p.add_argument("--out", help="write here (atomically) instead of printing")
    p.set_defaults(func=_cmd_config)
    imp = p.add_subparsers(dest="config_command").add_parser(
        "import", help="convert a homodyne 2.x YAML config",
        description="Convert a homodyne 2.x YAML config. What could not be carried over, and "
        "what changed meaning, is listed at the top of the output (and on stderr with --out).")
    imp.add_argument("old", metavar="OLD.yaml", help="homodyne 2.x config")
    imp.add_argument("--out", help="write here (atomically) instead of printing")
    imp.set_defaults(func=_cmd_config_import)


def _cmd_validate(args: argparse.Namespace) -> int:
    """Check a config and its datasets without fitting (see :mod:`homodyne.validate`)."""
    from homodyne.validate import validate

    report = validate(args.config)
    if report.datasets:
        print(report.table())
    for warning in report.warnings:
        print(f"homodyne: warning: {warning}", file=sys.stderr)
    report.raise_for_problems()
    print(f"{args.config}: valid, {len(report.datasets)} dataset(s)")
    return 0


def _add_validate(sub) -> None:
    p = sub.add_parser(
        "validate", help="check a config and its data files without fitting",
        description="Check CONFIG (schema, parameter names, bounds containing the initial "
        "values) and every dataset (file readable in a known layout, q within tolerance of a "
        "q ring, angles left after phi_ranges, frames in range) on the files' bin tables, "
        "then the data themselves (a stored c2 - 1, contrast, triangles, decay inside the "
        "frame window: see 'Can I trust this fit?' in the README; doubtful data warn). "
        "Prints per dataset the q used, angles, frames, points, the NLSQ strategy and its "
        "estimated peak memory, and the posterior method and shard count. Lists every "
        "problem at once and "
        "exits 2 if there is any.")
    p.add_argument("config", help="analysis config (YAML)")
    p.set_defaults(func=_cmd_validate)


def build_parser() -> argparse.ArgumentParser:
    from homodyne import __version__

    parser = argparse.ArgumentParser(prog="homodyne", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"homodyne {__version__}")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    level.add_argument("-v", "--verbose", action="store_true", help="debug output")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_run(sub)
    _add_simulate(sub)
    _add_import_matrix(sub)
    _add_plot(sub)
    _add_config(sub)
    _add_validate(sub)
    return parser


def _jax_cache(args: argparse.Namespace) -> Path | None:
    """The compilation cache of ``homodyne run`` (the workflow's: ``<output>/.jax_cache``)."""
    if args.command != "run":
        return None
    return Path(args.jax_cache) if args.jax_cache else Path(args.output) / ".jax_cache"


def main(argv: list[str] | None = None) -> int:
    """The command line (``argv`` None: ``sys.argv``; tests pass a list and keep their own
    signal handling)."""
    if argv is None:
        from homodyne import signals

        signals.install()  # Ctrl-C / SIGTERM: one line, exit 128 + signum, no partial file
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stdout, force=True)
    runtime.configure(cache_dir=_jax_cache(args))
    try:
        return args.func(args)
    except HomodyneError as exc:
        print(f"homodyne: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
