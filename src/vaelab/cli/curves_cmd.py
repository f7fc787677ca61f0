"""``vaelab curves RUN [RUN...]``: train/valid ELBO, reconstruction and KL per epoch; several runs overlaid."""

from __future__ import annotations

import argparse

from vaelab.cli.options import print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curves", help="training curves of one or more runs, overlaid (PNG)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--labels", help="comma-separated legend labels, one per run (default: name and latent size)")
    p.add_argument("--out", help="PNG path (default RUN/curves.png; for several runs, their common folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.errors import ConfigError
    from vaelab.visualisation.curves import save_curves

    labels = None
    if args.labels:
        labels = [s.strip() for s in args.labels.split(",")]
        if len(labels) != len(args.runs):
            raise ConfigError(f"--labels gives {len(labels)} labels for {len(args.runs)} runs (expected one per run)")
    print_paths([save_curves(args.runs, args.out, labels)])
    return 0
