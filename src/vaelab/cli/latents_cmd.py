"""``vaelab latents RUN``: posterior means of the test set in 2-D, coloured by label."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_run, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latents", help="map of test-set posterior means coloured by label (PCA or t-SNE for D > 2)")
    add_run(p)
    p.add_argument("--tsne", action="store_true", help="t-SNE instead of PCA (slower)")
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--limit", type=positive_int, default=5000, help="at most this many seeded random examples "
                   "(default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path (default RUN/latents.png, or latents-tsne.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.latents import save_latents

    print_paths([save_latents(args.run, args.out, args.split, args.tsne, args.limit, args.seed)])
    return 0
