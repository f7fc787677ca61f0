"""``vaelab score RUN INPUT...``: anomaly score -log p(x) per input image (table on stdout, CSV file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaelab.cli.figure_opts import add_run, positive_int, print_paths, progress_bar

INPUT_HELP = ("image file (PNG/JPEG), .npy/.npz file, image folder, or NAME:SPLIT[:LABELS] such as digits:test, "
              "binarized-mnist:test, mnist:test:9 or my.npz:valid")
MAX_ROWS = 40  # per-image rows printed; more go to the CSV only


def add_scoring_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=positive_int, default=1000, help="importance samples per image (default 1000)")
    p.add_argument("--limit", type=positive_int, help="score at most N seeded random images of each input")
    p.add_argument("--resize", action="store_true", help="resize images to the model's height x width (bilinear)")
    p.add_argument("--binarize", choices=("none", "threshold"), help="threshold grayscale inputs at 0.5 (for "
                   "models with a Bernoulli likelihood)")
    p.add_argument("--data-dir", help="data root for named data sets other than the run's own (default: the run's "
                   "--data-dir, else $VAELAB_DATA_DIR, else ~/.cache/vaelab/data)")
    p.add_argument("--batch-size", type=positive_int, default=100, help="images per batch (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="default cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def load_run(args: argparse.Namespace):
    import vaelab
    from vaelab.training.loop import resolve_device

    return vaelab.load(args.run, device=resolve_device(args.device))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="anomaly score -log p(x) of inputs (importance sampling), table and CSV",
                       description="Anomaly score = -log p(x) in nats, estimated with k importance samples; higher "
                                   "means less likely under the model.")
    add_run(p)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    add_scoring_options(p)
    p.add_argument("--out", help="CSV path (default RUN/scores.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.evaluation.anomaly import score_specs, write_scores_csv

    run_ = load_run(args)
    sets = score_specs(run_, args.inputs, args.k, resize=args.resize, binarize=args.binarize, limit=args.limit,
                       seed=args.seed, batch_size=args.batch_size, progress=progress_bar(args.quiet),
                       data_dir=args.data_dir)
    rows = sum(len(s.names) for s in sets)
    print(f"anomaly score = -log p(x), nats, k = {args.k} importance samples (higher = less likely)")
    if rows <= MAX_ROWS:
        width = max(len(n) for s in sets for n in s.names)
        print(f"{'image':<{width}}  {'score':>12}")
        for s in sets:
            for name, v in zip(s.names, s.scores):
                print(f"{name:<{width}}  {v:12.2f}")
    width = max(len(s.spec) for s in sets)
    print(f"{'input':<{width}}  {'n':>6}  {'mean':>10}  {'median':>10}  {'min':>10}  {'max':>10}")
    for s in sets:
        m = s.summary()
        print(f"{s.spec:<{width}}  {m['n']:>6}  {m['mean']:10.2f}  {m['median']:10.2f}  {m['min']:10.2f}  "
              f"{m['max']:10.2f}")
    out = Path(args.out) if args.out else Path(args.run) / "scores.csv"
    print_paths([write_scores_csv(out, sets)])
    return 0
