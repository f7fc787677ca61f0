"""``vaelab decode RUN codes.npy --out images/``: codes back to the decoder mean E[x|z], as PNGs (or table rows)."""

from __future__ import annotations

import argparse

from vaelab.cli.options import add_device, add_run, load_run, positive_int, print_paths


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help="codes (.npy/.npz/.csv/.parquet) -> decoder mean images (PNG + decoded.npy)",
                       description="Decode each code z to E[x|z]: one PNG per code and decoded.npy (N, C, H, W) in "
                                   "--out; a run on a table writes decoded.csv with the run's columns in raw units "
                                   "instead.")
    add_run(p)
    p.add_argument("codes", metavar="CODES", help="codes file written by vaelab encode, or any (N, D) .npy array")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--key", choices=("mean", "sample"), default="mean",
                   help="which codes of an .npz/.csv/.parquet file to decode (default mean)")
    p.add_argument("--label", type=int, help="a conditional model's class for every code (default: the file's labels)")
    p.add_argument("--batch-size", type=positive_int, default=500, help="codes per batch (default 500)")
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.codes import decode_run_codes

    run_ = load_run(args)
    paths = decode_run_codes(run_, args.codes, args.out, key=args.key, label=args.label,
                             batch_size=args.batch_size, quiet=args.quiet)
    if len(paths) > 3:
        print_paths(paths[:2])
        print(f"wrote {len(paths) - 2} more PNG files in {args.out}")
    else:
        print_paths(paths)
    return 0
