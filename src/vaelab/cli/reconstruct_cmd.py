"""``vaelab reconstruct RUN``: test examples above their reconstructions."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_run, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconstruct", help="examples above their reconstructions (PNG)")
    add_run(p)
    p.add_argument("-n", type=positive_int, default=16, help="number of examples (default 16, seeded random)")
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--per-row", type=positive_int, default=8, help="examples per row (default 8)")
    p.add_argument("--seed", type=int, default=0, help="which examples (default 0)")
    p.add_argument("--out", help="PNG path (default RUN/reconstructions.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.reconstructions import save_reconstructions

    print_paths([save_reconstructions(args.run, args.out, args.n, args.split, args.per_row, args.seed)])
    return 0
