"""``vaelab encode RUN INPUT... --out codes.npy``: each input's posterior mean and log-variance (and a sample)."""

from __future__ import annotations

import argparse

from vaelab.cli.options import INPUT_HELP, add_device, add_run, load_run, positive_int, print_paths, progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="posterior mean and log-variance of inputs -> .npy/.npz/.csv/.parquet",
                       description="Write q(z|x)'s mean and log-variance per input (and a draw with --sample), with "
                                   "labels where the input has them. A posterior without a closed form (a flow, two "
                                   "stochastic layers) gets a Monte-Carlo E_q[z|x] and log-variance; the file says "
                                   "which. .npy holds the means (N, D) with OUT.logvar.npy etc. beside it; .csv and "
                                   ".parquet need pandas/pyarrow (pip install 'vaelab[tables]').")
    add_run(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    p.add_argument("--out", required=True, help="codes file: .npy, .npz, .csv or .parquet")
    p.add_argument("--sample", action="store_true", help="also write one draw z ~ q(z|x) per input")
    p.add_argument("--mc-samples", type=positive_int, default=64,
                   help="draws of q for the Monte-Carlo mean of a posterior without a closed form (default 64)")
    p.add_argument("--resize", action="store_true", help="resize images to the model's height x width (bilinear)")
    p.add_argument("--binarize", choices=("none", "threshold"), help="threshold grayscale inputs at 0.5")
    p.add_argument("--data-dir", help="data root for named data sets other than the run's own")
    p.add_argument("--batch-size", type=positive_int, default=500, help="inputs per batch (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample and Monte-Carlo means (default 0)")
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.codes import check_codes_path, encode_specs, write_codes

    check_codes_path(args.out)
    run_ = load_run(args)
    codes = encode_specs(run_, args.inputs, sample=args.sample, samples=args.mc_samples, seed=args.seed,
                         batch_size=args.batch_size, resize=args.resize, binarize=args.binarize,
                         data_dir=args.data_dir, progress=progress_bar(args.quiet, "encoding"))
    print(f"{len(codes)} codes of {codes.mean.shape[1]} dimensions: {codes.posterior}")
    print_paths(write_codes(args.out, codes))
    return 0
