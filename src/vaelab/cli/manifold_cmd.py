"""``vaelab manifold RUN``: the decoded inverse-CDF grid of the latent space (Kingma & Welling Fig. 4)."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_run, positive_int, print_paths


def dims_pair(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two latent dimensions like 0,3, got {text!r}") from None
    return a, b


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifold", help="decoded inverse-CDF grid over a 2-D latent or its two most active dims (PNG)")
    add_run(p)
    p.add_argument("--grid", type=positive_int, default=20, help="points per side (default 20)")
    p.add_argument("--dims", type=dims_pair, metavar="A,B", help="latent dimensions to span (default: 0,1 for a "
                   "2-D latent, else the two most active)")
    p.add_argument("--label", type=int, help="a conditional model's class to decode the grid in (default 0)")
    p.add_argument("--out", help="PNG path (default RUN/manifold.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.manifold import save_manifold

    print_paths([save_manifold(args.run, args.out, args.grid, args.dims, label=args.label)])
    return 0
