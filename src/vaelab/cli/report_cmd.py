"""``vaelab report RUN``: one self-contained HTML file with the run's config, metrics and figures."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_run, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML report of a run (images embedded)")
    add_run(p)
    p.add_argument("--grid", type=positive_int, default=20, help="manifold points per side (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare", nargs="+", metavar="OTHER", default=(),
                   help="other run directories: adds a comparison section (vaelab compare's table and curves)")
    p.add_argument("--out", help="HTML path (default RUN/report.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.report import save_report

    print_paths([save_report(args.run, args.out, seed=args.seed, grid=args.grid, compare=args.compare)])
    return 0
