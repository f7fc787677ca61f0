"""``vaelab interpolate RUN --from I --to J``: decoded latent path between two inputs (PNG strip + GIF)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.options import add_run, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="interpolate between two test examples or image files (PNG + GIF)")
    add_run(p)
    p.add_argument("--from", dest="start", required=True, metavar="I|IMAGE", help="test-split index or image file")
    p.add_argument("--to", dest="end", required=True, metavar="J|IMAGE", help="test-split index or image file")
    p.add_argument("--steps", type=positive_int, default=10, help="decoded points, ends included (default 10)")
    p.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    p.add_argument("--out", help="PNG path; the GIF goes beside it (default RUN/interpolation-I-J.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.visualisation.interpolation import save_interpolation

    out_dir = stem = None
    if args.out:
        out_dir, stem = Path(args.out).parent, Path(args.out).stem
    paths = save_interpolation(args.run, args.start, args.end, args.steps, args.slerp, out_dir, stem)
    print_paths(paths.values())
    return 0
