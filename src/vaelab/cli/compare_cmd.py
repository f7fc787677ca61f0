"""``vaelab compare RUN... [--markdown|--csv]``: one table of runs, overlaid curves, paired significance notes."""

from __future__ import annotations

import argparse

from vaelab.cli.options import print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="table of runs (model, parameters, epochs, time, test ELBO/NLL, active "
                                       "units) and their curves overlaid",
                       description="One row per run, read from its files: test ELBO ± s.e. (results.json); test "
                                   "NLL ± s.e. and active units where vaelab eval has run. Two runs evaluated on the "
                                   "same test images get a paired t-test of their per-image log p(x).")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    fmt.add_argument("--csv", action="store_true", help="print CSV (numbers unformatted)")
    p.add_argument("--curves", help="PNG of the overlaid curves (default: curves.png in the runs' common folder)")
    p.add_argument("--no-curves", action="store_true", help="do not draw the curves")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.runs.compare import compare_runs, csv_table, markdown_table, text_table

    rows, notes = compare_runs(args.runs)
    if args.csv:
        print(csv_table(rows), end="")
    else:
        print(markdown_table(rows, notes) if args.markdown else text_table(rows, notes))
    if not args.no_curves and not args.csv:
        from vaelab.visualisation.curves import save_curves

        print_paths([save_curves(args.runs, args.curves)])
    return 0
