"""``vaelab sample RUN``: a grid of decoded prior samples (decoder mean by default)."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_run, positive_float, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="grid of decoded prior samples z ~ N(0, I) (PNG)",
                       description="Decode z ~ N(0, t^2 I) and write a grid; the title says what is shown.")
    add_run(p)
    p.add_argument("-n", type=positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--temperature", type=positive_float, default=1.0, help="scale of the prior noise (default 1)")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--mean", dest="mean", action="store_true", default=True,
                      help="show the decoder mean E[x|z] (default)")
    show.add_argument("--sample", dest="mean", action="store_false", help="show one draw x ~ p(x|z) per z")
    p.add_argument("--nrow", type=positive_int, help="images per row (default: about square)")
    p.add_argument("--label", type=int, help="a conditional model's class to draw (default: every class in turn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path (default RUN/samples.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.samples import save_samples

    print_paths([save_samples(args.run, args.out, args.n, args.temperature, args.mean, args.seed, args.nrow,
                              args.label)])
    return 0
