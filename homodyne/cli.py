"""The ``homodyne`` command: run analyses in-process, simulate data, import matrices.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments.  Errors of the
package's own families (:mod:`homodyne.errors`) are printed as one line, without a
traceback, and give exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from homodyne.errors import HomodyneError


def _cmd_demo(args: argparse.Namespace) -> int:
    """Evaluate the laminar-flow model on the demo grid and write it to ``OUTPUT/model.npz``."""
    import numpy as np

    from homodyne import params
    from homodyne.io import write_npz
    from homodyne.physics import compute_c2

    mode = "laminar_flow"
    theta = np.array([1.0e4, -0.5, 10.0, 2.0e-3, 0.0, 0.0, 0.0])
    t = 0.1 * np.arange(1, 201)
    phi = np.linspace(-180.0, 135.0, 8)
    start = time.perf_counter()
    c2 = np.asarray(compute_c2(mode, theta, t, phi, q=0.0054, dt=0.1, contrast=0.3))
    seconds = time.perf_counter() - start
    out = write_npz(Path(args.output) / "model.npz", c2=c2, t=t, phi=phi, params=theta,
                    names=np.array(params.names(mode)))
    print(f"{mode}: c2 of {len(phi)} angles x {len(t)} frames in {seconds:.2f} s -> {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homodyne", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="evaluate the model on the built-in demo grid")
    demo.add_argument("--output", default="results/demo", help="output folder")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HomodyneError as exc:
        print(f"homodyne: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
